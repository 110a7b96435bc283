"""Personal-data rules in one place: personal keys, personal value shapes, URL scrubbing, IP masking.

Vendor-neutral: the collector, delivery, the debugger and every vendor module use these same rules.
docs/privacy.md lists every word, shape and parameter below and says why each is there.

No check here costs more than a constant times its input's length, and most cost a constant: a key
longer than MAX_CHECKED_KEY_LENGTH or a value longer than MAX_CHECKED_LENGTH is not read at all and
counts as personal (a value nobody can vouch for is never sent), and the regular expressions that read
the rest only start where a lookbehind allows and repeat character classes the next part cannot
match, so no input makes them backtrack over the same characters twice. tests/unit/test_pii.py checks
hostile values at the longest length that is read (MAX_CHECKED_LENGTH) in well under a hundredth of a
second each, and that a megabyte is refused unread.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote, unquote_plus

# ---- keys ----------------------------------------------------------------------------------------

# A key token equal to one of these names personal data wherever it stands in the key
# (`customer_phone`, `billingAddress`, `client-ip`, `e_mail`).
PERSONAL_WORDS = frozenset(
    [
        "email", "emails", "mail", "phone", "phones", "mobile", "cell", "cellphone", "tel", "telephone", "fax",
        "sms", "whatsapp", "address", "addresses", "addr", "street", "zip", "zipcode", "postal", "postcode",
        "city", "town", "ip", "ipv", "ipaddr", "birth", "birthday", "birthdate", "dob", "bday", "gender", "sex",
        "ssn", "passport", "password", "passwd", "pwd", "passcode", "pin", "otp", "cvv", "cvc", "iban", "token",
        "secret", "session", "credential", "credentials", "auth", "user", "username", "surname", "firstname",
        "lastname", "fullname", "givenname", "familyname", "middlename", "maidenname", "nickname", "lat", "lng",
        "lon", "latitude", "longitude", "geo", "gps", "idfa", "idfv", "gaid", "aaid", "madid", "fbp", "fbc",
        "cookie", "msisdn", "pw", "usr", "nationalid", "taxid", "nino"
    ]
)  # fmt: skip
# Stems found inside the key's letters run together, so keys written without separators are caught
# too (`billingaddress`, `customeremail`, `userpassword`, `sessionid`).
PERSONAL_STEMS = (
    "email", "phone", "address", "street", "postal", "postcode", "zipcode", "password", "passwd", "birth",
    "gender", "surname", "firstname", "lastname", "fullname", "username", "nickname", "secret", "token",
    "session", "passport", "credential", "creditcard", "cardnumber", "latitude", "longitude"
)  # fmt: skip
# Who a value is about: `<qualifier>_<identifier or place>` is personal (`customer_id`, `member_number`,
# `billing_country`), while the qualifier alone is not (`customer_type`, `shipping_method`).
PERSON_QUALIFIERS = frozenset(
    [
        "user", "customer", "client", "member", "account", "buyer", "shopper", "purchaser", "payer", "consumer",
        "subscriber", "visitor", "guest", "contact", "lead", "person", "personal", "profile", "recipient",
        "sender", "holder", "cardholder", "owner", "patient", "employee", "applicant", "student", "passenger",
        "traveler", "traveller", "attendee", "billing", "shipping", "delivery", "mailing", "home", "anonymous",
        "external", "device", "advertising", "national", "tax"
    ]
)  # fmt: skip
QUALIFIED_WORDS = frozenset(
    [
        "id", "ids", "identifier", "number", "no", "nr", "state", "country", "region", "province", "county",
        "location"
    ]
)  # fmt: skip
_QUALIFIED_JOINED = frozenset(q + w for q in PERSON_QUALIFIERS for w in QUALIFIED_WORDS)  # `customerid`
# Personal as the whole key (the old exact-name rule): `state`, `country`... but `player_state` is not.
PLACE_KEYS = frozenset({"state", "country", "province", "county"})
# `<thing>_name` names a thing, not a person (`product_name`, `content_name`, `hotelName`); any other
# name key is a person's (`name`, `first_name`, `billing_name`, `customerName`, `name_on_card`).
NAME_THINGS = frozenset(
    [
        "product", "content", "item", "page", "event", "list", "category", "brand", "campaign", "promotion",
        "promo", "creative", "coupon", "offer", "plan", "package", "tier", "level", "feature", "module",
        "section", "tab", "button", "link", "menu", "screen", "step", "flow", "funnel", "form", "field",
        "attribute", "option", "variant", "sku", "collection", "catalog", "catalogue", "store", "shop", "site",
        "domain", "host", "path", "file", "app", "application", "integration", "source", "medium", "channel",
        "widget", "component", "template", "theme", "tag", "label", "experiment", "test", "course", "lesson",
        "video", "audio", "song", "track", "album", "playlist", "game", "show", "episode", "movie", "article",
        "post", "blog", "topic", "hotel", "airline", "airport", "flight", "route", "destination", "service",
        "subscription", "code"
    ]
)  # fmt: skip
# Keys whose values are identifiers or amounts written in digits: a long digit run there is not read
# as a phone number (the e-mail and IP shapes still apply). Segment e-commerce ids and amounts.
DIGIT_VALUE_KEYS = frozenset(
    [
        "id", "order_id", "checkout_id", "cart_id", "product_id", "sku", "list_id", "booking_id", "event_id",
        "transaction_id", "content_ids", "content_id", "value", "total", "revenue", "price", "subtotal",
        "shipping", "tax", "discount", "predicted_ltv"
    ]
)  # fmt: skip
# Property and query keys repeat across events: their verdicts are memoised.
PERSONAL_KEY_CACHE = 4096
# Longer keys and values are not read: they count as personal. A real property key is a few words,
# a value worth sending as custom_data a line or a paragraph; Relay's own bound (Meta publishes none).
MAX_CHECKED_KEY_LENGTH = 256
MAX_CHECKED_LENGTH = 4096

_CAMEL = re.compile(
    r"(?<=[^\W_])(?=[A-Z][a-z])|(?<=[a-z0-9])(?=[A-Z])|(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])"
)
_SEPARATORS = re.compile(r"[\W_]+")


def key_tokens(key: str) -> tuple[str, ...]:
    """A key's words, lower-cased: camelCase, snake_case, kebab-case, spaces and digits split them.

    `customerPhone2` → ("customer", "phone", "2"); `IPAddress` → ("ip", "address"). Compatibility forms
    (full-width letters) are read as their plain letters; invisible characters separate nothing.
    """
    text = unicodedata.normalize("NFKC", strip_invisible(key))
    return tuple(t for t in _SEPARATORS.split(_CAMEL.sub(" ", text).lower()) if t)


def _personal_name(tokens: tuple[str, ...], index: int) -> bool:
    token = tokens[index]
    stem = token[:-5] if token.endswith("names") else token[:-4]
    if stem:
        return stem not in NAME_THINGS
    return index == 0 or tokens[index - 1] not in NAME_THINGS


@lru_cache(maxsize=PERSONAL_KEY_CACHE)
def is_personal_key(key: str) -> bool:
    """True when a property or query key names personal data (`Customer-Email`, `billing_name`, `client_ip`).

    See the module's tables: a personal word anywhere, a personal stem inside the run-together letters,
    a person qualifier before an identifier or a place, a place as the whole key, or a person's name.
    A key longer than MAX_CHECKED_KEY_LENGTH counts as personal.
    """
    if len(key) > MAX_CHECKED_KEY_LENGTH:
        return True
    tokens = key_tokens(key)
    if not tokens:
        return False
    if len(tokens) == 1 and tokens[0] in PLACE_KEYS:
        return True
    joined = "".join(t for t in tokens if not t.isdigit())
    if any(stem in joined for stem in PERSONAL_STEMS):
        return True
    for i, token in enumerate(tokens):
        if token in PERSONAL_WORDS:
            return True
        if token.endswith(("name", "names")) and _personal_name(tokens, i):
            return True
        if token in _QUALIFIED_JOINED or (
            i and tokens[i - 1] in PERSON_QUALIFIERS and token in QUALIFIED_WORDS
        ):
            return True
    return False


# ---- value shapes --------------------------------------------------------------------------------

# Each pattern can only start where its lookbehind allows (the start of a "word"), and what it repeats
# is a character class the next part cannot match: a failed attempt costs at most the length of the
# word it started, and no word is started twice. A leading character class (or a lookahead on one)
# lets the engine skip to the next candidate character quickly.
_EMAIL = re.compile(r"(?<![^@\s])[^@\s]+@[^@\s]+\.[^@\s]+")
# The fewest digits a phone number has (a subscriber number without its area code).
PHONE_DIGITS_MIN = 7
# 7 to 41 digits joined by at most 3 phone punctuation characters each (`+1 (212) 555-0100`,
# `212.555.0100`), a whole "word"; not a date (`2026-11-26`, `26.11.2026`), which has 8 digits too.
_PHONE = re.compile(
    r"[0-9](?<!\w[0-9])"
    r"(?![0-9]{3}[-/.][0-9]{1,2}[-/.][0-9]{1,2}(?![0-9]))"
    r"(?![0-9]?[-/.][0-9]{1,2}[-/.][0-9]{4}(?![0-9]))"
    r"(?:[\s().\-/]{0,3}[0-9]){6,40}(?!\w)"
)
# Unicode format characters (category Cf, as of Unicode 15.1) and Default_Ignorable_Code_Point
# (DerivedCoreProperties.txt): zero-width space, non-joiner and joiner (U+200B..U+200D), word joiner
# (U+2060), BOM (U+FEFF), soft hyphen (U+00AD), bidi marks, embeddings and isolates (U+200E, U+200F,
# U+202A..U+202E, U+2066..U+2069), variation selectors, Hangul fillers, tags. Invisible when typed or
# pasted, they would change a hash or hide a shape. tests/unit/test_pii.py checks every Cf character of
# the running Python's Unicode database is here.
INVISIBLE = (
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u115f-\u1160\u17b4-\u17b5"
    "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff"
)
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
_PHONE_NUMBER_MIN = 10 ** (PHONE_DIGITS_MIN - 1)
# E.164 numbers have at most 15 digits: a longer JSON integer is not read as a phone.
_PHONE_NUMBER_END = 10**15
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?=[0-9])(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.[0-9])")
_H = "[0-9A-Fa-f]{1,4}"
# The first lookahead after the word-start test is a cheap one: two colons close together.
_IPV6 = re.compile(
    r"(?=[0-9A-Fa-f:])(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)"
    rf"(?:(?:{_H}:){{7}}{_H}"
    rf"|(?:{_H}:){{1,7}}:"
    rf"|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}"
    rf"|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}"
    rf"|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}"
    rf"|:(?::{_H}){{1,7}})"
    r"(?![\w:])"
)


def strip_invisible(value: str) -> str:
    """`value` without invisible characters (INVISIBLE); ASCII text has none and is returned as it is."""
    if value.isascii():
        return value
    return _INVISIBLE.sub("", value)


def _readable(value: object) -> str | None:
    """The text the shape checks read: None for a non-string, or a string too long to read."""
    if not isinstance(value, str) or len(value) > MAX_CHECKED_LENGTH:
        return None
    return strip_invisible(value)


def _email(text: str) -> bool:
    return "@" in text and _EMAIL.search(text) is not None


def _phone(text: str) -> bool:
    return _PHONE.search(text) is not None


def _ip(text: str) -> bool:
    return ("." in text and _IPV4.search(text) is not None) or (
        ":" in text and _IPV6.search(text) is not None
    )


def _too_long(value: object) -> bool:
    return isinstance(value, str) and len(value) > MAX_CHECKED_LENGTH


def has_email(value: object) -> bool:
    """True when `value` is a string holding something shaped like an e-mail address (`x@y.z`), or a
    string longer than MAX_CHECKED_LENGTH (not read: it may hold one)."""
    text = _readable(value)
    return _email(text) if text is not None else _too_long(value)


def has_phone(value: object) -> bool:
    """True when `value` is a string holding a phone-like run: 7+ digits with only phone punctuation
    (white space, `( ) . - /`; a `+` before) between them, standing as a word of its own, not a date;
    or a string longer than MAX_CHECKED_LENGTH."""
    text = _readable(value)
    return _phone(text) if text is not None else _too_long(value)


def has_ip(value: object) -> bool:
    """True when `value` is a string holding an IPv4 (dotted quad) or IPv6 address, or a string longer
    than MAX_CHECKED_LENGTH."""
    text = _readable(value)
    return _ip(text) if text is not None else _too_long(value)


def personal_shape(value: object, *, phone: bool = True) -> bool:
    """True when a string holds an e-mail address, an IP address or (unless `phone` is False) a phone
    number, or is longer than MAX_CHECKED_LENGTH; numbers and other types never do."""
    if type(value) is not str or len(value) > MAX_CHECKED_LENGTH:
        text = _readable(value)
        if text is None:
            return _too_long(value)
    else:  # _readable, written out for the common case (this runs for every text property sent)
        text = value if value.isascii() else _INVISIBLE.sub("", value)
    return (
        ("@" in text and _EMAIL.search(text) is not None)
        or (
            ("." in text and _IPV4.search(text) is not None)
            or (":" in text and _IPV6.search(text) is not None)
        )
        or (phone and _PHONE.search(text) is not None)
    )


def is_personal(key: str, value: object) -> bool:
    """True when a property is personal data: by its key's name, or by the shape of its key or value."""
    return _personal_key_or_shape(key) or personal_value(key, value)


