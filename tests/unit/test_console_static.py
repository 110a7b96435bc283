"""The console's static files (relay.console) as the admin API answers them (relay.api.app.handle):
open without the admin token, hashed asset names, strict security headers, gzip, ETags, no deps."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest

import relay.console
from relay.api.app import handle
from relay.console import (
    CONTENT_SECURITY_POLICY,
    SECURITY_HEADERS,
    ConsoleBroken,
    bundle,
    hashed_name,
)
from relay.static import Asset
from tests.admin_support import ADMIN_TOKEN, request

if TYPE_CHECKING:
    from relay.api.deps import AdminDeps

STATIC = Path(relay.console.__file__).resolve().parent / "static"
JS, CSS = "application/javascript; charset=utf-8", "text/css; charset=utf-8"
IMMUTABLE = "public, max-age=31536000, immutable"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
ASSET_PATH = re.compile(r'(?:src|href)="/console/assets/(console\.([0-9a-f]{20})\.(js|css))"')


class Untouchable:
    """Admin deps the console must not need: any attribute read fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the console read deps.{name}")


class GateOnly(Untouchable):
    """Admin deps with the admin token only: enough for the gate to refuse a request."""

    def admin_token(self) -> str:
        return ADMIN_TOKEN


@pytest.fixture(autouse=True)
def _fresh_bundle() -> Iterator[None]:
    bundle.cache_clear()
    yield
    bundle.cache_clear()


def _get(
    path: str, method: str = "GET", headers: dict[str, str] | None = None, deps: Any = None
) -> dict[str, Any]:
    event = request(method, path, token=None, headers=headers)
    return handle(event, None, deps=cast("AdminDeps", deps if deps is not None else Untouchable()))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:20]


