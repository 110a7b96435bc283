"""CORS for the collector: a source's `allowed_origins`, with credentials (the cookies are the point).

An allowed origin is echoed (never `*`: credentials forbid it) with `Access-Control-Allow-Credentials`;
any other origin gets no grant at all. `https://*.example.com` allows every subdomain of example.com at
any depth (not example.com itself), scheme and port as written.
"""

from __future__ import annotations

from collections.abc import Iterable

ALLOWED_METHODS = "POST, GET, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, Content-Encoding"
# Browsers cap a preflight's cache (Chromium at 2 hours); an hour keeps origin changes visible soon.
PREFLIGHT_MAX_AGE_S = 3600


def allows(patterns: Iterable[str], origin: str) -> bool:
    """True when `origin` (an Origin header: scheme://host[:port]) matches one of `patterns`."""
    text = origin.strip().lower().rstrip("/")
    if not text or text == "null":
        return False
    for pattern in patterns:
        if pattern == text:
            return True
        scheme, sep, rest = pattern.partition("://*.")
        if sep and text.startswith(scheme + "://"):
            host = text[len(scheme) + 3 :]
            if host.endswith("." + rest) and len(host) > len(rest) + 1:
                return True
    return False


def grant(origin: str) -> dict[str, str]:
    """The headers of an answer to an allowed origin."""
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def preflight(origin: str) -> dict[str, str]:
    """The headers of a preflight answer granting `origin`."""
    return {
        **grant(origin),
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
    }
