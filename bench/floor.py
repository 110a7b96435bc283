"""The floor: hand-written straight-line code for the bar workload, the speed limit for Relay's transform.

orjson + hashlib, no pydantic, no Decimal, no regexes, every constant precomputed. It computes every
normalised value itself (e-mail lower-cased, names without punctuation or white space, phone digits from
the +CC / 00CC forms, city letters only, alpha-2 country, US zip 5 digits, ...) and must produce request
bodies byte-identical to Relay's for the corpus of `bench.corpus.bar_events` (the benchmark asserts it).

It is specialised, not general: it handles `Order Completed` events shaped like the corpus and raises
`OutsideWorkload` for anything else (another event, a page URL with a query, a phone without a country
code, ...) instead of silently differing from Relay. Hashes are memoised per call (a dict per field, new
on every call), as Relay memoises them per warm container; every call starts cold.

Nothing here imports Relay: the floor's CLI (`python -m bench.floor_cli`) pays only for orjson.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import orjson

# Not `from typing import TYPE_CHECKING`: importing `typing` costs a fresh process ≈ 10 ms here, and the
# floor's CLI should pay for nothing it does not use (mypy treats any name TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PIXEL = "1234567890"
MAX_EVENTS_PER_REQUEST = 1_000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_AGE_S = 7 * 86_400
NUMBER_LIMIT = 2**53  # integers at or above this magnitude are sent as floats (as Relay does)

# ISO 3166-1 alpha-2 and ISO 4217 codes (pycountry 26.2.16), precomputed.
_COUNTRY_CODES = (
    "ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw "
    "by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg eh er es et fi "
    "fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in "
    "io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me "
    "mf mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf "
    "pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv "
    "sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug um us uy uz va vc ve vg vi vn vu wf ws ye "
    "yt za zm zw"
)
_CURRENCY_CODES = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF "
    "CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP "
    "GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT "
    "LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR "
    "NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN "
    "SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAD "
    "XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG"
)
COUNTRIES = frozenset(_COUNTRY_CODES.split())
CURRENCIES = frozenset(_CURRENCY_CODES.split())
_WHITE = " \t\n\r\x0b\x0c"
_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
# fn / ln: letters (any script) and digits kept; ASCII punctuation, symbols and white space removed.
_NAME = str.maketrans("", "", _PUNCT + _WHITE)
# ct: letters only.
_CITY = str.maketrans("", "", _PUNCT + _WHITE + "0123456789")
# zp: no white space or dashes.
_ZIP = str.maketrans("", "", _WHITE + "-")
# ph: the separators of international formats.
_PHONE = str.maketrans("", "", " ()-./")

_sha256 = hashlib.sha256
_fromiso = datetime.fromisoformat
_loads = orjson.loads
_dumps = orjson.dumps


class OutsideWorkload(ValueError):
    """An event the floor is not written for (the floor is specialised, not general)."""


def _num(value: Any) -> int | float:
    """A JSON number as Relay emits it: whole numbers as ints (below 2**53), other values as they are."""
    if type(value) is int:
        return value if -NUMBER_LIMIT < value < NUMBER_LIMIT else float(value)
    if type(value) is float:
        return int(value) if value.is_integer() and -NUMBER_LIMIT < value < NUMBER_LIMIT else value
    raise OutsideWorkload("a number is not a JSON number")


def transform(bodies: list[bytes], now_s: int) -> list[bytes]:
    """Meta request bodies for SQS message bodies of the bar workload; `now_s` is the clock in Unix seconds."""
    c_xid: dict[str, str] = {}
    c_em: dict[str, str] = {}
    c_ph: dict[str, str] = {}
    c_fn: dict[str, str] = {}
    c_ln: dict[str, str] = {}
    c_ct: dict[str, str] = {}
    c_zp: dict[tuple[str, str], str] = {}
    c_co: dict[str, tuple[str, str]] = {}
    events: list[dict[str, Any]] = []
    append = events.append
    for body in bodies:
        e = _loads(body)
        if e["type"] != "track" or e["event"] != "Order Completed":
            raise OutsideWorkload("not an Order Completed track event")
        ctx = e["context"]
        if ctx["consent"]["categoryPreferences"].get("advertising") is not True:
            raise OutsideWorkload("no advertising consent")
        props = e["properties"]
        if "event_id" in props or "userId" in e or "fbp" in ctx or "fbc" in ctx:
            raise OutsideWorkload("event_id override, userId or Meta cookies")
        t = ctx["traits"]

        seconds = int(_fromiso(e["timestamp"]).timestamp())
        if now_s - seconds > MAX_AGE_S:
            raise OutsideWorkload("older than 7 days")
        if seconds > now_s:
            seconds = now_s

        page = ctx["page"]
        url = page["url"].strip()
        if "?" in url or "referrer" in page or not url.startswith("https://"):
            raise OutsideWorkload("page URL with a query, a referrer, or not https")

        raw = ctx["ip"].strip()
        if raw.count(".") != 3 or not raw.replace(".", "").isdigit():
            raise OutsideWorkload("not a dotted IPv4 address")
        user: dict[str, Any] = {"client_ip_address": raw, "client_user_agent": ctx["userAgent"].strip()}

        raw = e["anonymousId"]
        if (h := c_xid.get(raw)) is None:
            h = c_xid[raw] = _sha256("".join(raw.lower().split()).encode()).hexdigest()
        user["external_id"] = h

        raw = t["email"]
        if (h := c_em.get(raw)) is None:
            value = raw.strip().lower()
            if "@" not in value or not value.isascii():
                raise OutsideWorkload("not an ASCII e-mail address")
            h = c_em[raw] = _sha256(value.encode()).hexdigest()
        user["em"] = h

        raw = t["phone"]
        if (h := c_ph.get(raw)) is None:
            value = raw.strip().translate(_PHONE)
            if value[0] == "+":
                value = value[1:]
            elif value[:2] == "00":
                value = value[2:]
            else:
                raise OutsideWorkload("a phone number without +CC or 00CC")
            if not (value.isascii() and value.isdigit() and 8 <= len(value) <= 15) or value[0] == "0":
                raise OutsideWorkload("not an international phone number")
            h = c_ph[raw] = _sha256(value.encode()).hexdigest()
        user["ph"] = h

        raw = t["firstName"]
        if (h := c_fn.get(raw)) is None:
            h = c_fn[raw] = _sha256(raw.lower().translate(_NAME).encode()).hexdigest()
        user["fn"] = h

        raw = t["lastName"]
        if (h := c_ln.get(raw)) is None:
            h = c_ln[raw] = _sha256(raw.lower().translate(_NAME).encode()).hexdigest()
        user["ln"] = h

        raw = t["city"]
        if (h := c_ct.get(raw)) is None:
            h = c_ct[raw] = _sha256(raw.lower().translate(_CITY).encode()).hexdigest()
        user["ct"] = h

        raw = t["country"]
        if (pair := c_co.get(raw)) is None:
            country = raw.strip().lower()
            if country not in COUNTRIES:
                raise OutsideWorkload("not an alpha-2 country code")
            pair = c_co[raw] = (country, _sha256(country.encode()).hexdigest())
        country, country_hash = pair

        raw = t["postalCode"]
        if (h := c_zp.get((raw, country))) is None:
            value = raw.strip().lower().translate(_ZIP)
            if country == "us" and value[:5].isdigit() and value[:5].isascii() and len(value) >= 5:
                value = value[:5]
            h = c_zp[(raw, country)] = _sha256(value.encode()).hexdigest()
        user["zp"] = h
        user["country"] = country_hash

        currency = props["currency"].strip().upper()
        if currency not in CURRENCIES:
            raise OutsideWorkload("not an ISO-4217 currency")
        ids = []
        contents = []
        items = 0
        for product in props["products"]:
            pid = product["product_id"].strip()
            quantity = product.get("quantity", 1)
            if type(quantity) is not int or quantity < 0:
                raise OutsideWorkload("a quantity that is not a whole JSON number")
            ids.append(pid)
            contents.append({"id": pid, "quantity": quantity, "item_price": _num(product["price"])})
            items += quantity
        if not ids:
            raise OutsideWorkload("no products")
        append(
            {
                "event_name": "Purchase",
                "event_time": seconds,
                "event_id": e["messageId"].strip(),
                "event_source_url": url,
                "action_source": "website",
                "user_data": user,
                "custom_data": {
                    "currency": currency,
                    "value": _num(props["total"]),
                    "order_id": props["order_id"].strip(),
                    "content_ids": ids,
                    "content_type": "product",
                    "contents": contents,
                    "num_items": items,
                },
            }
        )
    out = []
    for start in range(0, len(events), MAX_EVENTS_PER_REQUEST):
        body = _dumps({"data": events[start : start + MAX_EVENTS_PER_REQUEST]})
        if len(body) > MAX_REQUEST_BYTES:
            raise OutsideWorkload("a request over the byte cap (the floor does not split by size)")
        out.append(body)
    return out


def preview_document(bodies: list[bytes], pixel_id: str = PIXEL) -> bytes:
    """`relay preview --compact`'s document for request bodies, orjson-compact, with the trailing newline."""
    head = b'{"pixel_id":' + _dumps(pixel_id) + b',"body":'
    return b'{"requests":[' + b",".join(head + b + b"}" for b in bodies) + b'],"rejected":[],"skipped":[]}\n'
