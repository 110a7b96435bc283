"""Bearer auth of the admin API: one admin token, compared in constant time, never logged or echoed.

Who made a change is recorded as the token's fingerprint (a prefix of its SHA-256), never the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

SCHEME = "bearer"
# Generated admin tokens: 32 random bytes, URL-safe (256 bits).
TOKEN_BYTES = 32
FINGERPRINT_CHARS = 12


def generate_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def fingerprint(token: str) -> str:
    """A short, stable, non-reversible name for a token (audit lines say who by this)."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:FINGERPRINT_CHARS]


def presented(headers: Mapping[str, str] | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (any header-name case), else None."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == SCHEME and token else None


def matches(candidate: str | None, expected: str) -> bool:
    """True when `candidate` is the admin token; constant time in the token's content."""
    if candidate is None or not expected:
        return False
    return hmac.compare_digest(candidate.encode("utf-8"), expected.encode("utf-8"))
