"""Fuzzing the envelope: hostile values anywhere in a good event never raise, never cost a neighbour.

Values: lone surrogates and invisible characters, long strings (up to past the body cap), integers of
hundreds of digits, NaN / Infinity, numeric strings like 9e999999, nesting past every limit. `make test`
runs a bounded number of examples; `make fuzz` runs many more (RELAY_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from relay.delivery import deliver_batch
from relay.events import (
    MAX_FIELD_CHARS,
    EventError,
    _adapter,
    _checked,
    _short_body_validator,
    parse_event,
    parse_event_json,
)
from relay.outbound import Rejected, ServerEvent, Skipped
from relay.vendors.meta_capi import build_requests, map_event
from tests.fakes import Fakes, sqs_record
from tests.support import SAMPLE_NOW, integration, order

EXAMPLES = int(os.environ.get("RELAY_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
# One event, however hostile, is read, mapped and serialised in bounded time (generous: a noisy machine).
EVENT_SECONDS = 2.0

SPECIALS = [
    "\ud800",
    "\udfff",
    "\ud83d",
    "\ude00",
    "\u200b",
    "\ufeff",
    "\x00",
    "@",
    "%",
    "\\",
    '"',
    "é",
    "9",
]
PATHS = [
    "type",
    "event",
    "messageId",
    "anonymousId",
    "userId",
    "timestamp",
    "properties",
    "properties.total",
    "properties.revenue",
    "properties.currency",
    "properties.order_id",
    "properties.event_id",
    "properties.products",
    "properties.products.0",
    "properties.products.0.price",
    "properties.products.0.quantity",
    "properties.products.0.product_id",
    "properties.custom_key",
    "context",
    "context.ip",
    "context.userAgent",
    "context.page",
    "context.page.url",
    "context.page.referrer",
    "context.fbp",
    "context.fbc",
    "context.traits",
    "context.traits.email",
    "context.traits.phone",
    "context.traits.firstName",
    "context.traits.city",
    "context.traits.state",
    "context.traits.postalCode",
    "context.traits.country",
    "context.traits.gender",
    "context.traits.birthday",
    "context.consent.categoryPreferences.advertising",
    "context.app",
]
EVENT_NAMES = ["Order Completed", "Product Viewed", "Checkout Started", "Products Searched", "Gift Wrapped"]


def _deep(leaf: Any, depth: int) -> Any:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


texts = st.one_of(
    st.text(st.one_of(st.characters(), st.sampled_from(SPECIALS)), max_size=40),
    st.builds(
        lambda ch, n: ch * n,
        st.sampled_from([*SPECIALS, "a", "%40", "a@b.c ", "+1 212 555 0100 "]),
        st.integers(0, 70_000),
    ),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**300), max_value=10**300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        ["9e999999", "1e10000000", "-1e400", "NaN", "Infinity", "1e-999999", "0x10", "1_000", " 12.5 "]
    ),
)
scalars = st.one_of(texts, numbers, st.none(), st.booleans())
nested = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
)
values = st.one_of(scalars, nested, st.builds(_deep, scalars, st.integers(0, 1_200)))
mutations = st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=4)


def good(message_id: str, name: str = "Order Completed") -> dict[str, Any]:
    return {**order(message_id, timestamp="2026-11-26T12:30:00Z"), "event": name}


def mutated(name: str, changes: list[tuple[str, Any]]) -> dict[str, Any]:
    event = good("fuzz", name)
    for path, value in changes:
        *parents, leaf = path.split(".")
        node: Any = event
        for part in parents:
            if isinstance(node, list):
                node = node[0] if node else None
            elif isinstance(node, dict):
                node = node.setdefault(part, {})
            if not isinstance(node, dict | list):
                break
        else:
            if isinstance(node, dict):
                node[leaf] = value
            elif isinstance(node, list) and node:
                node[0] = value
    return event


def dumped(event: dict[str, Any], ascii_only: bool) -> str:
    # ensure_ascii: lone surrogates travel as \ud800 escapes (as JSON.stringify writes them); otherwise raw
    # characters (a raw lone surrogate cannot be UTF-8, so json.dumps escapes those only in ascii mode)
    return json.dumps(event, ensure_ascii=ascii_only or _has_surrogate(event))


def _has_surrogate(value: Any) -> bool:
    return "\\ud" in json.dumps(value)


def _integers(value: Any) -> list[int]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _integers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _integers(v)]
    return [value] if isinstance(value, int) and not isinstance(value, bool) else []


@FUZZ
@given(name=st.sampled_from(EVENT_NAMES), changes=mutations, ascii_only=st.booleans())
def test_any_event_is_read_mapped_and_serialised_or_refused_without_raising(name, changes, ascii_only):
    # GIVEN a good event with hostile values at a few places, as an SQS body
    body = dumped(mutated(name, changes), ascii_only)
    started = time.perf_counter()
    # WHEN it is parsed, mapped and serialised
    refusal: str | None = None
    try:
        event = parse_event_json(body)
    except EventError as exc:
        refusal = exc.reason
    if refusal is not None:
        # THEN either it is refused naming a field ("field: problem") ...
        assert refusal.split(":", 1)[0].strip()
        return
    outcome = map_event(event, integration("retail"), now=SAMPLE_NOW)
    assert isinstance(outcome, ServerEvent | Skipped | Rejected)
    if isinstance(outcome, ServerEvent):
        requests, rejected = build_requests([outcome], integration("retail"))
        # ... or every byte sent is valid JSON Meta can read: UTF-8, finite numbers, int64 integers
        for request in requests:
            document = orjson.loads(request.body)  # strict JSON: no NaN / Infinity, valid UTF-8
            assert all(-(2**63) <= n < 2**63 for n in _integers(document))
        assert len(requests) + len(rejected) == 1
    assert time.perf_counter() - started < EVENT_SECONDS


@FUZZ
@given(name=st.sampled_from(EVENT_NAMES), changes=mutations, ascii_only=st.booleans())
def test_a_hostile_record_never_costs_the_good_records_beside_it(name, changes, ascii_only):
    # GIVEN a batch: a good event, the hostile one, another good event
    fakes = Fakes()
    records = [
        sqs_record(good("g-1")),
        sqs_record(dumped(mutated(name, changes), ascii_only), message_id="r-hostile"),
        sqs_record(good("g-2")),
    ]
    # WHEN delivered (fakes for every seam)
    out = deliver_batch(records, fakes.deps())
    # THEN nothing goes back to SQS, both good events were sent, and each record ends in one state
    assert out.failures == []
    sent = {m for call in fakes.sender.calls for m in call.message_ids}
    assert {"g-1", "g-2"} <= sent
    assert out.delivered + sum(out.skipped.values()) + sum(out.dead_lettered.values()) == 3


def _nan_safe(value: Any) -> Any:
    """`value` with every NaN made a marker: NaN != NaN, yet two readings of `NaN` are the same answer."""
    if isinstance(value, float) and value != value:
        return "<NaN>"
    if isinstance(value, dict):
        return {k: _nan_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_nan_safe(v) for v in value)
    return value


def _verdict(validate: Any, body: str | bytes) -> Any:
    # A refusal's wording comes from the bounded validator either way (parse_event_json reads a refused
    # body again through parse_event), so only the outcome is compared here: the event, or refused.
    try:
        return ("ok", validate(body))
    except ValidationError:
        return ("refused",)


@FUZZ
@given(name=st.sampled_from(EVENT_NAMES), changes=mutations, ascii_only=st.booleans(), encoded=st.booleans())
def test_short_bodies_get_the_same_answer_without_the_per_string_bound(name, changes, ascii_only, encoded):
    # GIVEN a hostile event as an SQS body, as text or bytes, of at most MAX_FIELD_CHARS (bytes or characters)
    text = dumped(mutated(name, changes), ascii_only)
    body: str | bytes = text.encode("utf-8", "surrogatepass") if encoded else text
    assume(len(body) <= MAX_FIELD_CHARS)
    # WHEN the envelope's own validator and the short-body one (no string bound) read it
    # THEN they give the same event, or both refuse it: no string in such a body can cross the bound; and
    # parse_event_json words a refusal as the bounded validator does
    short, bounded = (
        _verdict(_short_body_validator().validate_json, body),
        _verdict(_adapter().validate_json, body),
    )
    assert _nan_safe(short) == _nan_safe(bounded)
    try:
        expected: Any = ("ok", _checked(_adapter().validate_json(body)))
    except ValidationError:
        try:
            expected = ("ok", parse_event(json.loads(body)))
        except (EventError, ValueError) as exc:
            expected = ("refused", getattr(exc, "reason", "not json"))
    except EventError as exc:
        expected = ("refused", exc.reason)
    try:
        actual: Any = ("ok", parse_event_json(body))
    except EventError as exc:
        actual = ("refused", exc.reason if type(exc) is EventError else "not json")
    assert _nan_safe(actual) == _nan_safe(expected)


def test_a_string_at_the_bound_is_read_and_one_past_it_refused_in_long_bodies():
    # GIVEN bodies whose only long string is exactly MAX_FIELD_CHARS and MAX_FIELD_CHARS + 1 characters
    at = json.dumps({**good("b"), "event": "x" * MAX_FIELD_CHARS})
    past = json.dumps({**good("b"), "event": "x" * (MAX_FIELD_CHARS + 1)})
    # WHEN they are parsed (both longer than MAX_FIELD_CHARS: the bounded validator reads them)
    # THEN the first is read and the second refused naming the field
    assert parse_event_json(at)["event"] == "x" * MAX_FIELD_CHARS
    with pytest.raises(EventError, match=r"^event: String should have at most 8192 characters"):
        parse_event_json(past)
