"""The compiled custom_data plan (compile_rule) against the general interpreter (reference_builder).

compile_rule reads products of the common shapes in one pass and falls back to the general path for
anything else; these properties check that, for every row of every variant, both give the same output
(same keys, same order, same types) or the same error, whatever the properties hold.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import corpus
from relay.events import MAX_FIELD_CHARS
from relay.pii import MAX_CHECKED_LENGTH, personal_value
from relay.vendors.meta_capi import custom_data
from relay.vendors.meta_capi.custom_data import (
    MAX_INT,
    MAX_MONEY,
    MappingError,
    compile_rule,
    reference_builder,
)
from relay.vendors.meta_capi.variants import PAGE_VIEW, Rule, variant_rows

VARIANTS = ("default", "retail", "travel", "b2b_saas")
ROWS: list[Rule] = sorted(
    {PAGE_VIEW, *(rule for variant in VARIANTS for rule in variant_rows(variant).values())}, key=repr
)
VALUE_FIELDS = (None, "revenue", "total", "value", "amount")

LONG_ID = "p" * (MAX_FIELD_CHARS + 1)
UNREAD = "x" * (MAX_CHECKED_LENGTH + 1)


def mostly(common: st.SearchStrategy, hostile: st.SearchStrategy) -> st.SearchStrategy:
    """Common shapes three times in four (the one pass reads them), hostile ones otherwise."""
    return st.one_of(common, common, common, hostile)


ids = mostly(
    st.one_of(st.sampled_from(["SKU-1", " SKU-2 ", "SKU-3"]), st.text(min_size=1, max_size=6)),
    st.one_of(
        st.none(),
        st.sampled_from(["", "  ", "\t", "a@b.co", "1.2.3.4", LONG_ID, "12125550100"]),
        st.integers(min_value=-(2**64), max_value=2**64),
        st.booleans(),
        st.floats(allow_nan=True),
    ),
)
money = mostly(
    st.one_of(
        st.integers(min_value=-MAX_MONEY, max_value=MAX_MONEY),
        st.floats(min_value=-MAX_MONEY, max_value=MAX_MONEY, allow_nan=False),
        st.sampled_from([19.99, 5, 5.0, 0.1, -0.0, 1e15, -1e15, MAX_MONEY, -MAX_MONEY]),
    ),
    st.one_of(
        st.none(),
        st.integers(min_value=-(10**16), max_value=10**16),
        st.sampled_from([MAX_MONEY + 1, -MAX_MONEY - 1, 2**53, 2**63, 10**30]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([1e15 + 0.125, 1e16, math.nan, math.inf, -math.inf]),
        st.sampled_from(["19.99", " 7.5 ", "1e3", "abc", "", "NaN", "1" * 70, "-0"]),
        st.booleans(),
        st.just([1]),
    ),
)
quantities = mostly(
    st.one_of(st.none(), st.integers(min_value=0, max_value=5), st.just(MAX_INT)),
    st.one_of(
        st.integers(min_value=-3, max_value=-1),
        st.sampled_from([MAX_INT + 1, 2**64, -(2**63)]),
        st.sampled_from([2.0, 2.5, -1.0, math.nan, 1e20]),
        st.sampled_from(["3", "2.5", "x", ""]),
        st.booleans(),
    ),
)
product_keys = {"product_id": ids, "sku": ids, "id": ids, "price": money, "quantity": quantities}
products_dicts = st.fixed_dictionaries(
    {}, optional={**product_keys, "name": st.sampled_from(["Mug", "a@b.co"]), "category": st.just("Cups")}
)
products = st.one_of(
    st.none(),
    st.lists(products_dicts, max_size=4),
    st.lists(
        st.one_of(products_dicts, st.none(), st.integers(), st.text(max_size=3), st.lists(st.none())),
        max_size=4,
    ),
    st.sampled_from(["SKU-1", 3, {"product_id": "SKU-1"}]),
)
texts = st.one_of(
    st.none(),
    st.sampled_from(["ORD-1", " ORD-2 ", "", "a@b.co", "10.0.0.1", "fe80::1", "+1 212 555 0100", UNREAD]),
    st.text(max_size=10),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([12125550100, True, 1.5, math.nan, [1]]),
)
currencies = st.one_of(st.none(), st.sampled_from(["USD", "usd", " EUR ", "ZZZ", "", "US", 5, True, ["USD"]]))
properties = st.fixed_dictionaries(
    {},
    optional={
        "products": products,
        "currency": currencies,
        "total": money,
        "revenue": money,
        "value": money,
        "amount": money,
        "predicted_ltv": money,
        "order_id": texts,
        "booking_id": texts,
        "name": texts,
        "category": texts,
        "list_id": texts,
        "query": texts,
        "status": texts,
        "content_name": texts,
        "content_type": texts,
        "checkin_date": texts,
        "num_adults": texts,
        **product_keys,
    },
)


def outcome(build: custom_data.Builder, props: dict[str, Any]) -> tuple[str, str]:
    try:
        data = build(props)
    except MappingError as error:
        return ("MappingError", f"{error.field} | {error}")
    # repr keeps key order and tells 1 from 1.0: the bytes sent to Meta follow both.
    return ("ok", repr(data))


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=st.sampled_from(ROWS), value_field=st.sampled_from(VALUE_FIELDS), props=properties)
def test_the_compiled_plan_builds_what_the_general_interpreter_builds(rule, value_field, props):
    # GIVEN any variant row, any value_field and properties of any shape
    compiled = compile_rule(rule, value_field)
    reference = reference_builder(rule, value_field)

    # WHEN both build custom_data
    got, expected = outcome(compiled, props), outcome(reference, props)

    # THEN the output (keys, order, types) or the error (field and message) is the same
    assert got == expected


# Values at and just past each bound and rule the one pass decides on, in every field it reads.
EDGE_CASES = [
    *(
        {"order_id": value}
        for value in [
            "ORD-1",
            " ORD-1 ",
            "",
            "  ",
            "a@b.co",
            "10.0.0.1",
            "fe80::1",
            "::1",
            "1:2",
            "+1 212 555 0100",
            "7" * MAX_CHECKED_LENGTH,
            UNREAD,
            12125550100,
        ]
    ),
    *({"order_id": value, "booking_id": "B-1"} for value in ["", "fe80::1", "a@b.co", None]),
    *(
        {"products": [{"product_id": "A", "quantity": q}, {"product_id": "B", "quantity": 1}]}
        for q in [MAX_INT - 1, MAX_INT, MAX_INT + 1, 0, -1, None, True, 2.0]
    ),
    *(
        {"products": [{"product_id": "A", "price": p, "quantity": 2}]}
        for p in [
            MAX_MONEY,
            -MAX_MONEY,
            MAX_MONEY + 1,
            1e15,
            -1e15,
            1e15 + 0.125,
            5.0,
            -0.0,
            0.1,
            math.nan,
            True,
            "5",
        ]
    ),
    *(
        {"products": [{"product_id": "A", "price": p, "quantity": 1}] * 2}
        for p in [MAX_MONEY // 2 + 1, 5e14, 5e14 + 1]
    ),
    *(
        {"products": [{"product_id": pid, "price": 1}]}
        for pid in ["", " ", "\t", " A ", LONG_ID, "x" * MAX_FIELD_CHARS, 7, True, None]
    ),
    *({"products": [{"sku": sku, "price": 1}]} for sku in ["S", 7, 2**64, True]),
    {"products": [{"product_id": "A"}], "category": "Cups"},
    {"products": [], "category": "Cups", "list_id": "L"},
    {"products": [], "list_id": "L"},
    {"products": None, "product_id": "A", "price": 3, "quantity": 2},
    {"product_id": " ", "sku": "S", "price": 3},
    {"product_id": 7, "price": 3},
    {"id": 2**64, "total": 1},
    {"sku": "S", "total": 1},
    {"price": 3, "quantity": 2, "total": 5},
    {"currency": "usd", "total": "19.99"},
    {"currency": "ZZZ", "total": 1, "products": [{"product_id": "A", "price": math.nan}]},
    {"currency": "USD", "total": math.nan, "products": [{"product_id": "A", "price": 1}]},
    {"value": 3, "total": None, "revenue": 2.5},
    {"content_type": "hotel", "query": "rome"},
    {"predicted_ltv": 1e15 + 0.125},
]


@pytest.mark.parametrize("value_field", [None, "revenue"])
@pytest.mark.parametrize("props", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_edge_values_build_the_same_in_every_row(props, value_field):
    # GIVEN a value at or past a bound the one pass decides on
    for rule in ROWS:
        # WHEN every row builds it both ways / THEN the output or the error is the same
        got = outcome(compile_rule(rule, value_field), props)
        assert got == outcome(reference_builder(rule, value_field), props), rule


@settings(max_examples=500, deadline=None)
@given(
    rule=st.sampled_from([r for r in ROWS if r.fields & {"contents", "value", "list_contents"}]),
    items=st.lists(
        st.fixed_dictionaries(
            {"product_id": st.text(min_size=1, max_size=12).filter(str.strip)},
            optional={
                "price": st.one_of(
                    st.integers(-MAX_MONEY, MAX_MONEY),
                    st.floats(-MAX_MONEY, MAX_MONEY, allow_nan=False),
                ),
                "quantity": st.integers(0, MAX_INT),
            },
        ),
        max_size=5,
    ),
    total=st.one_of(st.none(), st.floats(-MAX_MONEY, MAX_MONEY, allow_nan=False)),
)
def test_products_of_the_common_shapes_agree_too(rule, items, total):
    # GIVEN products of the shapes the one pass reads itself (no fallback), with or without a total
    props = {"products": items, "currency": "EUR"} | ({} if total is None else {"total": total})

    # WHEN both paths build custom_data / THEN they agree
    assert outcome(compile_rule(rule, None), props) == outcome(reference_builder(rule, None), props)


@settings(max_examples=500, deadline=None)
@given(
    text=st.text(max_size=40).filter(lambda s: not set(s) & set("@.:")),
    padding=st.sampled_from(["", " ", "\t", "\u200b"]),
)
def test_an_order_id_without_at_dot_or_colon_is_never_personal_by_shape(text, padding):
    # GIVEN an order id with no `@`, `.` or `:` (no e-mail or IP shape; digit runs are ids under order_id)
    raw = padding + text + padding

    # WHEN relay.pii reads it under order_id, as _text does / THEN it is not personal, and is sent
    assert not personal_value("order_id", raw.strip())


def test_an_order_id_at_the_longest_read_length_without_marks_is_not_personal():
    # GIVEN the longest order id relay.pii reads, and one character more
    read, unread = "7" * MAX_CHECKED_LENGTH, "7" * (MAX_CHECKED_LENGTH + 1)

    # WHEN / THEN the first is not personal, the second is (not read), and the plan drops only it
    assert not personal_value("order_id", read)
    assert personal_value("order_id", unread)
    purchase = variant_rows("default")["order completed"]
    assert compile_rule(purchase, None)({"order_id": read})["order_id"] == read
    assert "order_id" not in compile_rule(purchase, None)({"order_id": unread})


@pytest.mark.parametrize("per_visitor", [1, 3])
def test_the_bar_workload_is_read_by_the_one_pass(per_visitor):
    # GIVEN the benchmark's Order Completed events
    purchase = variant_rows("default")["order completed"]
    for event in corpus.bar_events(60, per_visitor):
        props = event["properties"]

        # WHEN the one pass reads their products
        found = custom_data._simple_contents(props["products"])

        # THEN none falls back to the general path, and the output is the general path's
        assert found is not None
        assert outcome(compile_rule(purchase, None), props) == outcome(
            reference_builder(purchase, None), props
        )
