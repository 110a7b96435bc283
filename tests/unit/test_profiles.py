"""Profiles: keys, merging into events, and delivery's batched enrichment (fakes, no AWS)."""

from __future__ import annotations

from hashlib import sha256
from typing import Any

from relay.delivery.plan import plan
from relay.events import parse_event
from relay.profiles import Profile, for_events, keys_of, profile_key, with_profile
from tests.fakes import Fakes, sqs_record
from tests.support import SAMPLE_NOW, track

EM = sha256(b"jane@example.com").hexdigest()
PH = sha256(b"447700900123").hexdigest()
CT = sha256(b"london").hexdigest()


def test_profile_keys_hash_the_source_and_id():
    # GIVEN / WHEN / THEN: no id rests in the table as sent; sources do not share profiles
    key = profile_key("web", "u", "jane@example.com")
    assert key == "u#" + sha256(b"web\x1fjane@example.com").hexdigest()
    assert profile_key("other", "u", "jane@example.com") != key
    assert keys_of("web", "a-1", "u-1") == [profile_key("web", "a", "a-1"), profile_key("web", "u", "u-1")]
    assert keys_of("web", None, None) == []


def test_with_profile_fills_only_what_the_event_lacks():
    # GIVEN an event with its own email and an address city, and a profile knowing more
    event = parse_event(
        track(
            "Order Completed",
            context={"traits": {"email": "own@example.com", "address": {"city": "Paris"}}, "fbp": "fb.1.1.1"},
        )
    )
    profile = Profile({"em": EM, "ph": PH, "ct": CT}, fbp="fb.1.2.2", fbc="fb.1.3.Click")
    # WHEN merged
    merged = with_profile(event, profile)
    # THEN the event's own email, city and fbp win; phone and fbc come from the profile
    assert merged["context"]["traits"] == {
        "phone": PH,
        "email": "own@example.com",
        "address": {"city": "Paris"},
    }
    assert merged["context"]["fbp"] == "fb.1.1.1"
    assert merged["context"]["fbc"] == "fb.1.3.Click"
    assert event["context"].get("fbc") is None  # the input is not mutated


def test_with_profile_returns_the_event_itself_when_nothing_is_added():
    event = parse_event(track("X", context={"traits": {"email": "a@b.co"}}))
    assert with_profile(event, Profile({"em": EM})) is event
    assert with_profile(event, None) is event


def test_for_events_layers_user_over_anonymous_and_follows_links():
    # GIVEN an anonymous profile (this browser) linked to a user profile (another device's identify)
    anon, user = profile_key("web", "a", "a-1"), profile_key("web", "u", "u-1")
    found = {
        anon: Profile({"em": "old"}, fbp="fb.1.1.anon", user_key=user),
        user: Profile({"em": EM, "ph": PH}, fbp="fb.1.1.user"),
    }
    asked: list[list[str]] = []

    def lookup(keys: list[str]) -> dict[str, Profile]:
        asked.append(keys)
        return {k: v for k, v in found.items() if k in keys or k == user}

    # WHEN the batch's events are resolved (one lookup for all)
    out = for_events(lookup, [("web", "a-1", None), ("web", None, "u-1"), ("web", "a-9", None)])
    # THEN the anonymous event gets the user's traits and its own fbp; the unknown one gets none
    assert len(asked) == 1
    assert out[0] == Profile({"em": EM, "ph": PH}, fbp="fb.1.1.anon", user_key=user)
    assert out[1] == Profile({"em": EM, "ph": PH}, fbp="fb.1.1.user")
    assert out[2] is None


def test_delivery_enriches_a_batch_with_one_profile_lookup():
    # GIVEN two events of a visitor whose identify left a hashed email, and an identify in the batch
    fakes = Fakes()
    asked: list[list[str]] = []

    def lookup(keys: list[str]) -> dict[str, Any]:
        asked.append(keys)
        return {profile_key("src-1", "a", "anon-1"): Profile({"em": EM})}

    records = [
        sqs_record(track("Order Completed", {"total": 5, "currency": "EUR"}, messageId="m-1")),
        sqs_record(track("Lead Generated", messageId="m-2")),
        sqs_record({"type": "identify", "messageId": "m-3", "anonymousId": "anon-1", "traits": {}}),
    ]
    # WHEN planned
    planned = plan(records, fakes.deps(profiles=lookup), SAMPLE_NOW)
    # THEN one lookup for the batch (identify not asked about), and em on both mapped events
    assert asked == [[profile_key("src-1", "a", "anon-1")] * 2]
    ems = [p.event.payload["user_data"].get("em") for p in planned.jobs["int-1"].items]
    assert ems == [EM, EM]


def test_delivery_goes_on_without_profiles_when_they_cannot_be_read():
    fakes = Fakes()

    def broken(keys: list[str]) -> dict[str, Any]:
        raise RuntimeError("throttled")

    planned = plan([sqs_record(track("Lead Generated"))], fakes.deps(profiles=broken), SAMPLE_NOW)
    assert len(planned.jobs["int-1"].items) == 1
    assert fakes.log.lines[0][:2] == ("warning", "profiles unreadable; the batch is delivered without them")


def test_with_profile_adds_no_fbp_or_fbc_to_an_event_refusing_advertising():
    # GIVEN an event whose consent refuses advertising, and a profile with fbp / fbc
    event = parse_event(
        track("Order Completed", context={"consent": {"categoryPreferences": {"Advertising": False}}})
    )
    merged = with_profile(event, Profile({"em": EM}, fbp="fb.1.2.2", fbc="fb.1.3.Click"))
    # THEN the hashed traits come (the integration's consent rule decides delivery), the ids do not
    assert merged["context"]["traits"] == {"email": EM}
    assert "fbp" not in merged["context"]
    assert "fbc" not in merged["context"]
