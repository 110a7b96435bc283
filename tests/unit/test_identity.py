"""fbp / fbc: creation, validation (4 or 5 segments), fbclid extraction with its case untouched."""

from __future__ import annotations

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
