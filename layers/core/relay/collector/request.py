"""Reading one HTTP API (payload v2) request: headers, cookies, body, write key, client IP, origin."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relay.collector.errors import BadRequest

# Segment's HTTP Tracking API limits: 500 KB per request (batch), 32 KB per event.
MAX_REQUEST_BYTES = 500 * 1024
MAX_EVENT_BYTES = 32 * 1024
# gzip bodies (Content-Encoding: gzip) are read up to the same limit once decompressed.
GZIP_WINDOW = 16 + zlib.MAX_WBITS


@dataclass(frozen=True)
class Request:
    """What the collector reads of one HTTP request."""

    method: str
    path: str
    headers: dict[str, str]
    cookies: dict[str, str]
    source_ip: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def host(self) -> str | None:
        """The host the request was sent to (where a cookie without Domain is saved), without a port."""
        context = self.raw.get("requestContext") or {}
        value = self.headers.get("host") or (
            context.get("domainName") if isinstance(context, Mapping) else None
        )
        return str(value).rsplit(":", 1)[0] if value and not str(value).startswith("[") else None

    @property
    def origin(self) -> str | None:
        """The Origin header (browsers send it with every POST, same-origin or not); None without one."""
        value = self.headers.get("origin", "").strip()
        return value or None


def read(event: Mapping[str, Any]) -> Request:
    """The request in `event`; never raises (the body is decoded later, by `body_bytes`)."""
    http = (event.get("requestContext") or {}).get("http") or {}
    raw_headers = event.get("headers") or {}
    headers = (
        {str(k).lower(): str(v) for k, v in raw_headers.items()} if isinstance(raw_headers, Mapping) else {}
    )
    return Request(
        method=str(http.get("method", "")).upper(),
        path=str(event.get("rawPath") or http.get("path") or ""),
        headers=headers,
        cookies=cookies_of(event, headers),
        source_ip=str(http.get("sourceIp") or ""),
        raw=event,
    )


def cookies_of(event: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, str]:
    """Request cookies: payload v2 lists them in `cookies` (and drops the header); else the Cookie header.
    The first value of a repeated name wins, as browsers send the most specific cookie first."""
    parts: list[str] = []
    listed = event.get("cookies")
    if isinstance(listed, list):
        parts.extend(str(c) for c in listed)
    if "cookie" in headers:
        parts.extend(headers["cookie"].split(";"))
    out: dict[str, str] = {}
    for part in parts:
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in out:
            out[name] = value.strip().strip('"')
    return out


def body_bytes(event: Mapping[str, Any], headers: Mapping[str, str]) -> bytes:
    """The request body as bytes: base64 undone, gzip inflated; at most MAX_REQUEST_BYTES.

    Raises BadRequest naming the limit or the encoding problem.
    """
    body = event.get("body")
    if body is None or body == "":
        raise BadRequest("body: empty; send the event as a JSON object", "invalid_body")
    if not isinstance(body, str):
        raise BadRequest("body: not a JSON document", "invalid_body")
    limit = MAX_REQUEST_BYTES
    if event.get("isBase64Encoded"):
        if len(body) > 2 * limit:  # base64 is 4/3 of the bytes: over the limit without decoding
            raise _too_large()
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("body: not valid base64", "invalid_body") from None
    else:
        data = body.encode("utf-8", "surrogatepass")
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        data = _gunzip(data, limit)
    elif encoding not in ("", "identity"):
        raise BadRequest(f"Content-Encoding: {encoding[:40]} is not supported (gzip is)", "invalid_body")
    if len(data) > limit:
        raise _too_large()
    return data


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(GZIP_WINDOW)
    try:
        out = inflater.decompress(data, limit + 1)  # never more than the limit: no gzip bomb
    except zlib.error:
        raise BadRequest("body: not valid gzip", "invalid_body") from None
    if len(out) > limit:
        raise _too_large()
    return out


def _too_large() -> BadRequest:
    return BadRequest(
        f"request: larger than {MAX_REQUEST_BYTES // 1024} KB (the limit per request)", "request_too_large"
    )


def write_key(headers: Mapping[str, str], body: Mapping[str, Any]) -> str | None:
    """The write key: the HTTP Basic user (password empty), else `writeKey` in the body."""
    auth = headers.get("authorization", "")
    scheme, _, credentials = auth.strip().partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            user = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            user = ""
        key = user.split(":", 1)[0].strip()
        if key:
            return key
    value = body.get("writeKey", body.get("write_key"))
    return value.strip() if isinstance(value, str) and value.strip() else None


def client_ip(request: Request, trusted_hops: int) -> str | None:
    """The visitor's IP: the request's source IP, or — behind `trusted_hops` proxies (CloudFront: 1) —
    the address that many hops from the right of X-Forwarded-For plus the source IP. A forged
    X-Forwarded-For is ignored unless proxies are declared, and then only its trusted end is read."""
    chain = [request.source_ip] if request.source_ip else []
    if trusted_hops > 0:
        forwarded = [p.strip() for p in request.headers.get("x-forwarded-for", "").split(",") if p.strip()]
        if forwarded and forwarded[-1] == request.source_ip:
            forwarded.pop()  # API Gateway may already have appended the source IP
        chain = [*forwarded, *chain]
        chain = chain[-(trusted_hops + 1) :] if len(chain) > trusted_hops else chain
    if trusted_hops > 0:
        # The trusted entry is not an address (`unknown`, a port attached): the visitor's IP is unknown;
        # the source IP would be the proxy's own.
        return _valid_ip(chain[0].strip("[]")) if chain else None
    return _valid_ip(request.source_ip)


def _valid_ip(value: str) -> str | None:
    """`value` itself (an IPv6 address kept as written) when it is an IP address, else None."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return None
    return value
