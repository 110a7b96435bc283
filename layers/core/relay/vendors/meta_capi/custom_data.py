"""custom_data from Segment e-commerce v2 properties (DESIGN §5), as pure functions.

Error messages name the field and the expected shape but never echo the value: it could be personal.

Money is exact. JSON numbers are used as they are while no arithmetic touches them (a total of 44.97
is sent as 44.97); sums of price × quantity with a fraction are computed in Decimal (49.99 × 2 + 30.01 is
129.99, not 129.98999999999998), and so are numeric strings. A value is emitted as an integer when it is
whole and exactly representable (< 2**53), else as a JSON number. A property of the wrong type raises
MappingError naming it.

Each variant row is compiled once (`compile_rule`) into a function of the properties: which fields to
build, in which order, is decided then, not per event.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

from relay.pii import is_personal
from relay.vendors.meta_capi.variants import TRAVEL_FIELDS, Rule, ValueRule

ORDER_VALUE_FIELDS = ("total", "revenue", "value")
# Whole numbers at or above this are sent as floats (JSON readers lose exactness beyond 2**53).
EXACT_INT_LIMIT = 2**53
# Compiled rows kept (custom events make a row per distinct name).
COMPILED_RULES = 1024
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PRODUCT_FIELDS = frozenset({"contents", "content_ids", "num_items", "value", "list_contents"})
_CONTENT_FIELDS = frozenset({"contents", "content_ids", "num_items"})
_TEXT_FIELDS = (
    ("content_name", "name"),
    ("content_category", "category"),
    ("search_string", "query"),
    ("status", "status"),
)

Number = int | float | Decimal
Pairs = list[tuple[str, dict[str, Any]]]
Builder = Callable[[dict[str, Any]], dict[str, Any]]


class MappingError(ValueError):
    """An event property that cannot be mapped; `field` is its dotted path (`properties.total`)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


@cache
def _iso_currencies() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.currencies)


def currency(props: dict[str, Any]) -> str | None:
    """properties.currency as an upper-case ISO-4217 code; MappingError if it is not one."""
    raw = props.get("currency")
    if raw is None or raw == "":
        return None
    code = raw.strip().upper() if isinstance(raw, str) else None
    if code is None or not _CURRENCY.match(code) or code not in _iso_currencies():
        raise MappingError("properties.currency", "not an ISO-4217 currency code")
    return code


def number(value: object, field: str) -> Number | None:
    """A JSON number (kept as is) or a numeric string (as Decimal); None when absent; MappingError otherwise."""
    if value is None or value == "":
        return None
    kind = type(value)
    if kind is int:
        return value  # type: ignore[return-value]
    if kind is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise MappingError(field, "expected a finite number")
        return value  # type: ignore[return-value]
    return decimal(value, field)


def decimal(value: object, field: str) -> Decimal | None:
    """A JSON number or numeric string as Decimal; None when absent; MappingError otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MappingError(field, f"expected a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise MappingError(field, "expected a finite number")
    try:
        result = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise MappingError(field, "expected a number, got a non-numeric string") from None
    if not result.is_finite():
        raise MappingError(field, "expected a finite number")
    return result


def quantity(value: object, field: str) -> int:
    """A product quantity (default 1); MappingError unless a whole number >= 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise MappingError(field, "expected a whole number >= 0")
        return value
    amount = number(value, field)
    if amount is None:
        return 1
    if isinstance(amount, float):
        if not amount.is_integer() or amount < 0:
            raise MappingError(field, "expected a whole number >= 0")
        return int(amount)
    if isinstance(amount, Decimal) and amount != amount.to_integral_value():
        raise MappingError(field, "expected a whole number >= 0")
    if amount < 0:
        raise MappingError(field, "expected a whole number >= 0")
    return int(amount)


def emit(value: Number) -> int | float:
    """The JSON number to send: whole and < 2**53 → int, else float."""
    if isinstance(value, int):
        return value if -EXACT_INT_LIMIT < value < EXACT_INT_LIMIT else float(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < EXACT_INT_LIMIT else value
    exact = value
    return int(exact) if exact == exact.to_integral_value() and abs(exact) < EXACT_INT_LIMIT else float(exact)


def _product_id(product: dict[str, Any]) -> str | None:
    for key in ("product_id", "sku", "id"):
        value = product.get(key)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, str | int) and (
            text := (value if isinstance(value, str) else str(value)).strip()
        ):
            return text
    return None


def products(props: dict[str, Any], rule: Rule) -> Pairs:
    """(path, product) pairs: properties.products[], or the event's own properties for single-product events."""
    items = props.get("products")
    if items is None:
        if rule.value_rule is ValueRule.LINE or _product_id(props) is not None:
            return [("properties", props)]
        return []
    if not isinstance(items, list):
        raise MappingError("properties.products", "expected a list")
    pairs = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise MappingError(f"properties.products[{i}]", "expected an object")
        pairs.append((f"properties.products[{i}]", item))
    return pairs


