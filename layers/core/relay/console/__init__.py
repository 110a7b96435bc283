"""The management console's static files, served by the admin API at /console/ (no data: the page asks
the admin API for everything, with the admin token the user types).

`index.html` names its script and style sheet plainly (`console.js`, `console.css`); the served page names
them by content hash under /console/assets/, so they are cached for a year and a new release is fetched
at once. The page itself is revalidated on every load. A strict Content-Security-Policy (nothing inline,
nothing from another origin) and X-Frame-Options: DENY go with every answer.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from relay.static import Asset, Served, serve

PREFIX = "/console"
ASSETS = f"{PREFIX}/assets/"
# The files index.html refers to by plain name; each is served under its hashed name.
REFERENCED = {"console.js": "application/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
_REFERENCE = re.compile(r'(?P<attr>src|href)="(?P<name>console\.(?:js|css))"')


class ConsoleBroken(RuntimeError):
    """index.html does not refer to one of its files by the plain name the server rewrites (a defect)."""


@dataclass(frozen=True)
class Bundle:
    """The page and its assets, by the path each is served at."""

    index: Asset
    assets: Mapping[str, Asset]


def hashed_name(name: str, asset: Asset) -> str:
    """`console.js` → `console.<digest>.js`."""
    stem, _, ext = name.rpartition(".")
    return f"{stem}.{asset.digest}.{ext}"


@cache
def bundle() -> Bundle:
    """The console's files, read and hashed once per process; raises ConsoleBroken (see its doc)."""
    files = resources.files("relay.console").joinpath("static")
    assets = {name: Asset.of(files.joinpath(name).read_bytes(), kind) for name, kind in REFERENCED.items()}
    paths = {name: ASSETS + hashed_name(name, asset) for name, asset in assets.items()}
    page = files.joinpath("index.html").read_text(encoding="utf-8")
    found: set[str] = set()

    def rewrite(match: re.Match[str]) -> str:
        found.add(match["name"])
        return f'{match["attr"]}="{paths[match["name"]]}"'

    page = _REFERENCE.sub(rewrite, page)
    missing = sorted(set(REFERENCED) - found)
    if missing:
        raise ConsoleBroken(f"index.html does not refer to {', '.join(missing)}")
    return Bundle(
        index=Asset.of(page.encode("utf-8"), "text/html; charset=utf-8"),
        assets={paths[name]: asset for name, asset in assets.items()},
    )


def is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def answer(method: str, path: str, headers: Mapping[str, str]) -> dict[str, Any]:
    """The HTTP API (payload v2) answer for a request under /console (`headers` in lower case).

    `/console` and `/console/` are the page (any other path under /console/ but an asset is the page too,
    so a bookmarked deep link loads it); `/console/assets/<name>.<digest>.<ext>` the assets; an unknown
    asset is 404. GET and HEAD are answered, any other method 405 (deployed, API Gateway routes only GET
    here; `relay local serve` passes every method)."""
    if method.upper() not in ("GET", "HEAD"):
        return _v2(Served(405, b"method not allowed\n", {"Allow": "GET, HEAD", **_text()}))
    files = bundle()
    if path.startswith(ASSETS):
        asset = files.assets.get(path)
        if asset is None:
            return _v2(Served(404, b"no such console asset\n", {"Cache-Control": "no-store", **_text()}))
        return _v2(
            serve(asset, method=method, headers=headers, cache_control=IMMUTABLE, extra=SECURITY_HEADERS)
        )
    return _v2(
        serve(files.index, method=method, headers=headers, cache_control=REVALIDATE, extra=SECURITY_HEADERS)
    )


def _text() -> dict[str, str]:
    return {
        "Content-Type": "text/plain; charset=utf-8",
        "X-Content-Type-Options": "nosniff",
        **SECURITY_HEADERS,
    }


def _v2(served: Served) -> dict[str, Any]:
    body = base64.b64encode(served.body).decode("ascii") if served.gzipped else served.body.decode("utf-8")
    return {
        "statusCode": served.status,
        "headers": dict(served.headers),
        "body": body,
        "isBase64Encoded": served.gzipped,
    }
