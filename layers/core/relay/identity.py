"""Browser and click identifiers: Meta's `_fbp` / `_fbc` values and the fbclid they come from.

Format (Meta's fbp-and-fbc page): `fb.{subdomain_index}.{creation_time_ms}.{payload}`, optionally followed
by the Parameter Builder Library's appendix as a 5th segment. The fbclid is case-sensitive and is never
decoded, re-encoded or case-folded.
"""

from __future__ import annotations

import random
import re

# Meta: "If you're generating this field on a server, and not saving a cookie, use the value 1."
SERVER_SUBDOMAIN_INDEX = 1
# PB-py: random.randint(0, 2147483647) for the fbp payload.
FBP_RANDOM_MAX = 2_147_483_647

_COOKIE = re.compile(
    r"^fb\.(?P<index>\d)\.(?P<ms>\d{10,13})\.(?P<payload>[A-Za-z0-9_\-]+)(?:\.(?P<appendix>[A-Za-z0-9_\-]{2,8}))?$"
)
_FBCLID = re.compile(r"[?&]fbclid=([^&#]+)")


def valid_cookie(value: str | None) -> str | None:
    """`value` stripped if it is a well-formed fbp/fbc (4 segments, or 5 with Meta's appendix), else None."""
    if not value:
        return None
    value = value.strip()
    return value if _COOKIE.match(value) else None


def cookie_payload(value: str) -> str | None:
    """The payload segment (fbclid for fbc, random number for fbp) of a valid cookie value."""
    match = _COOKIE.match(value)
    return match["payload"] if match else None


def fbclid_from_url(url: str | None) -> str | None:
    """The raw fbclid query value of `url` (case and encoding untouched), or None."""
    if not url:
        return None
    match = _FBCLID.search(url.split("#", 1)[0])
    return match[1] if match else None


def new_fbc(fbclid: str, created_ms: int) -> str:
    """`fb.1.{created_ms}.{fbclid}`; created_ms is when the fbclid was first seen, in milliseconds."""
    return f"fb.{SERVER_SUBDOMAIN_INDEX}.{created_ms}.{fbclid}"


def new_fbp(created_ms: int, rng: random.Random | None = None) -> str:
    """A fresh browser id `fb.1.{created_ms}.{random 31-bit int}` for a visitor without `_fbp`."""
    number = (rng or random.SystemRandom()).randint(0, FBP_RANDOM_MAX)
    return f"fb.{SERVER_SUBDOMAIN_INDEX}.{created_ms}.{number}"


def resolve_fbc(cookie: str | None, page_url: str | None, observed_ms: int) -> str | None:
    """The fbc to send: the cookie's value unless the page URL carries a different fbclid.

    Follows Meta's cookie rule: a new fbc is built when there is no valid fbc and the URL has an
    fbclid, or when the URL's fbclid differs from the cookie's payload (segment 4, so a value with
    the appendix compares correctly).
    """
    current = valid_cookie(cookie)
    fbclid = fbclid_from_url(page_url)
    if fbclid is None or not re.fullmatch(r"[A-Za-z0-9_\-]+", fbclid):
        return current
    if current is not None and cookie_payload(current) == fbclid:
        return current
    return new_fbc(fbclid, observed_ms)
