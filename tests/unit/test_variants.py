"""Golden tests: every row of DESIGN §5, per variant, as an exact (event_name, custom_data) pair."""

from __future__ import annotations

from typing import Any

import pytest

from relay.events import parse_event
from relay.vendors.meta_capi.mapping import Rejected, ServerEvent, Skipped, map_event
from tests.support import SAMPLE_NOW, integration, track

PRODUCTS = [
    {"product_id": "SKU-A", "name": "Widget", "price": 49.99, "quantity": 2},
    {"sku": "SKU-B", "price": 30.01},
]
CONTENTS = [
    {"id": "SKU-A", "quantity": 2, "item_price": 49.99},
    {"id": "SKU-B", "quantity": 1, "item_price": 30.01},
]
TRIP = {"checkin_date": "2026-12-20", "checkout_date": "2026-12-27", "destination": "Lisbon", "num_adults": 2}
FLIGHT = {
    "origin_airport": "LHR",
    "destination_airport": "LIS",
    "departing_departure_date": "2026-12-20",
    "returning_departure_date": "2026-12-27",
    "num_children": 1,
}
ORDER = {"order_id": "O-1", "total": 129.99, "currency": "usd", "products": PRODUCTS}
PURCHASE = {
    "currency": "USD",
    "value": 129.99,
    "order_id": "O-1",
    "content_ids": ["SKU-A", "SKU-B"],
    "content_type": "product",
    "contents": CONTENTS,
    "num_items": 3,
}
ONE = {
    "product_id": "SKU-A",
    "name": "Widget",
    "category": "Gizmos",
    "price": 49.99,
    "quantity": 3,
    "currency": "EUR",
}

