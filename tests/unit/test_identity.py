"""fbp / fbc: creation, validation (4 or 5 segments), fbclid extraction with its case untouched."""

from __future__ import annotations

import base64
import random

import pytest

from relay import identity

FBCLID = "IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk"


@pytest.mark.parametrize(
    "value",
    [
        "fb.1.1596403881668.1116446470",
        "fb.1.1554763741205." + FBCLID,
        "fb.1.1554763741205.AbCdEf.AQICAQMC",  # Parameter Builder appendix (8 chars)
        "fb.2.1554763741205.AbCdEf.Ag",  # legacy 2-char appendix
        " fb.0.1596403881668.1116446470 ",
        "fb.1.1706539000.AbCdEfGhIjKl",  # a seconds-based time: the builder only wants digits
        "fb.12.1596403881668.1116446470",  # the builder's index is any run of digits
    ],
)
def test_valid_cookies_are_kept(value):
    # GIVEN a well-formed value (4 segments, or 5 with Meta's appendix)
    # WHEN validated
    # THEN it is kept, stripped
    assert identity.valid_cookie(value) == value.strip()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "fb.1.abc.123",
        "fb.1.123",
        "xx.1.1596403881668.1",
        "fb.1.1596403881668.",
        "fb.1.1596403881668.a.b.c",
        "fb.1.1596403881668.a b",
        "fb.1.1596403881668.AbC.toolongappendix",
        "FB.1.1596403881668.1116446470",  # the version is exactly "fb"
        "fb..1596403881668.1116446470",  # empty index
        "fb.1..1116446470",  # empty time
        "fb.x.1596403881668.1116446470",
        "fb.\u0661.1596403881668.1116446470",  # ARABIC-INDIC DIGIT ONE is not an ASCII digit
        "fb.1.1596403881668.AbC.",  # empty 5th segment
        "fb.1.1596403881668.AbC.Ax",  # 2 chars but not a language token
        "fb.1.1596403881668.AbC.AAAAAAAA",  # 8 chars, format byte 0x00
        "fb.1.1596403881668.AbC.AQcCAQMC",  # language byte 0x07
        "fb.1.1596403881668.AbC.AQIEAQMC",  # type byte 0x04
        "fb.1.1596403881668.AbC.AQICAQM",  # 7 chars
        "fb.1.1596403881668.AbC.AQICAQMCA",  # 9 chars
        "fb.1.1596403881668.11164\n46470",  # white space inside a segment
    ],
)
def test_malformed_cookies_are_refused(value):
    # GIVEN a malformed value
    # WHEN validated
    # THEN it is refused
    assert identity.valid_cookie(value) is None


def test_fbclid_is_read_raw_from_the_url():
    # GIVEN URLs with fbclid in several positions, and one percent-encoded
    # WHEN extracted
    # THEN the value is returned exactly as in the URL
    assert identity.fbclid_from_url(f"https://a.example/?fbclid={FBCLID}") == FBCLID
    assert identity.fbclid_from_url(f"https://a.example/p?x=1&fbclid={FBCLID}&y=2#h") == FBCLID
    assert identity.fbclid_from_url("https://a.example/?x=1#fbclid=zzz") is None
    assert identity.fbclid_from_url("https://a.example/?notfbclid=zzz") is None
    assert identity.fbclid_from_url(None) is None


def test_new_fbc_and_fbp_formats():
    # GIVEN a creation time in ms and a seeded random source
    ms = 1554763741205
    rng = random.Random(7)
    # WHEN values are created
    fbc = identity.new_fbc(FBCLID, ms)
    fbp = identity.new_fbp(ms, rng)
    # THEN they follow fb.1.{ms}.{payload} and validate
    assert fbc == f"fb.1.{ms}.{FBCLID}"
    assert fbp == f"fb.1.{ms}.{random.Random(7).randint(0, identity.FBP_RANDOM_MAX)}"
    assert identity.valid_cookie(fbc) == fbc
    assert identity.valid_cookie(fbp) == fbp


@pytest.mark.parametrize(
    ("cookie", "url", "expected"),
    [
        (None, f"https://a.example/?fbclid={FBCLID}", f"fb.1.1000.{FBCLID}"),
        (
            f"fb.1.1554763741205.{FBCLID}",
            f"https://a.example/?fbclid={FBCLID}",
            f"fb.1.1554763741205.{FBCLID}",
        ),
        (
            f"fb.1.1554763741205.{FBCLID}.AQIAAQMC",
            f"https://a.example/?fbclid={FBCLID}",
            f"fb.1.1554763741205.{FBCLID}.AQIAAQMC",
        ),
        ("fb.1.1554763741205.OldClick", "https://a.example/?fbclid=NewClick", "fb.1.1000.NewClick"),
        ("fb.1.1554763741205.OldClick", "https://a.example/", "fb.1.1554763741205.OldClick"),
        ("garbage", "https://a.example/", None),
        (None, "https://a.example/?fbclid=bad%20value", None),
    ],
)
def test_resolve_fbc(cookie, url, expected):
    # GIVEN a cookie value and a page URL
    # WHEN the fbc to send is resolved at 1000 ms
    # THEN Meta's cookie rule holds (the cookie's payload segment compares, appendix or not)
    assert identity.resolve_fbc(cookie, url, 1000) == expected


