"""page_url() / page_referrer(): context.page first, then a page call's properties (Segment page spec)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.events import page_referrer, page_url, page_urls, parse_event

CONTEXT_URL = "https://shop.example.com/from-context"
PROPERTIES_URL = "https://shop.example.com/from-properties"


def _event(kind: str, page: dict[str, Any], properties: dict[str, Any]) -> Any:
    raw: dict[str, Any] = {"type": kind, "properties": properties, "context": {"page": page}}
    if kind == "track":
        raw["event"] = "Product Viewed"
    return parse_event(raw)


@pytest.mark.parametrize(
    ("kind", "page", "properties", "url", "referrer"),
    [
        # a page call with the URL only in properties (analytics.js puts it in both; servers often only there)
        ("page", {}, {"url": PROPERTIES_URL, "referrer": "https://ref.example/"}, PROPERTIES_URL, "https://ref.example/"),
        # context.page wins when set
        ("page", {"url": CONTEXT_URL, "referrer": "https://ctx-ref.example/"}, {"url": PROPERTIES_URL, "referrer": "https://ref.example/"}, CONTEXT_URL, "https://ctx-ref.example/"),
        # each field falls back on its own
        ("page", {"url": CONTEXT_URL}, {"referrer": "https://ref.example/"}, CONTEXT_URL, "https://ref.example/"),
        # a blank context value counts as unset
        ("page", {"url": "  ", "referrer": ""}, {"url": PROPERTIES_URL, "referrer": "https://ref.example/"}, PROPERTIES_URL, "https://ref.example/"),
        # a non-string or blank property is not a URL
        ("page", {}, {"url": 42, "referrer": "   "}, None, None),
        # track properties.url is a product's URL (e-commerce spec), never the page's
        ("track", {}, {"url": PROPERTIES_URL, "referrer": "https://ref.example/"}, None, None),
        ("screen", {}, {"url": PROPERTIES_URL}, None, None),
        ("page", {}, {}, None, None),
    ],
)  # fmt: skip
def test_page_url_and_referrer(kind, page, properties, url, referrer):
    # GIVEN an event with URL fields in context.page and/or properties
    event = _event(kind, page, properties)
    # WHEN the page URL and referrer are read
    # THEN context.page wins, and only a page call falls back to its properties
    assert page_url(event) == url
    assert page_referrer(event) == referrer


_urlish = st.one_of(
    st.none(), st.sampled_from(["", "  ", "https://a.example/x", " http://b.example "]), st.text()
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["page", "track", "screen"]),
    context_url=_urlish,
    context_referrer=_urlish,
    props_url=_urlish,
    props_referrer=_urlish,
    has_page=st.booleans(),
)
def test_page_urls_reads_what_page_url_and_page_referrer_read(
    kind, context_url, context_referrer, props_url, props_referrer, has_page
):
    # GIVEN an event with any mix of context.page and properties URLs (absent, blank, set)
    raw: dict[str, Any] = {"type": kind, "event": "X", "properties": {}, "context": {}}
    if has_page:
        raw["context"]["page"] = {
            k: v for k, v in (("url", context_url), ("referrer", context_referrer)) if v is not None
        }
    raw["properties"] = {k: v for k, v in (("url", props_url), ("referrer", props_referrer)) if v is not None}
    event = parse_event(raw)
    # WHEN both are read at once
    # THEN the answer is the two readings one by one
    assert page_urls(event) == (page_url(event), page_referrer(event))
