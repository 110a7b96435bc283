"""A deterministic corpus of SQS message bodies: the sample events with varied, unique users."""

from __future__ import annotations

import copy
import json
import random
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIRST = ["Jane", "John", "María", "Zoë", "Łukasz", "Amélie", "Søren", "Chloé", "Björn", "Anaïs"]
LAST = ["Doe", "Smith", "García", "O'Neil", "Müller", "Dupont", "Nørgaard", "Kowalski", "Rossi", "Brown"]
CITIES = [
    ("London", "GB", "SW1A 1AA", "+44 7911 "),
    ("New York", "US", "10001-1234", "+1 212 2"),
    ("Paris", "FR", "75018", "+33 6 12 "),
    ("Berlin", "DE", "10115", "+49 151 23 "),
]


def bodies(count: int, per_visitor: int = 1, seed: int = 42) -> list[bytes]:
    """`count` compact JSON bodies: website events of the default variant, `per_visitor` events per user.

    Visitors' events are interleaved (as many sessions reach one SQS batch at once).
    """
    rng = random.Random(seed)
    samples = [
        e
        for e in json.loads((ROOT / "events" / "default.json").read_text())
        if e["type"] in ("track", "page") and "app" not in e["context"]
    ]
    out = []
    visitors = max(1, count // per_visitor)
    anon = [f"anon-{rng.getrandbits(64):016x}" for _ in range(visitors)]
    names = [(rng.choice(FIRST), rng.choice(LAST)) for _ in range(visitors)]
    for n in range(count):
        i = n % visitors
        event: dict[str, Any] = copy.deepcopy(samples[n % len(samples)])
        city, country, zp, phone = CITIES[i % len(CITIES)]
        first, last = names[i]
        event["messageId"] = f"bench-{n}"
        event["anonymousId"] = anon[i]
        event["context"]["consent"] = {"categoryPreferences": {"advertising": True}}
        event["context"]["traits"] = {
            "email": f"{first}.{last}.{i}@Example.com".replace("'", ""),
            "phone": f"{phone}{i % 1_000_000:06d}",
            "firstName": first,
            "lastName": last,
            "city": city,
            "postalCode": zp,
            "country": country,
        }
        out.append(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode())
    return out


# ---------------------------------------------------------------------------------------------------------
# The "bar" workload (DESIGN §9): `Order Completed` with two products, full context.traits, six countries'
# international phone formats. Every visitor's phone number, e-mail and ids are new.

BAR_NOW = "2026-11-26T13:00:00Z"  # the clock the transforms use (bench.transform.NOW)
_BAR_NOW_S = 1_795_698_000  # BAR_NOW as Unix seconds
BAR_URL = "https://shop.example.com/checkout/thank-you"
BAR_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
)
BAR_DOMAINS = ("Example.com", "gmail.com", "Outlook.COM", "example.co.uk")
# (first, last, the ASCII spelling used in the e-mail address)
BAR_NAMES = (
    ("Jane", "Doe", "jane.doe"),
    ("John", "Smith", "john.smith"),
    ("María", "García", "maria.garcia"),
    ("Zoë", "O'Neil", "zoe.oneil"),
    ("Jean-Luc", "Dupont", "jeanluc.dupont"),
    ("Søren", "Nørgaard", "soren.norgaard"),
    ("Chloé", "Müller", "chloe.muller"),
    ("Hiroshi", "Tanaka", "hiroshi.tanaka"),
    ("Olivia", "Brown", "olivia.brown"),
    ("Anne Marie", "Smith-Jones", "annemarie.smithjones"),
)


# Each takes a visitor's number j < 10,000,000 (a bijection of its index) and gives distinct numbers.
def _phone_us(j: int) -> str:
    return f"+1 ({(212, 646, 415, 310)[j % 4]}) {200 + j // 40_000 % 800:03d}-{j // 4 % 10_000:04d}"


def _phone_gb(j: int) -> str:
    return f"+44 20 7{j // 10_000 % 1000:03d} {j % 10_000:04d}"


def _phone_de(j: int) -> str:
    return f"0049 30 {10_000_000 + j % 90_000_000:08d}"


def _phone_fr(j: int) -> str:
    d = f"{j % 100_000_000:08d}"
    return f"+33 1 {d[0:2]} {d[2:4]} {d[4:6]} {d[6:8]}"


def _phone_jp(j: int) -> str:
    return f"+81-3-{1000 + j // 10_000 % 9000:04d}-{j % 10_000:04d}"


def _phone_au(j: int) -> str:
    return f"+61 2 {9000 + j // 10_000 % 1000:04d} {j % 10_000:04d}"