@lru_cache(maxsize=PERSONAL_KEY_CACHE)
def _personal_key_or_shape(key: str) -> bool:
    # Keys repeat across events: both verdicts on the key are memoised together.
    return is_personal_key(key) or personal_shape(key)


def personal_value(key: str, value: object) -> bool:
    """True when the value of property `key` is personal by its shape (`personal_shape`); under one of
    DIGIT_VALUE_KEYS (ids, amounts; `orderId` is `order_id`) a digit run is not read as a phone number.

    A whole JSON number of 7 to 15 digits (E.164's longest) is read as a phone sent as a number
    (`12125550100`), except under DIGIT_VALUE_KEYS."""
    if type(value) is int and _PHONE_NUMBER_MIN <= abs(value) < _PHONE_NUMBER_END:
        return not _digit_key(key)
    return personal_shape(value, phone=not _digit_key(key))


@lru_cache(maxsize=PERSONAL_KEY_CACHE)
def _digit_key(key: str) -> bool:
    return "_".join(key_tokens(key)) in DIGIT_VALUE_KEYS


# ---- URLs ----------------------------------------------------------------------------------------

# Query parameters a URL keeps: campaign tags and the ad platforms' click ids, matched case-insensitively
# and kept byte for byte. utm_* (any key starting with it: Google Analytics' campaign parameters).
CLICK_ID_PARAMETERS = frozenset(
    {
        "fbclid",  # Meta
        "gclid",  # Google Ads
        "gclsrc",  # Google Ads (Search Ads 360 source of the gclid)
        "gbraid",  # Google Ads (iOS app-to-web)
        "wbraid",  # Google Ads (iOS web-to-app)
        "dclid",  # Google Campaign Manager 360 / Display & Video 360
        "msclkid",  # Microsoft Advertising
        "ttclid",  # TikTok
        "li_fat_id",  # LinkedIn
        "twclid",  # X (Twitter)
        "epik",  # Pinterest
        "sccid",  # Snapchat (ScCid)
        "rdt_cid",  # Reddit
        "qclid",  # Quora
        "yclid",  # Yandex Direct
    }
)
CAMPAIGN_PREFIX = "utm_"
# Query parameters read at most (a real landing URL has a handful): bounds the work on a hostile URL.
MAX_READ_PARAMETERS = 256
# The longest marketing parameter name kept (utm_source_platform is 19 characters).
MAX_PARAMETER_NAME = 64
# RFC 1035: a host name is at most 253 characters; a bracketed IPv6 literal and a port fit in 260.
MAX_HOST_LENGTH = 260
# Where the authority ends (WHATWG URL, special schemes: a backslash is a slash).
_AUTHORITY_END = re.compile(r"[/?#\\]")
# Scrubbed URLs memoised, for URLs up to this length (2 KB: most browsers' practical URL limit).
URL_CACHE = 4096
MAX_CACHED_URL = 2048
# A host as browsers send it (a name, IPv4 or [IPv6]) and an optional port; anything else (a space, an
# `@` or `:` left over from a malformed userinfo) makes the URL unusable.
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[^\s\x00-\x1f\x7f@:/?#\[\]\\]+)(?::[0-9]{0,5})?")


def scrub_url(url: str | None) -> str | None:
    """An absolute http(s) URL reduced to scheme, host (and port), path and its marketing parameters.

    Dropped: userinfo (`user:password@`), the fragment, every query parameter but utm_* and the click
    ids of CLICK_ID_PARAMETERS (kept in their order, each byte for byte: fbclid's case and encoding
    never change), a kept parameter whose decoded value holds an e-mail address (or is too long to
    read), a path holding one (the path becomes `/`), and everything after the first
    MAX_READ_PARAMETERS parameters. None when `url` is not an absolute http(s) URL with a host.
    Linear in the URL's length, with a small constant; URLs up to MAX_CACHED_URL characters are memoised.
    """
    if not url:
        return None
    return _scrub_cached(url) if len(url) <= MAX_CACHED_URL else _scrub(url)


def _scrub(url: str) -> str | None:
    url = url.strip()
    head = url[:8].lower()
    start = 8 if head.startswith("https://") else 7 if head.startswith("http://") else 0
    if not start:
        return None
    found = _AUTHORITY_END.search(url, start)
    end = len(url) if found is None else found.start()
    host = url[start:end].rpartition("@")[2]  # the userinfo ends at the last "@" (WHATWG URL)
    if len(host) > MAX_HOST_LENGTH or not _HOST.fullmatch(host):
        return None
    rest = url[end:]
    if "#" in rest:
        rest = rest.partition("#")[0]
    path, question, query = rest.partition("?")
    if ("@" in path or "%" in path) and has_email(unquote(path)):
        path = "/"
    if not question:
        return url[:start] + host + path
    kept = [part for part in query.split("&", MAX_READ_PARAMETERS)[:MAX_READ_PARAMETERS] if _kept(part)]
    return url[:start] + host + path + ("?" + "&".join(kept) if kept else "")


# A visitor's events share their page URLs (often within one batch): scrubbed URLs are memoised.
_scrub_cached = lru_cache(maxsize=URL_CACHE)(_scrub)


def _kept(part: str) -> bool:
    """A marketing parameter: a click id whose decoded value holds no e-mail address, or a campaign tag
    (utm_*, free text a marketer or a sender typed) whose decoded value is not personal by any shape."""
    key, _, value = part.partition("=")
    if len(key) > MAX_PARAMETER_NAME:
        return False
    name = key.lower()
    if name.startswith(CAMPAIGN_PREFIX):
        return not personal_shape(unquote_plus(value))
    if name not in CLICK_ID_PARAMETERS:
        return False
    return not (("@" in value or "%" in value) and has_email(unquote_plus(value)))


def clear_caches() -> None:
    """Forget memoised key verdicts and scrubbed URLs (benchmarks measure cold caches)."""
    for cached in (is_personal_key, _digit_key, _scrub_cached):
        cached.cache_clear()


# ---- IP masking ----------------------------------------------------------------------------------

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def mask_ip(value: str) -> str:
    """IPv4 → /24 network, IPv6 → /48: enough to debug geography, not enough to identify; else "invalid"."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return "invalid"
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
