"""Personal-data rules in one place: which property keys are personal, e-mail-shaped values, IP masking.

Vendor-neutral: the collector, delivery, the debugger and every vendor module use these same rules.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

# Keys that carry personal data; compared after lower-casing and removing everything but letters.
PERSONAL_KEYS = frozenset(
    [
        "email",
        "emailaddress",
        "mail",
        "phone",
        "phonenumber",
        "mobile",
        "mobilephone",
        "tel",
        "telephone",
        "firstname",
        "lastname",
        "fullname",
        "username",
        "surname",
        "givenname",
        "familyname",
        "address",
        "street",
        "streetaddress",
        "addressline",
        "city",
        "state",
        "zip",
        "zipcode",
        "postcode",
        "postalcode",
        "country",
        "birthday",
        "birthdate",
        "dateofbirth",
        "dob",
        "gender",
        "sex",
        "ssn",
        "password",
        "ip",
        "ipaddress",
        "userid",
        "anonymousid",
    ]
)
_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_NOT_LETTERS = re.compile(r"[^a-z]")
IPV4_PREFIX = 24
# Property and query keys repeat across events: their verdicts are memoised.
PERSONAL_KEY_CACHE = 4096
IPV6_PREFIX = 48


@lru_cache(maxsize=PERSONAL_KEY_CACHE)
def is_personal_key(key: str) -> bool:
    """True when a property or query key names personal data (`Customer-Email`, `billing_phone`...)."""
    return _NOT_LETTERS.sub("", key.lower()) in PERSONAL_KEYS


def has_email(value: object) -> bool:
    """True when `value` is a string that holds something shaped like an e-mail address."""
    return isinstance(value, str) and "@" in value and _EMAIL_LIKE.search(value) is not None


def is_personal(key: str, value: object) -> bool:
    """True when a property is personal data by its key, or a string value that holds an e-mail address."""
    return is_personal_key(key) or has_email(value)


def mask_ip(value: str) -> str:
    """IPv4 → /24 network, IPv6 → /48: enough to debug geography, not enough to identify; else "invalid"."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return "invalid"
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
