"""Mapping of one event: the seed's Purchase, event_time, pre-validation, identity, app and LDU rules."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.events import parse_event, parse_event_json
from relay.vendors.meta_capi import mapping
from relay.vendors.meta_capi.limits import EXTINFO_SLOTS
from relay.vendors.meta_capi.mapping import Rejected, ServerEvent, Skipped, map_event, scrub_url
from tests.support import SAMPLE_NOW, UA, integration, load_sample, track


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _map(raw: dict[str, Any], variant: str = "default", now: datetime = SAMPLE_NOW, **config: Any):
    return map_event(parse_event(raw), integration(variant, **config), now=now)


def _sent(outcome: ServerEvent | Skipped | Rejected) -> ServerEvent:
    assert isinstance(outcome, ServerEvent), outcome
    return outcome


# The seed's "Meta CAPI payload sent by Signal" (seed/meta-capi-integration.txt), data[0].
SEED_PAYLOAD: dict[str, Any] = {
    "event_name": "Purchase",
    "event_time": 1706540000,
    "event_id": "evt_abc123def456",
    "event_source_url": "https://example.com/checkout/confirmation",
    "action_source": "website",
    "user_data": {
        "client_ip_address": "203.0.113.50",
        "client_user_agent": "Mozilla/5.0 ...",
        "fbp": "fb.1.1706540000.1234567890",
        "fbc": "fb.1.1706539000.AbCdEfGhIjKl",
        "external_id": "a1b2c3d4e5f6...",
    },
    "custom_data": {
        "currency": "USD",
        "value": 129.99,
        "order_id": "ORD-001",
        "content_ids": ["SKU-A", "SKU-B"],
        "content_type": "product",
        "contents": [
            {"id": "SKU-A", "quantity": 2, "item_price": 49.99},
            {"id": "SKU-B", "quantity": 1, "item_price": 30.01},
        ],
        "num_items": 3,
    },
}


def test_seed_purchase_matches_the_seed_payload_apart_from_computed_values():
    # GIVEN the seed's _df.track("Order Completed", ...) as the collector queues it (events/default.json[0])
    raw = load_sample("default.json")[0]
    # WHEN it is mapped
    sent = _sent(_map(raw))
    payload = sent.payload
    # THEN computed values are what the rules say ...
    assert payload["event_time"] == int(datetime(2026, 11, 26, 12, 1, tzinfo=UTC).timestamp())
    assert payload["event_id"] == raw["messageId"]
    assert payload["user_data"]["external_id"] == sha(raw["anonymousId"].lower())
    # ... and everything else equals the seed's data[0]; the seed's cookie values carry second-based
    # timestamps and an elided user agent, ours carry the sample's values (milliseconds, per Meta)
    assert payload["user_data"]["fbp"] == raw["context"]["fbp"]
    assert payload["user_data"]["fbc"] == raw["context"]["fbc"]
    assert payload["user_data"]["client_user_agent"] == raw["context"]["userAgent"]
    computed = {"event_time", "event_id"}
    computed_user = {"external_id", "fbp", "fbc", "client_user_agent"}
    assert {k: v for k, v in payload.items() if k not in computed | {"user_data", "event_source_url"}} == {
        k: v for k, v in SEED_PAYLOAD.items() if k not in computed | {"user_data", "event_source_url"}
    }
    assert payload["event_source_url"].split("?")[0] == SEED_PAYLOAD["event_source_url"]
    assert {k: v for k, v in payload["user_data"].items() if k not in computed_user} == {
        k: v for k, v in SEED_PAYLOAD["user_data"].items() if k not in computed_user
    }
    assert set(payload["user_data"]) == set(SEED_PAYLOAD["user_data"])


def test_event_id_prefers_properties_event_id_then_message_id():
    # GIVEN one event with properties.event_id and one without
    shared = track("Lead Generated", {"event_id": "pixel-shared-1"})
    plain = track("Lead Generated")
    # WHEN mapped
    # THEN event_id is the pixel-shared id, else messageId
    assert _sent(_map(shared)).event_id == "pixel-shared-1"
    assert _sent(_map(plain)).event_id == "m-1"


def test_event_without_message_id_gets_a_stable_content_id():
    # GIVEN the same event twice without messageId
    raw = track("Lead Generated")
    del raw["messageId"]
    # WHEN mapped twice
    first, second = _sent(_map(raw)).event_id, _sent(_map(dict(raw))).event_id
    # THEN both carry the same derived id (retries stay deduplicable)
    assert first == second
    assert first.startswith("relay-")


def test_event_time_falls_back_to_received_at_and_clamps_future_times():
    # GIVEN an event with only receivedAt, and one from the future
    received = track("Lead Generated", timestamp=None, receivedAt="2026-11-26T12:30:00Z")
    future = track("Lead Generated", timestamp="2026-11-27T09:00:00Z")
    # WHEN mapped
    # THEN receivedAt is used, and the future time becomes now
    assert _sent(_map(received)).event_time == int(datetime(2026, 11, 26, 12, 30, tzinfo=UTC).timestamp())
    assert _sent(_map(future)).event_time == int(SAMPLE_NOW.timestamp())


@pytest.mark.parametrize(
    ("age", "accepted"),
    [(timedelta(days=7) - timedelta(seconds=1), True), (timedelta(days=7, seconds=1), False)],
)
def test_event_older_than_seven_days_is_rejected(age, accepted):
    # GIVEN an event of the given age
    raw = track("Lead Generated", timestamp=(SAMPLE_NOW - age).isoformat())
    # WHEN mapped
    outcome = _map(raw)
    # THEN it is sent only inside Meta's 7-day window
    assert isinstance(outcome, ServerEvent) is accepted
    if not accepted:
        assert isinstance(outcome, Rejected)
        assert outcome.reason.startswith("timestamp: ")


def test_missing_timestamp_is_rejected_naming_the_field():
    # GIVEN an event with no time at all
    raw = track("Lead Generated", timestamp=None)
    # WHEN mapped
    outcome = _map(raw)
    # THEN it is rejected naming timestamp
    assert isinstance(outcome, Rejected)
    assert outcome.reason.startswith("timestamp: missing")


@pytest.mark.parametrize(
    ("context", "reason"),
    [
        ({"userAgent": UA, "page": {"url": "ftp://a.example/"}}, "context.page.url: "),
        ({"userAgent": UA, "page": {"url": "/relative"}}, "context.page.url: "),
        ({"page": {"url": "https://a.example/"}}, "context.userAgent: "),
    ],
)
def test_website_events_need_url_and_user_agent(context, reason):
    # GIVEN a website event without an absolute URL or a user agent
    raw = track("Lead Generated", context=context)
    # WHEN mapped
    outcome = _map(raw)
    # THEN it is rejected naming the missing field
    assert isinstance(outcome, Rejected)
    assert outcome.reason.startswith(reason)


def test_purchase_without_value_or_currency_is_rejected():
    # GIVEN purchases missing currency, then value
    no_currency = track("Order Completed", {"total": 10})
    no_value = track("Order Completed", {"currency": "USD"})
    # WHEN mapped
    a, b = _map(no_currency), _map(no_value)
    # THEN both are rejected with a reason naming the field
    assert isinstance(a, Rejected)
    assert a.reason == "properties.currency: required for Purchase"
    assert isinstance(b, Rejected)
    assert b.reason.startswith("properties.total: Purchase needs a value")


@pytest.mark.parametrize("currency", ["US", "usdollar", "XYZ", 840])
def test_invalid_currency_is_rejected(currency):
    # GIVEN a lead with a currency that is not ISO-4217
    raw = track("Lead Generated", {"value": 1, "currency": currency})
    # WHEN mapped
    outcome = _map(raw)
    # THEN it is rejected naming properties.currency
    assert isinstance(outcome, Rejected)
    assert outcome.reason.startswith("properties.currency: ")


def test_bad_product_quantity_is_rejected_naming_the_product():
    # GIVEN a product with a fractional quantity
    raw = track(
        "Order Completed",
        {"total": 1, "currency": "USD", "products": [{"sku": "a"}, {"sku": "b", "quantity": 1.5}]},
    )
    # WHEN mapped
    outcome = _map(raw)
    # THEN the reason points at that product
    assert isinstance(outcome, Rejected)
    assert outcome.reason.startswith("properties.products[1].quantity: ")


@pytest.mark.parametrize(
    "user",
    [
        {
            "context": {
                "userAgent": UA,
                "page": {"url": "https://a.example/"},
                "traits": {"birthday": "1990-01-02"},
            }
        },
        {
            "context": {
                "userAgent": UA,
                "page": {"url": "https://a.example/"},
                "traits": {"city": "Paris", "country": "FR"},
            }
        },
    ],
)
def test_insufficient_customer_information_is_rejected(user):
    # GIVEN an event whose only user data is one of Meta's "insufficient" combinations
    raw = track("Lead Generated", **user)
    del raw["anonymousId"]
    # WHEN mapped
    outcome = _map(raw)
    # THEN it is rejected naming user_data
    assert isinstance(outcome, Rejected)
    assert outcome.reason.startswith("user_data: insufficient customer information")


def test_user_data_hashes_traits_and_keeps_identifiers_clear():
    # GIVEN an event with traits in both spellings, an address and identifiers
    traits = {
        "email": " Jane.Doe@Example.COM ",
        "phone": "07700 900123",
        "first_name": "Jane",
        "lastName": "Doe-Smith",
        "gender": "Female",
        "birthday": "21/04/1990",
        "address": {
            "city": "London",
            "state": "Greater London",
            "postal_code": "SW1A 1AA",
            "country": "United Kingdom",
        },
    }
    raw = track(
        "Lead Generated",
        userId="User-42",
        context={
            "userAgent": UA,
            "ip": " 2001:DB8::1 ",
            "page": {"url": "https://a.example/"},
            "fbp": "fb.1.1795694400000.1234567890",
            "traits": traits,
        },
    )
    # WHEN mapped
    users = _sent(_map(raw)).payload["user_data"]
    # THEN personal values are normalised and hashed, identifiers are validated and clear
    assert users == {
        "client_ip_address": "2001:db8::1",
        "client_user_agent": UA,
        "fbp": "fb.1.1795694400000.1234567890",
        "external_id": [sha("anon-1"), sha("user-42")],
        "em": sha("jane.doe@example.com"),
        "ph": sha("447700900123"),
        "fn": sha("jane"),
        "ln": sha("doesmith"),
        "ge": sha("f"),
        "db": sha("19900421"),
        "ct": sha("london"),
        "st": sha("greaterlondon"),
        "zp": sha("sw1a1aa"),
        "country": sha("gb"),
    }


def test_top_level_identify_traits_override_context_traits_and_default_country_sets_phone_region():
    # GIVEN context traits and top-level traits disagreeing, and a national US number without a country
    raw = track(
        "Lead Generated",
        traits={"email": "new@example.com"},
        context={
            "userAgent": UA,
            "page": {"url": "https://a.example/"},
            "traits": {"email": "old@example.com", "phone": "(650) 555-1212"},
        },
    )
    # WHEN mapped for an integration whose default_country is US
    users = _sent(_map(raw, default_country="us")).payload["user_data"]
    # THEN the top-level trait wins and the phone gets the US country code
    assert users["em"] == sha("new@example.com")
    assert users["ph"] == sha("16505551212")


def test_invalid_ip_and_cookies_are_dropped_not_sent():
    # GIVEN a malformed IP, fbp and fbc
    raw = track(
        "Lead Generated",
        context={
            "userAgent": UA,
            "ip": "999.1.1.1",
            "page": {"url": "https://a.example/"},
            "fbp": "fb.1.abc.123",
            "fbc": "nonsense",
        },
    )
    # WHEN mapped
    users = _sent(_map(raw)).payload["user_data"]
    # THEN none of them is sent
    assert {"client_ip_address", "fbp", "fbc"}.isdisjoint(users)


def test_fbc_is_built_from_fbclid_keeping_its_case():
    # GIVEN a landing URL with an fbclid and no _fbc cookie
    fbclid = "IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk"
    raw = track(
        "Lead Generated",
        context={"userAgent": UA, "page": {"url": f"https://a.example/?x=1&fbclid={fbclid}#top"}},
    )
    # WHEN mapped
    sent = _sent(_map(raw))
    # THEN fbc = fb.1.{event time in ms}.{fbclid as is}, and the URL sent keeps the fbclid byte for byte
    assert sent.payload["user_data"]["fbc"] == f"fb.1.{sent.event_time * 1000}.{fbclid}"
    assert sent.payload["event_source_url"] == f"https://a.example/?fbclid={fbclid}"


def test_urls_keep_only_marketing_parameters_byte_for_byte():
    # GIVEN a URL carrying an e-mail and a phone in the query, next to fbclid and utm parameters
    url = "https://a.example/thanks?email=jane%40example.com&utm_source=x&phone=123&fbclid=AbC&ref=jane@example.com#f"
    # WHEN scrubbed
    # THEN only the marketing parameters stay, byte-identical, and the fragment is gone
    assert scrub_url(url) == "https://a.example/thanks?utm_source=x&fbclid=AbC"
    assert scrub_url("https://a.example/?email=a@b.co") == "https://a.example/"
    assert scrub_url("ftp://a.example/") is None


def test_event_source_and_referrer_urls_lose_userinfo_tokens_and_fragments():
    # GIVEN a landing URL with a reset token, a session and an access token in the fragment, and a
    # referrer with credentials in its userinfo
    page = {
        "url": "https://shop.example.com/reset?reset_token=r3s3t&session=s3ss&utm_medium=cpc#access_token=t0k",
        "referrer": "https://user:password@ref.example.com/path?q=1",
    }
    raw = track("Lead Generated", context={"userAgent": UA, "page": page})
    # WHEN mapped
    payload = _sent(_map(raw)).payload
    # THEN Meta gets scheme, host, path and the campaign parameter only
    assert payload["event_source_url"] == "https://shop.example.com/reset?utm_medium=cpc"
    assert payload["referrer_url"] == "https://ref.example.com/path"


def test_app_event_builds_app_data_with_16_extinfo_slots():
    # GIVEN the sample mobile screen event
    raw = load_sample("default.json")[-1]
    # WHEN mapped
    payload = _sent(_map(raw)).payload
    # THEN it is an app event with Meta's positional extinfo and no website fields
    assert payload["action_source"] == "app"
    assert "event_source_url" not in payload
    assert payload["app_data"] == {
        "advertiser_tracking_enabled": True,
        "application_tracking_enabled": True,
        "extinfo": [
            "i2",
            "com.example.shop",
            "4.2.0",
            "420",
            "18.1",
            "iPhone15,2",
            "en-GB",
            "GMT",
            "EE",
            "1179",
            "2556",
            "3.0",
            "",
            "",
            "",
            "Europe/London",
        ],
    }
    assert len(payload["app_data"]["extinfo"]) == EXTINFO_SLOTS
    assert payload["user_data"]["madid"] == "6D92078A-8246-4BA4-AE5B-76104861E7DC"
    assert payload["user_data"]["anon_id"] == raw["anonymousId"]


def test_app_event_without_a_known_platform_is_rejected():
    # GIVEN an app event whose OS is neither iOS nor Android
    raw = track("Lead Generated", context={"app": {"name": "x"}, "os": {"name": "Tizen", "version": "7"}})
    # WHEN mapped
    outcome = _map(raw)
    # THEN the reason names context.os.name
    assert isinstance(outcome, Rejected)
    assert outcome.reason.startswith("context.os.name: ")


def test_ldu_adds_data_processing_options():
    # GIVEN an integration with Limited Data Use for California
    raw = track("Lead Generated")
    # WHEN mapped
    payload = _sent(_map(raw, ldu={"country": 1, "state": 1000})).payload
    # THEN the three LDU fields are set
    assert payload["data_processing_options"] == ["LDU"]
    assert payload["data_processing_options_country"] == 1
    assert payload["data_processing_options_state"] == 1000


@pytest.mark.parametrize(
    ("consent", "categories", "require", "sent"),
    [
        ({"Advertising": True}, ["advertising"], False, True),
        ({"advertising": False}, ["advertising"], False, False),
        ({"analytics": True}, ["advertising"], False, False),
        (None, ["advertising"], False, True),
        (None, ["advertising"], True, False),
        ({"advertising": True, "marketing": False}, ["advertising", "marketing"], False, False),
    ],
)
def test_consent(consent, categories, require, sent):
    # GIVEN an event with (or without) consent preferences
    context = {"userAgent": UA, "page": {"url": "https://a.example/"}}
    if consent is not None:
        context["consent"] = {"categoryPreferences": consent}
    raw = track("Lead Generated", context=context)
    # WHEN mapped for an integration needing the categories
    outcome = _map(raw, consent_categories=categories, require_consent=require)
    # THEN it is sent only when every category is granted
    assert isinstance(outcome, ServerEvent) is sent
    if not sent:
        assert isinstance(outcome, Skipped)
        assert outcome.reason == "consent"


@pytest.mark.parametrize("granted", ["true", "True", "yes", "on", "1", 1, 1.0, "", None, [], {}])
@pytest.mark.parametrize("read", ["python", "json"])
def test_only_json_true_grants_consent_and_nothing_else_rejects_the_event(granted, read):
    # GIVEN an event whose advertising preference is a truthy-looking value other than JSON true
    context = {"userAgent": UA, "page": {"url": "https://a.example/"}}
    context["consent"] = {"categoryPreferences": {"Advertising": granted, "analytics": True}}
    raw = track("Lead Generated", context=context)
    event = parse_event(raw) if read == "python" else parse_event_json(json.dumps(raw))
    # WHEN mapped for an integration needing advertising
    outcome = map_event(event, integration(consent_categories=["advertising"]), now=SAMPLE_NOW)
    # THEN the event is valid but skipped for consent (the value is kept as sent, not coerced)
    assert isinstance(outcome, Skipped)
    assert outcome.reason == "consent"
    consent = event["context"].get("consent")
    assert consent is not None
    assert consent["category_preferences"]["Advertising"] == granted


def test_identify_and_disabled_are_skipped_with_reasons():
    # GIVEN an identify call, and a track call for a disabled integration
    identify = {"type": "identify", "userId": "u", "traits": {"email": "a@b.co"}}
    # WHEN mapped
    a = _map(identify)
    b = _map(track("Lead Generated"), enabled=False)
    # THEN both are skipped with a reason code
    assert isinstance(a, Skipped)
    assert a.reason == "identify"
    assert isinstance(b, Skipped)
    assert b.reason == "disabled"


def test_fragments_are_always_dropped_from_urls():
    # GIVEN URLs whose fragment carries part of an e-mail address, a personal key, a route or nothing personal
    # WHEN scrubbed / THEN no fragment survives, the rest of the URL (marketing parameters only) stays
    assert scrub_url("https://a.example/?email=jo#@A1000.COM&x=1") == "https://a.example/"
    assert scrub_url("https://a.example/p#phone=123") == "https://a.example/p"
    assert scrub_url("https://a.example/p?utm_id=1#top") == "https://a.example/p?utm_id=1"
    assert scrub_url("https://a.example/#/thanks?email=x%40y.co") == "https://a.example/"
    assert scrub_url("https://a.example/#/thanks?first_name=Jo") == "https://a.example/"


def _page_call(properties: dict[str, Any], page: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "page",
        "messageId": "m-page",
        "anonymousId": "anon-1",
        "timestamp": "2026-11-26T12:00:00Z",
        "properties": properties,
        "context": {"userAgent": UA, "ip": "198.51.100.7", "page": page or {}},
    }


def test_page_call_with_url_only_in_properties_is_sent():
    # GIVEN a Segment page call whose URL and referrer are only in properties (the page spec's place)
    raw = _page_call({"url": "https://shop.example.com/landing", "referrer": "https://www.google.com/"})
    # WHEN mapped
    payload = _sent(_map(raw)).payload
    # THEN they become event_source_url and referrer_url instead of a missing-URL rejection
    assert payload["event_name"] == "PageView"
    assert payload["event_source_url"] == "https://shop.example.com/landing"
    assert payload["referrer_url"] == "https://www.google.com/"


def test_context_page_url_wins_over_properties_url():
    # GIVEN a page call with both context.page.url and a different properties.url
    raw = _page_call(
        {"url": "https://shop.example.com/from-properties", "referrer": "https://b.example/"},
        page={"url": "https://shop.example.com/from-context", "referrer": "https://a.example/"},
    )
    # WHEN mapped
    payload = _sent(_map(raw)).payload
    # THEN context.page's values are sent
    assert payload["event_source_url"] == "https://shop.example.com/from-context"
    assert payload["referrer_url"] == "https://a.example/"


def test_fbc_is_built_from_the_fbclid_in_properties_url():
    # GIVEN a page call whose only URL (properties.url) carries an fbclid, and no _fbc cookie
    fbclid = "IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk"
    raw = _page_call({"url": f"https://shop.example.com/?fbclid={fbclid}"})
    # WHEN mapped
    sent = _sent(_map(raw))
    # THEN fbc is built from that URL's fbclid, case untouched
    assert sent.payload["user_data"]["fbc"] == f"fb.1.{sent.event_time * 1000}.{fbclid}"
    assert sent.payload["event_source_url"] == f"https://shop.example.com/?fbclid={fbclid}"


def test_track_properties_url_is_not_the_page_url():
    # GIVEN a track event whose properties.url is a product URL and with no context.page.url
    raw = track(
        "Product Viewed",
        {"product_id": "p1", "url": "https://shop.example.com/p1"},
        context={"userAgent": UA},
    )
    # WHEN mapped
    payload = _sent(_map(raw)).payload
    # THEN it is not sent with the product's URL: naming no page, it is a backend's event (`other`)
    assert payload["action_source"] == "other"
    assert "event_source_url" not in payload


def test_a_backends_track_without_a_page_is_other_and_needs_no_user_agent():
    # GIVEN a track from a server library: no page, no user agent, an id and an e-mail
    raw = track("Order Completed", {"total": 10, "currency": "USD"}, context={"traits": {"email": "a@b.co"}})
    # WHEN mapped
    payload = _sent(_map(raw)).payload
    # THEN it is sent as `other`, with neither event_source_url nor client_user_agent
    assert payload["action_source"] == "other"
    assert "event_source_url" not in payload
    assert set(payload["user_data"]) == {"em", "external_id"}


def test_page_call_without_any_url_is_rejected_naming_both_places():
    # GIVEN a page call with neither context.page.url nor properties.url
    raw = _page_call({"title": "Home"})
    # WHEN mapped
    outcome = _map(raw)
    # THEN the reason names context.page.url and mentions properties.url
    assert isinstance(outcome, Rejected)
    assert outcome.reason == (
        "context.page.url: an absolute http(s) URL is required for website events"
        " (page calls may send it as properties.url)"
    )


def test_personal_data_is_scrubbed_from_properties_url():
    # GIVEN a page call whose properties.url carries an e-mail in the query
    raw = _page_call({"url": "https://shop.example.com/?email=jane%40example.com&utm_source=x"})
    # WHEN mapped
    payload = _sent(_map(raw)).payload
    # THEN the personal parameter is removed as for context.page.url
    assert payload["event_source_url"] == "https://shop.example.com/?utm_source=x"


@settings(max_examples=300, deadline=None)
@given(
    when=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    offset_minutes=st.integers(min_value=-1439, max_value=1439),
    zone_kind=st.sampled_from(["pydantic", "timezone", "zoneinfo"]),
)
def test_posix_seconds_is_timestamp_for_every_kind_of_zone(when, offset_minutes, zone_kind):
    # GIVEN an aware datetime in a pydantic TzInfo, a datetime.timezone or a zone with DST
    from zoneinfo import ZoneInfo

    from pydantic_core import TzInfo

    zone = {
        "pydantic": lambda: TzInfo(offset_minutes * 60),
        "timezone": lambda: timezone(timedelta(minutes=offset_minutes)),
        "zoneinfo": lambda: ZoneInfo("America/New_York"),
    }[zone_kind]()
    aware = when.replace(tzinfo=zone)
    # WHEN its POSIX seconds are computed
    # THEN they are exactly datetime.timestamp()'s (the same float)
    assert mapping._posix_seconds(aware) == aware.timestamp()
