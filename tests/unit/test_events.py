"""The event envelope: both trait spellings, address{}, unknown fields ignored, wrong types named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relay.events import (
    MAX_DEPTH,
    MAX_EVENT_BYTES,
    MAX_FIELD_CHARS,
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


# ---- input bounds ---------------------------------------------------------------------------------


def _body(**fields: Any) -> str:
    return json.dumps({"type": "track", "event": "Signed Up", **fields}, ensure_ascii=False)


@pytest.mark.parametrize(
    ("escaped", "expected"),
    [
        ("a\\ud800b", "a\ufffdb"),  # a lone leading surrogate
        ("a\\udc00b", "a\ufffdb"),  # a lone trailing surrogate
        ("\\udc00\\ud800\\udc00", "\ufffd\U00010000"),  # a pair after a lone one is kept
        ("\\ud83d\\ude00", "\U0001f600"),  # a valid pair is one character
    ],
)
def test_lone_surrogates_are_replaced_by_the_replacement_character(escaped, expected):
    # GIVEN a body whose event name holds a JSON surrogate escape (as JSON.stringify writes one)
    body = '{"type": "track", "event": "' + escaped + '", "properties": {"k\\ud800": "v\\udfff"}}'
    # WHEN parsed
    event = parse_event_json(body)
    # THEN every lone surrogate (values and keys) is U+FFFD and the event encodes as UTF-8
    assert event["event"] == expected
    assert event["properties"] == {"k\ufffd": "v\ufffd"}
    json.dumps(event, ensure_ascii=False).encode("utf-8")


def test_a_body_over_the_byte_cap_is_refused_unread():
    # GIVEN a body of MAX_EVENT_BYTES + 1 bytes (é is two bytes in UTF-8: chars alone would undercount)
    filler = "é" * ((MAX_EVENT_BYTES - len(_body(properties={"x": ""}))) // 2 + 1)
    body = _body(properties={"x": filler})
    assert len(body.encode()) > MAX_EVENT_BYTES >= len(body)
    # WHEN parsed / THEN it is refused naming the body and the cap
    with pytest.raises(EventError, match=r"^body: larger than 65,536 bytes$"):
        parse_event_json(body)
    # ... while a body just under the cap is read
    assert parse_event_json(_body(properties={"x": "e" * (MAX_EVENT_BYTES - 100)}))["event"] == "Signed Up"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"context": {"userAgent": "M" * (MAX_FIELD_CHARS + 1)}}, "context.userAgent"),
        ({"context": {"page": {"url": "https://a.example/" + "p" * MAX_FIELD_CHARS}}}, "context.page.url"),
        ({"messageId": "m" * (MAX_FIELD_CHARS + 1)}, "messageId"),
        ({"context": {"traits": {"email": "e" * MAX_FIELD_CHARS + "@x.io"}}}, "context.traits.email"),
    ],
)
def test_a_string_field_over_the_cap_is_refused_naming_the_field(fields, reason):
    # GIVEN an event with one envelope string over MAX_FIELD_CHARS
    # WHEN parsed / THEN the error names the field and the cap, never the value
    with pytest.raises(EventError) as caught:
        parse_event_json(_body(**fields))
    assert caught.value.reason.startswith(f"{reason}")
    assert "String should have at most 8192 characters" in caught.value.reason
    assert "MMMM" not in caught.value.reason
    assert "pppp" not in caught.value.reason


def _nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_properties_nest_at_most_max_depth_levels():
    # GIVEN properties nested exactly MAX_DEPTH levels, and one level more
    ok = {"properties": {"a": _nest(MAX_DEPTH - 1)}}
    deep = {"properties": {"a": _nest(MAX_DEPTH)}}
    # WHEN parsed (both the fast path and the Python-value path)
    # THEN the first is read and the second refused naming properties
    assert parse_event_json(_body(**ok))["properties"]["a"] == _nest(MAX_DEPTH - 1)
    for parse in (lambda: parse_event_json(_body(**deep)), lambda: parse_event(json.loads(_body(**deep)))):
        with pytest.raises(EventError, match=r"^properties: nested deeper than 32 levels$"):
            parse()


def test_deep_nesting_anywhere_is_refused_without_a_recursion_error():
    # GIVEN an unknown field nested 100,000 levels (the decoder's own limit is far lower) in 200 KB
    body = _body()[:-1] + ', "junk": ' + "[" * 30_000 + "]" * 30_000 + "}"
    # WHEN parsed / THEN EventError, not RecursionError
    with pytest.raises(EventError, match=r"^body: "):
        parse_event_json(body)


def test_an_error_in_a_free_form_key_never_spells_the_key():
    # GIVEN a properties key that is an e-mail address padded past the string cap
    key = "jane.doe@example.com" + "x" * MAX_FIELD_CHARS
    # WHEN parsed / THEN the error names properties and a <key>, not the key itself
    with pytest.raises(EventError) as caught:
        parse_event_json(_body(properties={key: 1}))
    assert caught.value.reason.startswith("properties.<key>")
    assert "jane.doe" not in caught.value.reason


def test_consent_preferences_nest_at_most_max_depth_levels_on_either_parse_path():
    # GIVEN consent preferences nested one level past MAX_DEPTH
    deep = {"context": {"consent": {"categoryPreferences": {"advertising": _nest(MAX_DEPTH)}}}}
    # WHEN parsed as JSON text and as a Python value / THEN both refuse it naming the field
    for parse in (lambda: parse_event_json(_body(**deep)), lambda: parse_event(json.loads(_body(**deep)))):
        with pytest.raises(EventError, match=r"nested deeper than 32 levels$"):
            parse()