# country (as sent), currency, cities, postal codes, phone format, two products' prices
BAR_COUNTRIES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], Any, tuple[Any, Any]], ...] = (
    ("US", "USD", ("New York", "San Francisco", "St. Louis"), ("10001-1234", "94103", "63101"), _phone_us, ("19.99", "5")),
    ("GB", "GBP", ("London", "Manchester"), ("SW1A 1AA", "M1 1AE"), _phone_gb, ("19.99", "5")),
    ("DE", "EUR", ("Berlin", "München"), ("10115", "80331"), _phone_de, ("19.99", "5")),
    ("FR", "EUR", ("Paris", "Aix-en-Provence"), ("75018", "13100"), _phone_fr, ("19.99", "5")),
    ("JP", "JPY", ("Tokyo", "Osaka"), ("100-0001", "530-0001"), _phone_jp, ("2990", "500")),
    ("AU", "AUD", ("Sydney", "Melbourne"), ("2000", "3000"), _phone_au, ("29.95", "7.5")),
)  # fmt: skip
BAR_PRODUCTS = (
    ("SKU-1001", "TS-RED-M", "Red T-shirt"),
    ("SKU-2002", "MUG-BLK", "Black mug"),
    ("SKU-3003", "SOCK-3P", "Socks, 3 pairs"),
    ("SKU-4004", "CAP-NVY", "Navy cap"),
)


def _number(text: str) -> int | float:
    """A JSON number for a decimal string: an int when whole, else the float closest to it."""
    from decimal import Decimal

    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def bar_events(count: int, per_visitor: int = 1, seed: int = 7) -> list[dict[str, Any]]:
    """`count` `Order Completed` events, `per_visitor` events per visitor, visitors interleaved.

    Every visitor has their own e-mail, phone number, anonymousId and IP; names, cities and postal
    codes come from small lists (as in real traffic, they repeat across visitors).
    """
    from decimal import Decimal

    rng = random.Random(seed)
    visitors = max(1, count // per_visitor)
    people: list[dict[str, Any]] = []
    for i in range(visitors):
        country, cur, cities, zips, phone, prices = BAR_COUNTRIES[i % len(BAR_COUNTRIES)]
        first, last, ascii_name = BAR_NAMES[rng.randrange(len(BAR_NAMES))]
        c = rng.randrange(len(cities))
        people.append(
            {
                "anonymousId": _uuid(rng),
                "ip": f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                "userAgent": BAR_AGENTS[rng.randrange(len(BAR_AGENTS))],
                "traits": {
                    "email": f"{ascii_name.title()}.{i}@{BAR_DOMAINS[i % len(BAR_DOMAINS)]}",
                    "phone": phone((i // len(BAR_COUNTRIES) * 7919 + 12_345) % 10_000_000),
                    "firstName": first,
                    "lastName": last,
                    "city": cities[c],
                    "country": country,
                    "postalCode": zips[c],
                },
                "currency": cur,
                "prices": prices,
            }
        )
    events = []
    for n in range(count):
        who = people[n % visitors]
        products = []
        revenue = Decimal(0)
        for k, (price, quantity) in enumerate(zip(who["prices"], (2, 1), strict=True)):
            pid, sku, name = BAR_PRODUCTS[(n + 2 * k) % len(BAR_PRODUCTS)]
            revenue += Decimal(price) * quantity
            products.append(
                {"product_id": pid, "sku": sku, "name": name, "price": _number(price), "quantity": quantity}
            )
        shipping = Decimal(("0", "4.99")[n % 2]) if who["currency"] != "JPY" else Decimal(("0", "500")[n % 2])
        stamp = _BAR_NOW_S - rng.randrange(60, 6 * 86_400)
        millis = rng.randrange(1000)
        when = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(stamp))}.{millis:03d}Z"
        events.append(
            {
                "type": "track",
                "event": "Order Completed",
                "messageId": _uuid(rng),
                "anonymousId": who["anonymousId"],
                "timestamp": when,
                "properties": {
                    "order_id": f"ORD-{n + 1:07d}",
                    "total": _number(str(revenue + shipping)),
                    "revenue": _number(str(revenue)),
                    "shipping": _number(str(shipping)),
                    "currency": who["currency"],
                    "products": products,
                },
                "context": {
                    "ip": who["ip"],
                    "userAgent": who["userAgent"],
                    "page": {"url": BAR_URL, "path": "/checkout/thank-you", "title": "Thank you"},
                    "consent": {"categoryPreferences": {"advertising": True, "analytics": True}},
                    "traits": dict(who["traits"]),
                },
            }
        )
    return events


def bar_bodies(count: int, per_visitor: int = 1, seed: int = 7) -> list[bytes]:
    """The bar workload as compact UTF-8 JSON SQS message bodies (what the collector enqueues)."""
    return [
        json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode()
        for e in bar_events(count, per_visitor, seed)
    ]