ROWS: list[tuple[str, str, dict[str, Any], str, dict[str, Any] | None]] = [
    # variant, spec event, properties, Meta event, custom_data
    ("default", "Order Completed", ORDER, "Purchase", PURCHASE),
    ("default", "Product Purchased", ORDER, "Purchase", PURCHASE),
    (
        "default",
        "Product Added",
        ONE,
        "AddToCart",
        {
            "currency": "EUR",
            "value": 149.97,
            "content_ids": ["SKU-A"],
            "content_type": "product",
            "contents": [{"id": "SKU-A", "quantity": 3, "item_price": 49.99}],
            "content_name": "Widget",
        },
    ),
    (
        "default",
        "Checkout Started",
        {"revenue": 120, "currency": "USD", "products": PRODUCTS},
        "InitiateCheckout",
        {
            "currency": "USD",
            "value": 120,
            "content_ids": ["SKU-A", "SKU-B"],
            "contents": CONTENTS,
            "num_items": 3,
        },
    ),
    (
        "default",
        "Product Viewed",
        {**ONE, "quantity": None},
        "ViewContent",
        {
            "currency": "EUR",
            "value": 49.99,
            "content_ids": ["SKU-A"],
            "content_type": "product",
            "contents": [{"id": "SKU-A", "quantity": 1, "item_price": 49.99}],
            "content_name": "Widget",
            "content_category": "Gizmos",
        },
    ),
    (
        "default",
        "Lead Generated",
        {"value": "25.50", "currency": "GBP"},
        "Lead",
        {"currency": "GBP", "value": 25.5},
    ),
    ("default", "Lead Generated", {}, "Lead", None),
    (
        "default",
        "Signed Up",
        {"status": "registered", "content_name": "Newsletter"},
        "CompleteRegistration",
        {"content_name": "Newsletter", "status": "registered"},
    ),
    ("default", "Products Searched", {"query": "blue widget"}, "Search", {"search_string": "blue widget"}),
    (
        "default",
        "Product Added to Wishlist",
        {"product_id": 42, "price": 10},
        "AddToWishlist",
        {"value": 10, "content_ids": ["42"], "contents": [{"id": "42", "quantity": 1, "item_price": 10}]},
    ),
    (
        "retail",
        "Product List Viewed",
        {"list_id": "l1", "products": PRODUCTS},
        "ViewContent",
        {"content_ids": ["SKU-A", "SKU-B"], "content_type": "product"},
    ),
    (
        "retail",
        "Product List Viewed",
        {"category": "Deals"},
        "ViewContent",
        {"content_ids": ["Deals"], "content_type": "product_group"},
    ),
    (
        "retail",
        "Payment Info Entered",
        {"total": 80, "currency": "USD", "products": PRODUCTS},
        "AddPaymentInfo",
        {"currency": "USD", "value": 80, "contents": CONTENTS},
    ),
    (
        "retail",
        "Order Refunded",
        {"order_id": "O-1", "total": 129.99, "currency": "USD", "email": "a@b.co"},
        "OrderRefunded",
        {"currency": "USD", "value": 129.99, "order_id": "O-1"},
    ),
    (
        "travel",
        "Hotel Searched",
        {"query": "Lisbon", **TRIP},
        "Search",
        {"content_type": "hotel", "search_string": "Lisbon", **TRIP},
    ),
    (
        "travel",
        "Flight Searched",
        {"query": "LHR-LIS", **FLIGHT},
        "Search",
        {"content_type": "flight", "search_string": "LHR-LIS", **FLIGHT},
    ),
    (
        "travel",
        "Products Searched",
        {"query": "Lisbon", "content_type": "hotel", **TRIP},
        "Search",
        {"content_type": "hotel", "search_string": "Lisbon", **TRIP},
    ),
    (
        "travel",
        "Booking Started",
        {"value": 840, "currency": "EUR", **TRIP},
        "InitiateCheckout",
        {"currency": "EUR", "value": 840, **TRIP},
    ),
    (
        "travel",
        "Booking Completed",
        {"booking_id": "BK-1", "total": 840, "currency": "EUR", **FLIGHT},
        "Purchase",
        {"currency": "EUR", "value": 840, "order_id": "BK-1", **FLIGHT},
    ),
    (
        "travel",
        "Booking Cancelled",
        {"booking_id": "BK-1", "value": 840, "currency": "EUR"},
        "BookingCancelled",
        {"currency": "EUR", "value": 840, "order_id": "BK-1"},
    ),
    (
        "b2b_saas",
        "Trial Started",
        {"value": 0, "currency": "USD", "predicted_ltv": "1200.5"},
        "StartTrial",
        {"currency": "USD", "value": 0, "predicted_ltv": 1200.5},
    ),
    (
        "b2b_saas",
        "Subscription Started",
        {"value": 99, "currency": "USD", "predicted_ltv": 2376, "subscription_id": "sub_1"},
        "Subscribe",
        {"currency": "USD", "value": 99, "predicted_ltv": 2376},
    ),
    (
        "b2b_saas",
        "Demo Requested",
        {"value": 50, "currency": "USD"},
        "Lead",
        {"currency": "USD", "value": 50},
    ),
    ("b2b_saas", "Form Submitted", {"form": "x"}, "Lead", None),
    ("b2b_saas", "Meeting Scheduled", {"kind": "demo"}, "Schedule", None),
    ("b2b_saas", "Application Submitted", {}, "SubmitApplication", None),
    ("b2b_saas", "Contact Requested", {}, "Contact", None),
    (
        "b2b_saas",
        "Subscription Cancelled",
        {"value": 99, "currency": "USD"},
        "SubscriptionCancelled",
        {"currency": "USD", "value": 99},
    ),
]


def _map(variant: str, raw: dict[str, Any], **config: Any) -> ServerEvent | Skipped | Rejected:
    return map_event(parse_event(raw), integration(variant, **config), now=SAMPLE_NOW)


def _sent(outcome: ServerEvent | Skipped | Rejected) -> ServerEvent:
    assert isinstance(outcome, ServerEvent), outcome
    return outcome


