"""Static files served by a handler (the collector's df.js, the console's assets): gzipped once when
loaded, an ETag from the content, 304 for a matching If-None-Match, gzip when the client accepts it."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

# Characters of the content's SHA-256 in an ETag and in a hashed file name.
DIGEST_CHARS = 20


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    gzipped: bytes = b""
    digest: str = ""

    @classmethod
    def of(cls, body: bytes, content_type: str) -> Asset:
        digest = hashlib.sha256(body).hexdigest()[:DIGEST_CHARS]
        return cls(body, content_type, gzip.compress(body, 9, mtime=0), digest)

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'


@dataclass(frozen=True, slots=True)
class Served:
    """An answer for an Asset: `gzipped` says the body is gzip (send it base64-encoded)."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    gzipped: bool = False


def serve(
    asset: Asset,
    *,
    method: str,
    headers: Mapping[str, str],
    cache_control: str,
    extra: Mapping[str, str] | None = None,
) -> Served:
    """The answer to GET / HEAD of `asset` for request `headers` (names in lower case): 304 when
    If-None-Match names its ETag, the gzipped body when Accept-Encoding allows gzip, no body for HEAD."""
    out = {
        "Content-Type": asset.content_type,
        "Cache-Control": cache_control,
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        **(extra or {}),
    }
    if _matches(headers.get("if-none-match", ""), asset.etag):
        return Served(304, b"", out)
    head = method.upper() == "HEAD"
    if accepts_gzip(headers.get("accept-encoding", "")):
        return Served(200, b"" if head else asset.gzipped, {**out, "Content-Encoding": "gzip"}, True)
    return Served(200, b"" if head else asset.body, out)


def _matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 §13.1.2): `*`, or any listed tag, `W/` or not."""
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or etag in (t.removeprefix("W/") for t in tags)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether Accept-Encoding allows gzip (`gzip` or `*` without `q=0`; `x-gzip` counts as gzip)."""
    allowed: dict[str, bool] = {}
    for part in accept_encoding.lower().split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        if not coding:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        allowed[coding] = q > 0
    for coding in ("gzip", "x-gzip"):
        if coding in allowed:
            return allowed[coding]
    return allowed.get("*", False)
