"""relay.static: an Asset's digest, ETag and gzip, and `serve`'s answer to GET / HEAD (304, gzip, extra
headers), exact values."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from relay.static import DIGEST_CHARS, Asset, Served, serve

BODY = b'console.log("df");\n'
KIND = "application/javascript; charset=utf-8"
DIGEST = "8bed871392966d68e19f"  # sha256(BODY), first 20 hex
ETAG = f'"{DIGEST}"'
CACHE = "public, max-age=300"
ASSET = Asset.of(BODY, KIND)
HEADERS = {
    "Content-Type": KIND,
    "Cache-Control": CACHE,
    "ETag": ETAG,
    "Vary": "Accept-Encoding",
    "X-Content-Type-Options": "nosniff",
}
GZIP = {**HEADERS, "Content-Encoding": "gzip"}


def _serve(method: str = "GET", extra: dict[str, str] | None = None, **headers: str) -> Served:
    names = {k.replace("_", "-"): v for k, v in headers.items()}
    return serve(ASSET, method=method, headers=names, cache_control=CACHE, extra=extra)


def test_an_asset_is_hashed_and_gzipped_once_the_same_way_every_time():
    # GIVEN a file's bytes
    # WHEN made an Asset (twice)
    again = Asset.of(BODY, KIND)
    # THEN its digest is the first 20 hex of its SHA-256, its ETag that quoted, its gzip reproducible
    assert (DIGEST_CHARS, ASSET.digest, ASSET.etag) == (20, DIGEST, ETAG)
    assert ASSET.gzipped == gzip.compress(BODY, 9, mtime=0) == again.gzipped
    assert gzip.decompress(ASSET.gzipped) == BODY
    assert (ASSET.body, ASSET.content_type) == (BODY, KIND)
    assert again == ASSET


def test_a_plain_get_is_the_body_with_its_validators():
    # WHEN asked for without conditions or encodings
    # THEN 200 with the body, its type, cache policy, ETag, Vary and nosniff
    assert _serve() == Served(200, BODY, HEADERS, False)


@pytest.mark.parametrize(
    "if_none_match",
    [
        ETAG,
        f'"0000", {ETAG}',
        f'"0000",{ETAG}',
        f'  {ETAG}  , "1111"',
        f'"a", "b", "c", {ETAG}',
    ],
)
def test_if_none_match_naming_the_etag_in_a_list_is_304_without_a_body(if_none_match):
    # WHEN revalidated with a list of ETags that includes the asset's
    # THEN 304, no body, the same headers (no Content-Encoding)
    assert _serve(if_none_match=if_none_match) == Served(304, b"", HEADERS, False)


@pytest.mark.parametrize("if_none_match", ['"0000"', DIGEST, f'"{DIGEST[:-1]}"', f'"{DIGEST}x"', "", ","])
def test_if_none_match_without_the_etag_is_a_full_answer(if_none_match):
    # WHEN revalidated with ETags that are not the asset's (or the digest unquoted)
    # THEN the full body
    assert _serve(if_none_match=if_none_match) == Served(200, BODY, HEADERS, False)


def test_a_304_wins_over_gzip_and_head():
    # WHEN revalidated by a client accepting gzip, with GET and with HEAD
    # THEN 304 with no body and no Content-Encoding either way
    for method in ("GET", "HEAD"):
        assert _serve(method, if_none_match=ETAG, accept_encoding="gzip") == Served(304, b"", HEADERS, False)


@pytest.mark.parametrize("accept", ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "GZIP", "x-gzip"])
def test_gzip_is_sent_when_accepted(accept):
    # WHEN the client accepts gzip
    # THEN the gzipped body, flagged for base64, with Content-Encoding
    assert _serve(accept_encoding=accept) == Served(200, ASSET.gzipped, GZIP, True)


@pytest.mark.parametrize("accept", ["", "identity", "br", "deflate, br"])
def test_without_gzip_in_accept_encoding_the_body_is_plain(accept):
    assert _serve(accept_encoding=accept) == Served(200, BODY, HEADERS, False)


@pytest.mark.parametrize(
    ("method", "accept", "answer"),
    [
        ("HEAD", None, Served(200, b"", HEADERS, False)),
        ("head", None, Served(200, b"", HEADERS, False)),
        ("HEAD", "gzip", Served(200, b"", GZIP, True)),
    ],
)
def test_head_is_the_headers_without_a_body(method, accept, answer):
    # WHEN HEAD asks (any case), with or without gzip
    headers: dict[str, Any] = {} if accept is None else {"accept_encoding": accept}
    # THEN the GET's status and headers, no body
    assert _serve(method, **headers) == answer


def test_extra_headers_go_with_every_answer():
    # GIVEN extra headers (the console's security headers)
    extra = {"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'none'"}
    # WHEN a plain GET, a gzip GET and a revalidation are answered
    plain = _serve(extra=extra)
    zipped = _serve(extra=extra, accept_encoding="gzip")
    again = _serve(extra=extra, if_none_match=ETAG)
    # THEN each has them after the asset's own
    assert plain == Served(200, BODY, {**HEADERS, **extra}, False)
    assert zipped == Served(200, ASSET.gzipped, {**HEADERS, **extra, "Content-Encoding": "gzip"}, True)
    assert again == Served(304, b"", {**HEADERS, **extra}, False)
    assert list(plain.headers)[-2:] == ["X-Frame-Options", "Content-Security-Policy"]


def test_answers_do_not_share_their_headers():
    # GIVEN one answer whose headers are changed by its caller (the collector pops Content-Type)
    first = _serve()
    first.headers.pop("Content-Type")
    # WHEN the asset is served again
    # THEN the next answer is whole
    assert _serve().headers == HEADERS


@pytest.mark.parametrize("if_none_match", ["*", f"W/{ETAG}", f'"other", W/{ETAG}'])
def test_if_none_match_compares_weakly_and_star_matches_any_version(if_none_match: str):
    # GIVEN a validator the client holds as a weak tag, or `*`
    # WHEN it asks again
    served = _serve(if_none_match=if_none_match)
    # THEN 304 without a body (RFC 9110: If-None-Match uses the weak comparison)
    assert (served.status, served.body) == (304, b"")


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip;q=0", False),
        ("gzip; q=0.0, br", False),
        ("br, *", True),
        ("*;q=0", False),
        ("x-gzip", True),
        ("identity", False),
        ("gzip;q=junk", False),
        ("GZIP;Q=0.5", True),
    ],
)
def test_gzip_is_sent_only_when_accept_encoding_allows_it(accept_encoding: str, gzipped: bool):
    # GIVEN an Accept-Encoding with quality values / WHEN served
    served = _serve(accept_encoding=accept_encoding)
    # THEN gzip exactly when gzip (or *) has a non-zero quality
    assert served.gzipped is gzipped
    assert served.body == (ASSET.gzipped if gzipped else BODY)