@pytest.mark.parametrize(
    ("variant", "spec", "props", "meta", "custom"), ROWS, ids=[f"{r[0]}:{r[1]}" for r in ROWS]
)
def test_variant_row(variant, spec, props, meta, custom):
    # GIVEN a spec event of the row, for an integration of the row's variant
    raw = track(spec, props)
    # WHEN it is mapped
    sent = _sent(_map(variant, raw))
    # THEN the Meta event name and custom_data are exactly the row's
    assert sent.payload["event_name"] == meta
    assert sent.payload.get("custom_data") == custom


@pytest.mark.parametrize("variant", ["default", "retail", "travel", "b2b_saas"])
@pytest.mark.parametrize("type_", ["page", "screen"])
def test_page_and_screen_are_pageview_in_every_variant(variant, type_):
    # GIVEN a page (or web-context screen) call
    raw = track("ignored", type=type_)
    del raw["event"]
    # WHEN mapped in any variant
    sent = _sent(_map(variant, raw))
    # THEN it is a PageView without custom_data
    assert sent.payload["event_name"] == "PageView"
    assert "custom_data" not in sent.payload


@pytest.mark.parametrize("variant", ["retail", "travel", "b2b_saas"])
def test_every_variant_includes_the_default_table(variant):
    # GIVEN a default-table event in another variant
    sent = _sent(_map(variant, track("Order Completed", ORDER)))
    # THEN it maps as in the default table
    assert sent.payload["custom_data"] == PURCHASE


def test_variant_rows_do_not_leak_into_default():
    # GIVEN a retail-only spec event under the default variant
    sent = _sent(_map("default", track("Order Refunded", {"order_id": "O-1", "total": 5, "currency": "USD"})))
    # THEN it passes through as a custom event named after the spec event
    assert sent.payload["event_name"] == "Order Refunded"
    assert sent.payload["custom_data"] == {"order_id": "O-1", "total": 5, "currency": "USD"}


def test_subscription_id_goes_to_user_data_unhashed():
    # GIVEN a b2b Subscription Started with a subscription id
    props = {"value": 99, "currency": "USD", "subscription_id": "sub_1"}
    # WHEN mapped
    sent = _sent(_map("b2b_saas", track("Subscription Started", props)))
    # THEN the id is in user_data as sent, not in custom_data
    assert sent.payload["user_data"]["subscription_id"] == "sub_1"
    assert "subscription_id" not in sent.payload["custom_data"]


def test_spec_names_match_case_and_separator_insensitively():
    # GIVEN snake_case and lower-case spellings of spec events
    names = ["order_completed", "ORDER COMPLETED", "order-completed"]
    # WHEN mapped
    events = [_sent(_map("default", track(n, ORDER))).payload["event_name"] for n in names]
    # THEN each is a Purchase
    assert events == ["Purchase", "Purchase", "Purchase"]


def test_custom_event_passes_scalars_without_personal_data():
    # GIVEN an unmapped event with scalar, nested and personal properties (by name and by shape)
    props = {
        "video_id": "v-1",
        "position": 12.5,
        "autoplay": False,
        "watched_at": "2026-11-26T12:00:00Z",
        "order_id": "5123456789012",
        "nested": {"a": 1},
        "tags": ["a", "b"],
        "Email": "x@y.com",
        "phone_number": "+1 650 555 1212",
        "first_name": "Jane",
        "zip": "94035",
        "customer_phone": "+1 212 555 0100",
        "billing_name": "Jane Doe",
        "shipping_address": "1 Main St",
        "client_ip": "198.51.100.23",
        "name": "Jane Doe",
        "note": "contact me at jane@example.com",
        "callback": "(212) 555-0100",
        "origin": "2001:db8::7",
        "reset_token": "r3s3t",
        "currency": "eur",
    }
    # WHEN mapped
    sent = _sent(_map("default", track("Video Played", props)))
    # THEN only the non-personal scalars pass, currency upper-cased
    assert sent.payload["event_name"] == "Video Played"
    assert sent.payload["custom_data"] == {
        "video_id": "v-1",
        "position": 12.5,
        "autoplay": False,
        "watched_at": "2026-11-26T12:00:00Z",
        "order_id": "5123456789012",
        "currency": "EUR",
    }


