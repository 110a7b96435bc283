"""Browser and click identifiers: Meta's `_fbp` / `_fbc` values and the fbclid they come from.

Format (Meta's fbp-and-fbc page): `fb.{subdomain_index}.{creation_time_ms}.{payload}`, optionally followed
by the Parameter Builder Library's appendix as a 5th segment. The fbclid is case-sensitive and is never
decoded, re-encoded or case-folded.

Validation follows Meta's parameter builder (capi-param-builder, PB-node `_preprocessCookie`): 4 or 5
dot-separated segments; `fb`, then a decimal subdomain index, then a decimal creation time, then a non-empty
payload; a 5th segment only if it is a valid appendix (see `valid_appendix`). Relay is stricter in two
places: the payload must be base64url characters (what fbclids and fbp random numbers are made of), and an
8-character appendix must decode to the builder's own byte layout, where the builder checks only its length.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import random
import re

# Meta: "If you're generating this field on a server, and not saving a cookie, use the value 1."
SERVER_SUBDOMAIN_INDEX = 1
# PB-py: random.randint(0, 2147483647) for the fbp payload.
FBP_RANDOM_MAX = 2_147_483_647

_COOKIE = re.compile(
    r"fb\.(?P<index>[0-9]+)\.(?P<ms>[0-9]+)\.(?P<payload>[A-Za-z0-9_\-]+)(?:\.(?P<appendix>[A-Za-z0-9_\-]+))?"
)
_FBCLID = re.compile(r"[?&]fbclid=([^&#]+)")
_BASE64URL_8 = re.compile(r"[A-Za-z0-9_\-]{8}")

# The parameter builder's appendix. Legacy v1: a 2-character language token. v2: 8 base64url characters
# encoding 6 bytes [format 0x01, language, type, major, minor, patch].
APPENDIX_LANGUAGE_TOKENS = frozenset({"AQ", "Ag", "Aw", "BA", "BQ", "Bg"})  # base64 of bytes 0x01..0x06
APPENDIX_FORMAT = 0x01
# 0x01 PHP, 0x02 Python, 0x03 Java, 0x04 Node.js, 0x05 Ruby, 0x06 client-side JavaScript
APPENDIX_LANGUAGES = frozenset(range(0x01, 0x07))
# 0x00 no change, 0x01 general new, 0x02 net new, 0x03 modified new
APPENDIX_TYPES = frozenset(range(0x00, 0x04))


def valid_appendix(segment: str) -> bool:
    """True for a parameter-builder appendix: a v1 language token, or a v2 8-character base64url value
    whose 6 bytes have format 0x01, a known language byte and a known type byte (any version)."""
    if len(segment) == 2:
        return segment in APPENDIX_LANGUAGE_TOKENS
    if _BASE64URL_8.fullmatch(segment) is None:
        return False
    try:
        data = base64.b64decode(segment, altchars=b"-_", validate=True)  # 8 characters: exactly 6 bytes
    except binascii.Error:
        return False
    return data[0] == APPENDIX_FORMAT and data[1] in APPENDIX_LANGUAGES and data[2] in APPENDIX_TYPES


def valid_cookie(value: str | None) -> str | None:
    """`value` stripped if it is a well-formed fbp/fbc (4 segments, or 5 with a valid appendix), else None."""
    if not value:
        return None
    value = value.strip()
    match = _COOKIE.fullmatch(value)
    if match is None or (match["appendix"] is not None and not valid_appendix(match["appendix"])):
        return None
    return value


def cookie_payload(value: str) -> str | None:
    """The payload segment (fbclid for fbc, random number for fbp) of a valid cookie value."""
    if valid_cookie(value) != value:
        return None
    match = _COOKIE.fullmatch(value)
    return match["payload"] if match else None


def fbclid_from_url(url: str | None) -> str | None:
    """The raw fbclid query value of `url` (case and encoding untouched), or None."""
    if not url or "fbclid=" not in url:
        return None
    match = _FBCLID.search(url.split("#", 1)[0])
    return match[1] if match else None


def subdomain_index(domain: str | None) -> int:
    """Meta's subdomainIndex of the domain a cookie is saved on: its dots (`com` 0, `example.com` 1,
    `www.example.com` 2); SERVER_SUBDOMAIN_INDEX when no cookie is saved (None) or the host is an IP
    address (no domain to count)."""
    if not domain:
        return SERVER_SUBDOMAIN_INDEX
    name = domain.strip(".")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name.count(".")
    return SERVER_SUBDOMAIN_INDEX


def new_fbc(fbclid: str, created_ms: int, index: int = SERVER_SUBDOMAIN_INDEX) -> str:
    """`fb.{index}.{created_ms}.{fbclid}`; created_ms is when the fbclid was first seen, in milliseconds."""
    return f"fb.{index}.{created_ms}.{fbclid}"


def new_fbp(created_ms: int, rng: random.Random | None = None, index: int = SERVER_SUBDOMAIN_INDEX) -> str:
    """A fresh browser id `fb.{index}.{created_ms}.{random 31-bit int}` for a visitor without `_fbp`."""
    number = (rng or random.SystemRandom()).randint(0, FBP_RANDOM_MAX)
    return f"fb.{index}.{created_ms}.{number}"


def resolve_fbc(
    cookie: str | None, page_url: str | None, observed_ms: int, index: int = SERVER_SUBDOMAIN_INDEX
) -> str | None:
    """The fbc to send: the cookie's value unless the page URL carries a different fbclid.

    Follows Meta's cookie rule: a new fbc is built when there is no valid fbc (absent, or invalid and
    therefore dropped) and the URL has an fbclid, or when the URL's fbclid differs from the cookie's
    payload (segment 4, so a value with the appendix compares correctly).
    """
    current = valid_cookie(cookie)
    fbclid = fbclid_from_url(page_url)
    if fbclid is None or not re.fullmatch(r"[A-Za-z0-9_\-]+", fbclid):
        return current
    if current is not None and cookie_payload(current) == fbclid:
        return current
    return new_fbc(fbclid, observed_ms, index)
