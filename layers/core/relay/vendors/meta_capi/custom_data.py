"""custom_data from Segment e-commerce v2 properties (DESIGN §5), as pure functions.

Error messages name the field and the expected shape but never echo the value: it could be personal.

Money is computed in Decimal (49.99 × 2 + 30.01 is 129.99, not 129.98999999999998) and emitted as a
JSON number. A property of the wrong type raises MappingError naming it.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from relay.pii import is_personal
from relay.vendors.meta_capi.variants import TRAVEL_FIELDS, Rule, ValueRule

ORDER_VALUE_FIELDS = ("total", "revenue", "value")

_CURRENCY = re.compile(r"^[A-Z]{3}$")


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
    number = decimal(value, field)
    if number is None:
        return 1
    if number != number.to_integral_value() or number < 0:
        raise MappingError(field, "expected a whole number >= 0")
    return int(number)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)


def _product_id(product: dict[str, Any]) -> str | None:
    for key in ("product_id", "sku", "id"):
        value = product.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def products(props: dict[str, Any], rule: Rule) -> list[tuple[str, dict[str, Any]]]:
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


def contents(pairs: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Meta `contents`: {id, quantity, item_price?} per product that has an id."""
    result = []
    for path, product in pairs:
        pid = _product_id(product)
        if pid is None:
            continue
        entry: dict[str, Any] = {"id": pid, "quantity": quantity(product.get("quantity"), f"{path}.quantity")}
        price = decimal(product.get("price"), f"{path}.price")
        if price is not None:
            entry["item_price"] = _number(price)
        result.append(entry)
    return result


def _line_total(pairs: list[tuple[str, dict[str, Any]]]) -> Decimal | None:
    total, seen = Decimal(0), False
    for path, product in pairs:
        price = decimal(product.get("price"), f"{path}.price")
        if price is not None:
            total += price * quantity(product.get("quantity"), f"{path}.quantity")
            seen = True
    return total if seen else None


def value(
    props: dict[str, Any], rule: Rule, pairs: list[tuple[str, dict[str, Any]]], value_field: str | None
) -> Decimal | None:
    """The event value: `value_field` (or total, revenue, value), else Σ price × quantity.

    For single-product rules (ValueRule.LINE) price × quantity comes first.
    """
    chain = (value_field,) if value_field else ORDER_VALUE_FIELDS
    if rule.value_rule is ValueRule.LINE:
        line = _line_total(pairs)
        if line is not None:
            return line
    for key in chain:
        number = decimal(props.get(key), f"properties.{key}")
        if number is not None:
            return number
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
    if rule.passthrough:
        return passthrough(props)
    f = rule.fields
    data: dict[str, Any] = {}
    pairs = (
        products(props, rule)
        if f & {"contents", "content_ids", "num_items", "value", "list_contents"}
        else []
    )
    if "currency" in f and (code := currency(props)) is not None:
        data["currency"] = code
    if "value" in f and (amount := value(props, rule, pairs, value_field)) is not None:
        data["value"] = _number(amount)
    if "order_id" in f and (order_id := _text(props, "order_id")):
        data["order_id"] = order_id
    if "booking_id" in f and (order_id := _text(props, "order_id") or _text(props, "booking_id")):
        data["order_id"] = order_id
    items = contents(pairs) if f & {"contents", "content_ids", "num_items"} else []
    if "content_ids" in f and items:
        data["content_ids"] = [item["id"] for item in items]
    if rule.content_type and (items or "contents" not in f):
        data["content_type"] = rule.content_type
    elif "content_type" in f and (content_type := _text(props, "content_type")):
        data["content_type"] = content_type
    if "contents" in f and items:
        data["contents"] = items
    if "num_items" in f and items:
        data["num_items"] = sum(item["quantity"] for item in items)
    if "list_contents" in f:
        data.update(_list_contents(pairs, props))
    for key, source in (
        ("content_name", "name"),
        ("content_category", "category"),
        ("search_string", "query"),
        ("status", "status"),
    ):
        if key in f and (text := _text(props, source) or _text(props, key)):
            data[key] = text
    if (
        "predicted_ltv" in f
        and (ltv := decimal(props.get("predicted_ltv"), "properties.predicted_ltv")) is not None
    ):
        data["predicted_ltv"] = _number(ltv)
    for key in sorted(f & TRAVEL_FIELDS):
        raw = props.get(key)
        if raw is not None and raw != "" and _scalar(raw):
            data[key] = raw
    return data


def _list_contents(pairs: list[tuple[str, dict[str, Any]]], props: dict[str, Any]) -> dict[str, Any]:
    ids = [item["id"] for item in contents(pairs)]
    if ids:
        return {"content_ids": ids, "content_type": "product"}
    category = _text(props, "category") or _text(props, "list_id")
    return {"content_ids": [category], "content_type": "product_group"} if category else {}