def _file(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def _asset_paths() -> dict[str, str]:
    """The served page's asset path of each plain name (console.js → /console/assets/console.<d>.js)."""
    page = _get("/console/")["body"]
    return {f"console.{ext}": f"/console/assets/{name}" for name, _, ext in ASSET_PATH.findall(page)}


def _headers(kind: str, cache: str, data: bytes, **more: str) -> dict[str, str]:
    return {
        "Content-Type": kind,
        "Cache-Control": cache,
        "ETag": f'"{_digest(data)}"',
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        **SECURITY,
        **more,
    }


# ---- the page --------------------------------------------------------------------------------------


def test_the_page_is_served_without_a_token_with_strict_security_headers():
    # GIVEN no admin token, and deps that fail when read
    # WHEN the console's page is asked for
    answer = _get("/console/")
    # THEN 200 HTML, revalidated on every load, with a CSP allowing nothing inline nor from elsewhere
    assert (answer["statusCode"], answer["isBase64Encoded"]) == (200, False)
    page = answer["body"].encode()
    assert answer["headers"] == _headers("text/html; charset=utf-8", "no-cache", page)
    assert CONTENT_SECURITY_POLICY == CSP
    assert dict(SECURITY_HEADERS) == SECURITY
    policy = answer["headers"]["Content-Security-Policy"]
    assert ("'unsafe-inline'" in policy, "'unsafe-eval'" in policy) == (False, False)
    assert policy.split("; ")[0] == "default-src 'none'"
    assert "frame-ancestors 'none'" in policy.split("; ")


def test_the_page_names_its_script_and_style_sheet_by_content_hash():
    # GIVEN index.html, naming console.js and console.css plainly
    index = _file("index.html").decode()
    js, css = _digest(_file("console.js")), _digest(_file("console.css"))
    # WHEN the page is served
    page = _get("/console/")["body"]
    # THEN it is index.html with exactly those two references renamed under /console/assets/
    assert page == index.replace('href="console.css"', f'href="/console/assets/console.{css}.css"').replace(
        'src="console.js"', f'src="/console/assets/console.{js}.js"'
    )
    assert {ext: (name, digest) for name, digest, ext in ASSET_PATH.findall(page)} == {
        "css": (f"console.{css}.css", css),
        "js": (f"console.{js}.js", js),
    }
    assert ('"console.js"' in page, '"console.css"' in page) == (False, False)


def test_the_page_has_nothing_inline_the_policy_would_block():
    # GIVEN the served page
    page = _get("/console/")["body"]
    # THEN every script is an external file, and there is no style element, style attribute or handler
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts == [f'<script type="module" src="{_asset_paths()["console.js"]}">']
    assert re.findall(r"<style\b|\sstyle=|\son[a-z]+=|javascript:", page, flags=re.IGNORECASE) == []


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/integrations/meta-1", "/console/assets"])
def test_the_console_and_any_deep_link_under_it_is_the_page(path):
    # WHEN the console is asked for by `path`
    answer = _get(path)
    # THEN it is the page
    assert (answer["statusCode"], answer["body"]) == (200, _get("/console/")["body"])
    assert answer["headers"]["Content-Type"] == "text/html; charset=utf-8"


def test_the_page_is_gzipped_when_accepted_and_304_for_its_etag():
    # GIVEN the page as served plainly
    plain = _get("/console/")
    # WHEN asked for by a browser accepting gzip, then revalidated with its ETag
    zipped = _get("/console/", headers={"accept-encoding": "gzip, deflate, br"})
    again = _get("/console/", headers={"If-None-Match": plain["headers"]["ETag"]})
    # THEN the gzip is the page, base64-encoded; the revalidation is 304 without a body
    assert zipped["isBase64Encoded"] is True
    assert gzip.decompress(base64.b64decode(zipped["body"])).decode() == plain["body"]
    assert zipped["headers"] == {**plain["headers"], "Content-Encoding": "gzip"}
    assert (again["statusCode"], again["body"], again["headers"]) == (304, "", plain["headers"])


# ---- the assets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kind"), [("console.js", JS), ("console.css", CSS)])
def test_each_asset_is_immutable_under_its_content_hash(name, kind):
    # GIVEN the asset's path as the page names it
    path = _asset_paths()[name]
    data = _file(name)
    # WHEN it is asked for
    answer = _get(path)
    # THEN 200 with the file, cached for a year, its name's digest the content's SHA-256 (20 hex)
    assert (answer["statusCode"], answer["isBase64Encoded"]) == (200, False)
    assert answer["body"].encode() == data
    assert answer["headers"] == _headers(kind, IMMUTABLE, data)
    assert path == f"/console/assets/{hashed_name(name, Asset.of(data, kind))}"
    assert path.split(".")[-2] == _digest(data) == _digest(answer["body"].encode())


@pytest.mark.parametrize("name", ["console.js", "console.css"])
def test_an_asset_is_gzipped_when_accepted(name):
    # GIVEN a browser accepting gzip
    path = _asset_paths()[name]
    # WHEN it asks for the asset
    answer = _get(path, headers={"accept-encoding": "gzip"})
    # THEN the body is the gzipped file, base64-encoded
    assert (answer["statusCode"], answer["isBase64Encoded"]) == (200, True)
    assert answer["headers"]["Content-Encoding"] == "gzip"
    assert gzip.decompress(base64.b64decode(answer["body"])) == _file(name)


def test_an_asset_revalidated_with_its_etag_is_304_and_empty():
    # GIVEN the script's ETag
    path = _asset_paths()["console.js"]
    etag = _get(path)["headers"]["ETag"]
    # WHEN revalidated (gzip accepted, as a browser would)
    answer = _get(path, headers={"if-none-match": etag, "accept-encoding": "gzip"})
    # THEN 304 without a body, with the asset's headers
    assert (answer["statusCode"], answer["body"], answer["isBase64Encoded"]) == (304, "", False)
    assert answer["headers"] == _headers(JS, IMMUTABLE, _file("console.js"))


@pytest.mark.parametrize("gzip_ok", [False, True])
def test_head_answers_the_headers_without_a_body(gzip_ok):
    # GIVEN the style sheet's path
    path = _asset_paths()["console.css"]
    headers = {"accept-encoding": "gzip"} if gzip_ok else {}
    # WHEN HEAD asks for it, and for the page
    asset, page = _get(path, "HEAD", headers), _get("/console/", "HEAD", headers)
    # THEN 200 with the GET's headers and no body
    for answer, got in ((asset, _get(path, headers=headers)), (page, _get("/console/", headers=headers))):
        assert (answer["statusCode"], answer["body"]) == (200, "")
        assert answer["headers"] == got["headers"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("where", ["/console/", "asset"])
def test_other_methods_are_405_with_allow(method, where):
    # GIVEN the page or an asset
    path = _asset_paths()["console.js"] if where == "asset" else where
    # WHEN another method than GET or HEAD is used
    answer = _get(path, method)
    # THEN 405 naming the allowed methods, as plain text with the security headers
    assert answer == {
        "statusCode": 405,
        "headers": {
            "Allow": "GET, HEAD",
            "Content-Type": "text/plain; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
            **SECURITY,
        },
        "body": "method not allowed\n",
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize(
    "path",
    [
        "/console/assets/console.js",
        "/console/assets/console.css",
        "/console/assets/console.00000000000000000000.js",
        "/console/assets/",
        "/console/assets/index.html",
        "/console/assets/../index.html",
    ],
)
def test_an_unknown_asset_is_404(path):
    # WHEN a name that is not a served asset is asked for under /console/assets/
    answer = _get(path)
    # THEN 404, not cached
    assert answer == {
        "statusCode": 404,
        "headers": {
            "Cache-Control": "no-store",
            "Content-Type": "text/plain; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
            **SECURITY,
        },
        "body": "no such console asset\n",
        "isBase64Encoded": False,
    }


# ---- the gate ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/admin/integrations", "/consoles", "/v1/admin/console"])
def test_the_admin_api_still_needs_the_token(path):
    # GIVEN deps that only know the admin token
    # WHEN a path outside /console is asked for without it
    answer = _get(path, deps=GateOnly())
    # THEN the gate refuses it with 401
    assert answer["statusCode"] == 401
    assert answer["headers"]["WWW-Authenticate"] == 'Bearer realm="relay-admin"'


# ---- a broken index.html -----------------------------------------------------------------------------


def _static_dir(monkeypatch: pytest.MonkeyPatch, root: Path, index: str) -> None:
    """relay.console reads its files from `root`/static, with `index` as index.html."""
    static = root / "static"
    static.mkdir()
    (static / "index.html").write_text(index, encoding="utf-8")
    (static / "console.js").write_bytes(b"export {};\n")
    (static / "console.css").write_bytes(b"body { margin: 0; }\n")
    monkeypatch.setattr(relay.console, "resources", SimpleNamespace(files=lambda package: root))


@pytest.mark.parametrize(
    ("index", "missing"),
    [
        ('<link rel="stylesheet" href="console.css">', "console.js"),
        ('<script src="console.js"></script>', "console.css"),
        ("<script src='console.js'></script><link href='console.css'>", "console.css, console.js"),
        ('<script src="./console.js"></script><link href="/console.css">', "console.css, console.js"),
    ],
)
def test_an_index_html_that_does_not_refer_to_a_file_by_its_plain_name_is_a_defect(
    monkeypatch, tmp_path, index, missing
):
    # GIVEN an index.html missing a plain, double-quoted reference
    _static_dir(monkeypatch, tmp_path, index)
    # WHEN the console's bundle is built
    with pytest.raises(ConsoleBroken) as raised:
        bundle()
    # THEN it says which file is not referred to
    assert str(raised.value) == f"index.html does not refer to {missing}"


def test_a_bundle_from_other_files_renames_their_references(monkeypatch, tmp_path):
    # GIVEN an index.html referring to both files
    _static_dir(monkeypatch, tmp_path, '<link href="console.css"><script src="console.js"></script>')
    # WHEN the bundle is built
    built = bundle()
    # THEN the page refers to each by its content hash, and each is served under that path
    js, css = _digest(b"export {};\n"), _digest(b"body { margin: 0; }\n")
    assert built.index.body.decode() == (
        f'<link href="/console/assets/console.{css}.css"><script src="/console/assets/console.{js}.js"></script>'
    )
    assert {path: (a.body, a.content_type) for path, a in built.assets.items()} == {
        f"/console/assets/console.{js}.js": (b"export {};\n", JS),
        f"/console/assets/console.{css}.css": (b"body { margin: 0; }\n", CSS),
    }


def test_the_committed_screenshots_are_the_suites_and_every_one_the_docs_show_exists():
    # GIVEN the console suite's screenshot names, docs/console/ and the pages that show them
    from tests.integration.test_console import SCREENSHOTS
    from tests.support import ROOT

    committed = {p.stem for p in (ROOT / "docs" / "console").glob("*.png")}
    shown = set()
    for page in (ROOT / "README.md", ROOT / "docs" / "console.md"):
        shown |= set(re.findall(r"console/([a-z-]+)\.png", page.read_text(encoding="utf-8")))
    # THEN make screenshots refreshes exactly the committed files, and each one shown is one of them
    assert committed == set(SCREENSHOTS)
    assert shown
    assert shown <= committed