def _appendix(*data: int) -> str:
    return base64.urlsafe_b64encode(bytes(data)).decode().rstrip("=")


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        # PB v1.3.2 values (reference section 6.3): Python net-new / modified / no-change, Node.js net-new
        ("AQICAQMC", True),
        ("AQIDAQMC", True),
        ("AQIAAQMC", True),
        ("AQQCAQMC", True),
        # every language byte 0x01..0x06 and type byte 0x00..0x03, any version
        *((_appendix(1, language, kind, 9, 255, 0), True) for language in range(1, 7) for kind in range(4)),
        # legacy v1: the six language tokens only
        *((token, True) for token in ("AQ", "Ag", "Aw", "BA", "BQ", "Bg")),
        ("Ah", False),
        ("AA", False),
        ("aq", False),
        # wrong format, language or type byte
        (_appendix(0, 2, 2, 1, 3, 2), False),
        (_appendix(2, 2, 2, 1, 3, 2), False),
        (_appendix(1, 0, 2, 1, 3, 2), False),
        (_appendix(1, 7, 2, 1, 3, 2), False),
        (_appendix(1, 2, 4, 1, 3, 2), False),
        # not base64url, or the wrong length
        ("AQ+CAQMC", False),
        ("AQ/CAQMC", False),
        ("AQICAQ=C", False),
        ("AQICAQM", False),
        ("AQICAQMCAQ", False),
        ("", False),
        ("ＡＱＩＣＡＱＭＣ", False),
    ],
)
def test_valid_appendix(segment, expected):
    # GIVEN a candidate 5th segment
    # WHEN checked as a parameter-builder appendix
    # THEN only a v1 language token or a v2 [0x01, language, type, major, minor, patch] value passes
    assert identity.valid_appendix(segment) is expected


def test_cookie_payload_is_segment_four_of_a_valid_value():
    # GIVEN valid values with and without an appendix, and invalid ones
    # WHEN the payload is read
    # THEN it is segment 4 for a valid value and None otherwise (an invalid appendix included)
    assert identity.cookie_payload(f"fb.1.1554763741205.{FBCLID}") == FBCLID
    assert identity.cookie_payload(f"fb.1.1554763741205.{FBCLID}.AQIAAQMC") == FBCLID
    assert identity.cookie_payload(f"fb.1.1554763741205.{FBCLID}.AAAAAAAA") is None
    assert identity.cookie_payload("garbage") is None


@pytest.mark.parametrize(
    ("cookie", "url", "expected"),
    [
        # an invalid appendix makes the cookie invalid: rebuilt from the URL's fbclid (even the same one)
        ("fb.1.1554763741205.OldClick.AAAAAAAA", "https://a.example/?fbclid=NewClick", "fb.1.1000.NewClick"),
        ("fb.1.1554763741205.SameClick.AQcCAQMC", "https://a.example/?fbclid=SameClick", "fb.1.1000.SameClick"),
        # ... and dropped when the URL has none
        ("fb.1.1554763741205.OldClick.AAAAAAAA", "https://a.example/", None),
        ("fb.1.1554763741205.OldClick.Ax", None, None),
        # a valid appendix keeps the cookie when the fbclid is the same
        ("fb.1.1554763741205.SameClick.Bg", "https://a.example/?fbclid=SameClick", "fb.1.1554763741205.SameClick.Bg"),
        # the fbclid's case is never changed, and a case-only difference is a different click
        ("fb.1.1554763741205.abcDEF", "https://a.example/?fbclid=ABCdef", "fb.1.1000.ABCdef"),
    ],
)  # fmt: skip
def test_resolve_fbc_drops_invalid_cookies(cookie, url, expected):
    # GIVEN a cookie (valid or not) and a page URL
    # WHEN the fbc is resolved at 1000 ms
    # THEN an invalid cookie is never sent: a new fbc comes from the URL's fbclid, else nothing
    assert identity.resolve_fbc(cookie, url, 1000) == expected


def test_subdomain_index_counts_the_cookie_domains_dots():
    # GIVEN / WHEN / THEN: Meta's fbp-and-fbc page: com 0, example.com 1, www.example.com 2
    from relay.identity import subdomain_index

    assert [subdomain_index(d) for d in ("com", "example.com", ".example.com", "www.example.com")] == [
        0,
        1,
        1,
        2,
    ]
    assert subdomain_index("t.shop.example.co.uk") == 4
    assert subdomain_index(None) == 1  # no cookie saved: Meta says use 1
    assert subdomain_index("127.0.0.1") == 1  # an IP address has no domain to count
