"""The event envelope: both trait spellings, address{}, unknown fields ignored, wrong types named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relay.events import (
    EventError,
    content_event_id,
    enriched,
    page_referrer,
    page_url,
    parse_event,
    parse_event_json,
    queue_body,
    user_traits,
)


def test_trait_spellings_and_address_are_accepted():
    # GIVEN identify traits in camelCase, context traits in snake_case with an address
    raw = {
        "type": "identify",
        "userId": 42,
        "traits": {"firstName": "Jane", "postalCode": "94035", "address": {"city": "Paris", "zip": "75018"}},
        "context": {"traits": {"first_name": "Old", "last_name": "Doe", "address": {"country": "FR"}}},
        "unknownField": {"ignored": True},
    }
    # WHEN parsed and merged
    event = parse_event(raw)
    traits = user_traits(event)
    # THEN top-level traits win, addresses merge and numbers become strings
    assert event["user_id"] == "42"
    assert traits == {
        "first_name": "Jane",
        "last_name": "Doe",
        "postal_code": "94035",
        "address": {"country": "FR", "city": "Paris", "postal_code": "75018"},
    }


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([], "event: expected a JSON object, got list"),
        ({"event": "x"}, "type: Field required"),
        ({"type": "track"}, "event: required for track events"),
        ({"type": "track", "event": "  "}, "event: required for track events"),
        (
            {"type": "bogus"},
            "type: Input should be 'page', 'screen', 'track', 'identify', 'group' or 'alias'",
        ),
        ({"type": "page", "properties": []}, "properties: Input should be a valid dictionary"),
        (
            {"type": "page", "context": {"page": {"url": ["x"]}}},
            "context.page.url: Input should be a valid string",
        ),
        ({"type": "page", "timestamp": "yesterday"}, "timestamp: Input should be a valid datetime"),
    ],
)
def test_bad_events_are_reported_per_field(raw, reason):
    # GIVEN a malformed event
    # WHEN parsed
    with pytest.raises(EventError) as caught:
        parse_event(raw)
    # THEN the reason names the field
    assert caught.value.reason.startswith(reason)


def test_message_id_is_kept_on_errors_and_bodies_must_be_json():
    # GIVEN a bad event with a messageId, and a body that is not JSON
    # WHEN parsed
    with pytest.raises(EventError) as caught:
        parse_event({"type": "track", "messageId": "m-9"})
    with pytest.raises(EventError) as body:
        parse_event_json(b"{nope")
    # THEN the id is reported and the body error names the body
    assert caught.value.message_id == "m-9"
    assert body.value.reason.startswith("body: not valid JSON")


def test_the_queue_body_is_the_segment_json_unchanged_and_reads_back():
    # GIVEN a Segment event in camelCase with fields Relay does not know
    raw: dict[str, Any] = {
        "type": "track",
        "event": "Order Completed",
        "messageId": "m-1",
        "anonymousId": "a-1",
        "properties": {"total": 10, "custom": {"nested": [1, 2]}},
        "context": {"userAgent": "UA", "library": {"name": "analytics-python", "version": "2.3.3"}},
        "integrations": {"All": True},
    }
    # WHEN the collector enriches it and writes the queue body
    body = queue_body(enriched(raw, receivedAt="2026-11-26T12:00:00Z", context={"source_id": "src-1"}))
    # THEN the body is the same Segment JSON (camelCase, unknown fields kept) plus the enrichment
    assert json.loads(body) == {
        **raw,
        "receivedAt": "2026-11-26T12:00:00Z",
        "context": {**raw["context"], "source_id": "src-1"},
    }
    # AND delivery reads it back as the same event
    event = parse_event_json(body)
    assert (event["message_id"], event["context"]["user_agent"], event["context"]["source_id"]) == (
        "m-1",
        "UA",
        "src-1",
    )
    assert raw["context"] == {"userAgent": "UA", "library": {"name": "analytics-python", "version": "2.3.3"}}


def test_enrichment_never_overwrites_what_the_client_sent():
    # GIVEN an event that has its own messageId
    raw = {"type": "page", "messageId": "client-id"}
    # WHEN enriched with a generated one / THEN the client's stays
    assert enriched(raw, messageId="generated", receivedAt="t")["messageId"] == "client-id"


def test_queue_body_refuses_an_invalid_event():
    # GIVEN / WHEN an event without a type is written / THEN nothing unreadable is queued
    with pytest.raises(EventError) as caught:
        queue_body({"event": "x"})
    assert caught.value.reason == "type: Field required"


def test_a_page_call_reads_its_url_from_properties_when_the_context_has_none():
    # GIVEN page calls shaped like Segment's page spec, and one with both places set
    only_props = parse_event(
        {"type": "page", "properties": {"url": "https://a.example/p", "referrer": "https://r.example/"}}
    )
    both = parse_event(
        {
            "type": "page",
            "properties": {"url": "https://props.example/"},
            "context": {"page": {"url": "https://ctx.example/"}},
        }
    )
    track = parse_event({"type": "track", "event": "X", "properties": {"url": "https://a.example/p"}})
    # WHEN their URLs are read / THEN properties fill in for page calls only, and context.page wins
    assert (page_url(only_props), page_referrer(only_props)) == ("https://a.example/p", "https://r.example/")
    assert page_url(both) == "https://ctx.example/"
    assert page_url(track) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {
                "type": "page",
                "anonymousId": "a-1",
                "timestamp": "2026-11-26T12:00:00Z",
                "context": {"userAgent": "UA", "ip": "1.2.3.4", "page": {"url": "https://x.example/"}},
            },
            "relay-5763a9625b2ac5bdb35ecf4f4bad5e7a",
        ),
        (
            {
                "type": "track",
                "event": "Order Completed",
                "userId": 42,
                "properties": {"total": 10.5, "currency": "EUR"},
                "context": {
                    "consent": {"categoryPreferences": {"advertising": True}},
                    "traits": {"email": "a@b.co", "address": {"city": "Paris"}},
                },
                "receivedAt": "2026-11-26T12:00:00.123+01:00",
            },
            "relay-e5cd60ca7993a7bf8ddc0efda79c7e8e",
        ),
    ],
)
def test_the_fallback_event_id_is_stable_across_releases(raw, expected):
    # GIVEN events without messageId (ids computed by the previous, pydantic-model envelope)
    # WHEN their content id is computed / THEN it is the same, so a redelivered event is not sent twice
    assert content_event_id(parse_event(raw)) == expected
