"""Input bounds past the envelope: money and counts, ledger keys, debugger items (docs/normalization.md)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from relay.events import parse_event
from relay.ledger import MAX_PLAIN_ID_BYTES, ledger_key
from relay.vendors.meta_capi.custom_data import (
    MAX_INT,
    MAX_MONEY,
    MappingError,
    decimal,
    number,
    passthrough,
    quantity,
)
from relay.vendors.meta_capi.mapping import map_event
from tests.support import SAMPLE_NOW, integration, track

# A bound that is checked after a 10-million-digit integer is built takes minutes; before, microseconds.
FAST_S = 0.5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (MAX_MONEY, MAX_MONEY),
        (-MAX_MONEY, -MAX_MONEY),
        (1e15, 1e15),
        ("1e15", Decimal("1e15")),
        ("44.97", Decimal("44.97")),
    ],
)
def test_money_up_to_the_cap_is_read(raw, expected):
    # GIVEN money at or inside ±MAX_MONEY / WHEN read / THEN it is kept exactly
    assert number(raw, "properties.total") == expected


@pytest.mark.parametrize(
    "raw",
    [MAX_MONEY + 1, 1.0000001e15, "9e999999", "1e400", "-1e16", 10**400, float("inf"), "1" * 65],
)
def test_money_beyond_the_cap_is_refused_quickly_naming_the_field(raw):
    # GIVEN a value beyond ±MAX_MONEY, non-finite, or a numeric string over MAX_NUMBER_CHARS
    started = time.perf_counter()
    # WHEN read / THEN MappingError names the field, never the value, before any arithmetic
    with pytest.raises(MappingError) as caught:
        number(raw, "properties.total")
    assert caught.value.field == "properties.total"
    assert "999" not in str(caught.value)
    assert time.perf_counter() - started < FAST_S


@pytest.mark.parametrize("raw", ["1e10000000", 2**63, "9223372036854775808", 10**400, 1e19])
def test_a_quantity_beyond_int64_is_refused_quickly(raw):
    # GIVEN a quantity beyond int64 (a 10-byte string that would build a 10-million-digit integer)
    started = time.perf_counter()
    # WHEN read / THEN MappingError, in microseconds
    with pytest.raises(MappingError, match=r"^properties.products\[0\].quantity: expected a number within"):
        quantity(raw, "properties.products[0].quantity")
    assert time.perf_counter() - started < FAST_S


def test_int64_max_is_a_quantity_and_decimal_keeps_the_cap():
    # GIVEN the largest int64 / WHEN read as a quantity and as a capped decimal / THEN both are kept
    assert quantity(MAX_INT, "q") == MAX_INT
    assert quantity(str(MAX_INT), "q") == MAX_INT
    assert decimal("12.5", "p") == Decimal("12.5")


def _order(products, **props):
    return parse_event(track("Order Completed", {"currency": "EUR", "products": products, **props}))


def test_a_sum_of_prices_beyond_the_cap_is_refused_not_sent_as_infinity():
    # GIVEN products whose prices are each under the cap but whose Σ price × quantity is not
    event = _order([{"product_id": "a", "price": 9e14, "quantity": 2}, {"product_id": "b", "price": 0.5}])
    # WHEN mapped / THEN the event is rejected naming products, never built with a huge or infinite value
    outcome = map_event(event, integration(), now=SAMPLE_NOW)
    assert outcome.reason == "properties.products: Σ price × quantity is beyond ±1e+15"  # type: ignore[union-attr]


def test_num_items_beyond_int64_is_refused():
    # GIVEN two quantities that are each int64 but whose sum is not
    event = _order(
        [{"product_id": "a", "price": 0, "quantity": MAX_INT}, {"product_id": "b", "price": 0, "quantity": 1}]
    )
    # WHEN mapped for a row with num_items (InitiateCheckout) / THEN it is rejected naming the field
    event["event"] = "Checkout Started"
    outcome = map_event(event, integration(), now=SAMPLE_NOW)
    assert outcome.reason == "properties.products: Σ quantity (num_items) is beyond int64"  # type: ignore[union-attr]


def test_pass_through_drops_integers_meta_cannot_read():
    # GIVEN custom properties with int64 edges and a longer integer / WHEN passed through
    data = passthrough({"ok": MAX_INT, "low": -MAX_INT - 1, "long": 2**63, "neg": -(2**63) - 1, "n": 1.5})
    # THEN only the integers within int64 (and the finite float) are kept
    assert data == {"ok": MAX_INT, "low": -MAX_INT - 1, "n": 1.5}


# ---- ledger keys ------------------------------------------------------------------------------------


def test_a_short_event_id_is_its_own_ledger_key():
    # GIVEN ids up to MAX_PLAIN_ID_BYTES / WHEN keyed / THEN each is its own key
    assert ledger_key("123", "Purchase", "m-1") == "123#Purchase#m-1"
    assert (
        ledger_key("123", "Purchase", "e" * MAX_PLAIN_ID_BYTES) == "123#Purchase#" + "e" * MAX_PLAIN_ID_BYTES
    )


def test_a_long_event_id_is_hashed_into_a_bounded_stable_key():
    # GIVEN an event_id of 3,000 UTF-8 bytes (over DynamoDB's 2,048-byte key limit by itself)
    long_id = "é" * 1500
    # WHEN keyed twice / THEN the key is stable, well under 2,048 bytes, and distinct from a near miss
    key = ledger_key("123", "Purchase", long_id)
    assert key == ledger_key("123", "Purchase", long_id)
    assert key == "123#Purchase#sha256:" + __import__("hashlib").sha256(long_id.encode()).hexdigest()
    assert len(key.encode()) < 2048
    assert key != ledger_key("123", "Purchase", long_id + "x")


def test_an_id_shaped_like_a_hashed_key_is_hashed_too():
    # GIVEN an id that spells the hashed form of another one / WHEN keyed / THEN the two keys differ
    long_id = "x" * (MAX_PLAIN_ID_BYTES + 1)
    hashed = ledger_key("1", "Lead", long_id).split("#", 2)[2]
    assert ledger_key("1", "Lead", hashed) != ledger_key("1", "Lead", long_id)


@pytest.mark.parametrize(
    ("props", "reason"),
    [
        ({"event_id": "e" * 8193}, "properties.event_id: longer than 8192 characters"),
        ({"event_id": 2**63}, "properties.event_id: an integer beyond int64"),
        (
            {"products": [{"product_id": "p" * 8193, "price": 1}]},
            "properties.products[].product_id: longer than 8192 characters",
        ),
        ({"products": [{"sku": 10**30, "price": 1}]}, "properties.products[].sku: an integer beyond int64"),
    ],
)
def test_ids_sent_to_meta_are_bounded(props, reason):
    # GIVEN an order whose event_id or product id is over the bounds
    event = parse_event(track("Order Completed", {"currency": "EUR", "total": 5, **props}))
    # WHEN mapped / THEN it is rejected naming the field, the value not echoed
    outcome = map_event(event, integration(), now=SAMPLE_NOW)
    assert outcome.reason == reason  # type: ignore[union-attr]