def contents(pairs: Pairs) -> list[dict[str, Any]]:
    """Meta `contents`: {id, quantity, item_price?} per product that has an id."""
    result = []
    for path, product in pairs:
        pid = _product_id(product)
        if pid is None:
            continue
        entry: dict[str, Any] = {"id": pid, "quantity": quantity(product.get("quantity"), f"{path}.quantity")}
        price = number(product.get("price"), f"{path}.price")
        if price is not None:
            entry["item_price"] = emit(price)
        result.append(entry)
    return result


def _line_total(pairs: Pairs) -> Number | None:
    lines: list[tuple[Number, int]] = []
    for path, product in pairs:
        price = number(product.get("price"), f"{path}.price")
        if price is not None:
            lines.append((price, quantity(product.get("quantity"), f"{path}.quantity")))
    if not lines:
        return None
    if all(type(price) is int for price, _ in lines):
        return sum(int(price) * qty for price, qty in lines)
    # A fraction is involved: exact decimal arithmetic (a float's repr is its exact decimal reading).
    return sum((Decimal(repr(p)) if isinstance(p, float) else Decimal(p)) * q for p, q in lines)


def value(props: dict[str, Any], rule: Rule, pairs: Pairs, value_field: str | None) -> Number | None:
    """The event value: `value_field` (or total, revenue, value), else Σ price × quantity.

    For single-product rules (ValueRule.LINE) price × quantity comes first.
    """
    if rule.value_rule is ValueRule.LINE:
        line = _line_total(pairs)
        if line is not None:
            return line
    for key in (value_field,) if value_field else ORDER_VALUE_FIELDS:
        amount = number(props.get(key), f"properties.{key}")
        if amount is not None:
            return amount
    return _line_total(pairs)


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool) and not (
        isinstance(value, float) and not math.isfinite(value)
    )


def _text(props: dict[str, Any], key: str) -> str | None:
    raw = props.get(key)
    if raw is None or isinstance(raw, bool) or not _scalar(raw):
        return None
    text = str(raw).strip()
    return text or None


def passthrough(props: dict[str, Any]) -> dict[str, Any]:
    """Scalar properties of a custom event, minus personal data (never sent raw anywhere)."""
    data = {k: v for k, v in props.items() if _scalar(v) and not is_personal(k, v)}
    if "currency" in data:
        code = currency(props)
        if code is None:
            del data["currency"]
        else:
            data["currency"] = code
    return data


def build(rule: Rule, props: dict[str, Any], value_field: str | None) -> dict[str, Any]:
    """custom_data for `rule` from `props`; raises MappingError naming a malformed property."""
    return compile_rule(rule, value_field)(props)


@lru_cache(maxsize=COMPILED_RULES)
def compile_rule(rule: Rule, value_field: str | None) -> Builder:
    """The custom_data builder of one variant row: the fields, their order and their sources fixed once."""
    if rule.passthrough:
        return passthrough
    f = rule.fields
    need_pairs = bool(f & _PRODUCT_FIELDS)
    need_items = bool(f & _CONTENT_FIELDS)
    want = {name: name in f for name in ("currency", "value", "order_id", "booking_id", "content_ids")}
    want |= {name: name in f for name in ("contents", "num_items", "list_contents", "predicted_ltv")}
    fixed_type = rule.content_type
    free_type = "content_type" in f
    texts = tuple((key, source) for key, source in _TEXT_FIELDS if key in f)
    travel = tuple(sorted(f & TRAVEL_FIELDS))
    types_without_items = fixed_type is not None and "contents" not in f

    def custom(props: dict[str, Any]) -> dict[str, Any]:
        pairs = products(props, rule) if need_pairs else []
        data: dict[str, Any] = {}
        if want["currency"] and (code := currency(props)) is not None:
            data["currency"] = code
        if want["value"] and (amount := value(props, rule, pairs, value_field)) is not None:
            data["value"] = emit(amount)
        if want["order_id"] and (order_id := _text(props, "order_id")):
            data["order_id"] = order_id
        if want["booking_id"] and (order_id := _text(props, "order_id") or _text(props, "booking_id")):
            data["order_id"] = order_id
        items = contents(pairs) if need_items else []
        if want["content_ids"] and items:
            data["content_ids"] = [item["id"] for item in items]
        if fixed_type is not None and (items or types_without_items):
            data["content_type"] = fixed_type
        elif free_type and (content_type := _text(props, "content_type")):
            data["content_type"] = content_type
        if want["contents"] and items:
            data["contents"] = items
        if want["num_items"] and items:
            data["num_items"] = sum(item["quantity"] for item in items)
        if want["list_contents"]:
            data.update(_list_contents(pairs, props))
        for key, source in texts:
            if text := _text(props, source) or _text(props, key):
                data[key] = text
        if (
            want["predicted_ltv"]
            and (ltv := number(props.get("predicted_ltv"), "properties.predicted_ltv")) is not None
        ):
            data["predicted_ltv"] = emit(ltv)
        for key in travel:
            raw = props.get(key)
            if raw is not None and raw != "" and _scalar(raw):
                data[key] = raw
        return data

    return custom


def _list_contents(pairs: Pairs, props: dict[str, Any]) -> dict[str, Any]:
    ids = [item["id"] for item in contents(pairs)]
    if ids:
        return {"content_ids": ids, "content_type": "product"}
    category = _text(props, "category") or _text(props, "list_id")
    return {"content_ids": [category], "content_type": "product_group"} if category else {}
