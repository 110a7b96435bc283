"""The event envelope: both trait spellings, address{}, unknown fields ignored, wrong types named."""

from __future__ import annotations

import pytest

from relay.events import EventError, parse_event, parse_event_json


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
    traits = event.user_traits()
    # THEN top-level traits win, addresses merge and numbers become strings
    assert event.user_id == "42"
    assert (traits.first_name, traits.last_name, traits.postal_code) == ("Jane", "Doe", "94035")
    assert traits.address is not None
    assert (traits.address.city, traits.address.postal_code, traits.address.country) == (
        "Paris",
        "75018",
        "FR",
    )


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