def test_text_fields_of_the_tables_are_dropped_when_they_hold_personal_data():
    # GIVEN a search for an e-mail address, a product named like a phone number and a destination IP
    search = _sent(_map("default", track("Products Searched", {"query": "jane@example.com"})))
    viewed = _sent(
        _map("default", track("Product Viewed", {"product_id": "P1", "name": "+1 212 555 0100", "price": 1}))
    )
    hotel = _sent(_map("travel", track("Hotel Searched", {"query": "rome", "destination": "203.0.113.9"})))
    # WHEN mapped / THEN those fields are not sent, the rest of the row is
    assert "custom_data" not in search.payload
    assert "content_name" not in viewed.payload["custom_data"]
    assert viewed.payload["custom_data"]["content_ids"] == ["P1"]
    assert hotel.payload["custom_data"] == {"search_string": "rome", "content_type": "hotel"}


def test_custom_event_name_is_trimmed_to_50_characters():
    # GIVEN a very long event name with surrounding and repeated white space
    name = "  A   " + "x" * 80
    # WHEN mapped
    sent = _sent(_map("default", track(name)))
    # THEN the name is collapsed and cut at Meta's 50-character limit
    assert sent.payload["event_name"] == ("A " + "x" * 80)[:50]
    assert len(sent.payload["event_name"]) == 50


def test_event_mappings_override_rows_and_use_the_target_rows_custom_data():
    # GIVEN overrides: a custom event to Purchase, a standard row to a custom name, one dropped
    mappings = {"Deal Closed": "Purchase", "Signed Up": "Registration", "Products Searched": None}
    # WHEN events are mapped
    closed = _sent(_map("default", track("deal closed", ORDER), event_mappings=mappings))
    signed = _sent(_map("default", track("Signed Up", {"status": "ok"}), event_mappings=mappings))
    dropped = _map("default", track("Products Searched", {"query": "q"}), event_mappings=mappings)
    # THEN each follows the override
    assert closed.payload["event_name"] == "Purchase"
    assert closed.payload["custom_data"] == PURCHASE
    assert signed.payload["event_name"] == "Registration"
    assert signed.payload["custom_data"] == {"status": "ok"}
    assert isinstance(dropped, Skipped)
    assert dropped.reason == "mapping"


def test_value_field_overrides_the_value_chain():
    # GIVEN an order with total and a subtotal, and value_field=subtotal
    props = {**ORDER, "subtotal": 100}
    # WHEN mapped
    sent = _sent(_map("default", track("Order Completed", props), value_field="subtotal"))
    # THEN value is the subtotal
    assert sent.payload["custom_data"]["value"] == 100


@pytest.mark.parametrize(
    ("props", "value"),
    [
        ({"total": 10, "revenue": 20, "value": 30}, 10),
        ({"revenue": 20, "value": 30}, 20),
        ({"value": 30}, 30),
        ({"products": [{"price": 49.99, "quantity": 2}, {"price": 30.01}]}, 129.99),
    ],
)
def test_purchase_value_chain(props, value):
    # GIVEN an order with some of total / revenue / value / products
    # WHEN mapped
    sent = _sent(_map("default", track("Order Completed", {**props, "currency": "USD"})))
    # THEN value follows total, revenue, value, then Σ price × quantity (exact decimal arithmetic)
    assert sent.payload["custom_data"]["value"] == value


def test_every_variant_an_integration_may_name_has_a_card_in_the_catalogue():
    # GIVEN the variants an integration may name, and the console's catalogue of them
    from relay.integrations import VARIANTS
    from relay.vendors.meta_capi.variants import VARIANT_INFO, catalogue

    # THEN each has exactly one card, in the product description's order, none is left out
    assert [v.name for v in catalogue()] == list(VARIANT_INFO) == ["retail", "travel", "b2b_saas", "default"]
    assert set(VARIANT_INFO) == set(VARIANTS)
