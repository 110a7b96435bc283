"""custom_data from Segment e-commerce v2 properties (DESIGN §5), as pure functions.

Error messages name the field and the expected shape but never echo the value: it could be personal.

Money is exact. JSON numbers are used as they are while no arithmetic touches them (a total of 44.97
is sent as 44.97); sums of price × quantity with a fraction are computed in Decimal (49.99 × 2 + 30.01 is
129.99, not 129.98999999999998), and so are numeric strings. A value is emitted as an integer when it is
whole and exactly representable (< 2**53), else as a JSON number. A property of the wrong type raises
MappingError naming it.

Each variant row is compiled once (`compile_rule`) into a plan of steps, a function of the properties:
which fields to build, in which order, is decided then, not per event. Products of the common shapes
are read in one pass; any other shape goes to the general interpreter (`reference_builder`), which the
plan is tested against (tests/unit/test_custom_data_plan.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache, partial
from typing import Any, TypeVar

from relay.events import MAX_FIELD_CHARS
from relay.pii import is_personal, personal_value
from relay.vendors.meta_capi.variants import TRAVEL_FIELDS, Rule, ValueRule

ORDER_VALUE_FIELDS = ("total", "revenue", "value")
# Whole numbers at or above this are sent as floats (JSON readers lose exactness beyond 2**53).
EXACT_INT_LIMIT = 2**53
# Compiled rows kept (custom events make a row per distinct name).
COMPILED_RULES = 1024
# Input bounds (docs/normalization.md): money (value, total, price, predicted_ltv) within ±MAX_MONEY —
# far past any real order in any currency, and whole units stay exact in a double below 2**53 ≈ 9.0e15;
# counts (quantity, num_items) and passed-through integers within int64, as Meta's integer fields are.
# A numeric string longer than MAX_NUMBER_CHARS is refused before it is parsed.
MAX_MONEY = 10**15
MAX_INT = 2**63 - 1
MAX_NUMBER_CHARS = 64
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
Pairs = list[tuple[int | None, dict[str, Any]]]
Lines = list[tuple[Number, int]]
Builder = Callable[[dict[str, Any]], dict[str, Any]]
_T = TypeVar("_T")


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
    code = _currency_code(raw) if isinstance(raw, str) else None
    if code is None:
        raise MappingError("properties.currency", "not an ISO-4217 currency code")
    return code


@lru_cache(maxsize=256)
def _currency_code(raw: str) -> str | None:
    code = raw.strip().upper()
    return code if _CURRENCY.match(code) and code in _iso_currencies() else None


def number(value: object, field: str, cap: int = MAX_MONEY) -> Number | None:
    """A JSON number (kept as is) or a numeric string (as Decimal) within ±`cap`; None when absent;
    MappingError otherwise (not a number, not finite, beyond the cap)."""
    if value is None or value == "":
        return None
    kind = type(value)
    if kind is int:
        if not -cap <= value <= cap:  # type: ignore[operator]
            raise _beyond(field, cap)
        return value  # type: ignore[return-value]
    if kind is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise MappingError(field, "expected a finite number")
        if not -cap <= value <= cap:  # type: ignore[operator]
            raise _beyond(field, cap)
        return value  # type: ignore[return-value]
    return decimal(value, field, cap)


def decimal(value: object, field: str, cap: int = MAX_MONEY) -> Decimal | None:
    """A JSON number or numeric string (≤ MAX_NUMBER_CHARS) as Decimal within ±`cap`; None when absent;
    MappingError otherwise. No arithmetic happens before the bounds are checked."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MappingError(field, f"expected a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise MappingError(field, "expected a finite number")
    if isinstance(value, int) and not -cap <= value <= cap:
        raise _beyond(field, cap)
    if isinstance(value, str) and len(value) > MAX_NUMBER_CHARS:
        raise MappingError(field, f"expected a number, got a string of over {MAX_NUMBER_CHARS} characters")
    try:
        result = Decimal(value.strip() if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise MappingError(field, "expected a number, got a non-numeric string") from None
    if not result.is_finite():
        raise MappingError(field, "expected a finite number")
    if not -cap <= result <= cap:
        raise _beyond(field, cap)
    return result


def _beyond(field: str, cap: int) -> MappingError:
    return MappingError(field, f"expected a number within ±{cap:.3g}")


def quantity(value: object, field: str) -> int:
    """A product quantity (default 1); MappingError unless a whole number >= 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise MappingError(field, "expected a whole number >= 0")
        if value > MAX_INT:
            raise _beyond(field, MAX_INT)
        return value
    amount = number(value, field, MAX_INT)
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


def id_text(value: str | int, field: str) -> str:
    """An id sent to Meta as text, stripped (maybe empty); MappingError when it is an integer beyond
    int64 or a string over MAX_FIELD_CHARS characters (the envelope's own bound)."""
    if isinstance(value, int):
        if not -MAX_INT - 1 <= value <= MAX_INT:
            raise MappingError(field, "an integer beyond int64")
        return str(value)
    if len(value) > MAX_FIELD_CHARS:
        raise MappingError(field, f"longer than {MAX_FIELD_CHARS} characters")
    return value.strip()


def _product_id(product: dict[str, Any]) -> str | None:
    first = product.get("product_id")
    if type(first) is str and 0 < len(first) <= MAX_FIELD_CHARS and (text := first.strip()):
        return text
    for key in ("product_id", "sku", "id"):
        value = product.get(key)
        if (
            isinstance(value, str | int)
            and not isinstance(value, bool)
            and (text := id_text(value, f"properties.products[].{key}"))
        ):
            return text
    return None


def products(props: dict[str, Any], rule: Rule) -> Pairs:
    """(index, product) pairs: properties.products[], or (None, the event's own properties) for
    single-product events. The index names the product in errors (`properties.products[1].price`)."""
    items = props.get("products")
    if items is None:
        if rule.value_rule is ValueRule.LINE or _product_id(props) is not None:
            return [(None, props)]
        return []
    if not isinstance(items, list):
        raise MappingError("properties.products", "expected a list")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise MappingError(f"properties.products[{i}]", "expected an object")
    return list(enumerate(items))


def _path(index: int | None, leaf: str) -> str:
    return f"properties.{leaf}" if index is None else f"properties.products[{index}].{leaf}"


def _quantity_of(index: int | None, product: dict[str, Any]) -> int:
    raw = product.get("quantity")
    if type(raw) is int and 0 <= raw <= MAX_INT:  # the common case, without building the field's path
        return raw
    return quantity(raw, _path(index, "quantity"))


def _price_of(index: int | None, product: dict[str, Any]) -> Number | None:
    raw = product.get("price")
    if (type(raw) is float or type(raw) is int) and -MAX_MONEY <= raw <= MAX_MONEY:  # NaN fails this too
        return raw
    return number(raw, _path(index, "price"))


def contents(pairs: Pairs) -> list[dict[str, Any]]:
    """Meta `contents`: {id, quantity, item_price?} per product that has an id."""
    result = []
    for index, product in pairs:
        pid = _product_id(product)
        if pid is None:
            continue
        entry: dict[str, Any] = {"id": pid, "quantity": _quantity_of(index, product)}
        price = _price_of(index, product)
        if price is not None:
            entry["item_price"] = emit(price)
        result.append(entry)
    return result


def _line_total(pairs: Pairs) -> Number | None:
    lines: Lines = []
    for index, product in pairs:
        price = _price_of(index, product)
        if price is not None:
            lines.append((price, _quantity_of(index, product)))
    return _sum_lines(lines)


def _sum_lines(lines: Lines) -> Number | None:
    """Σ price × quantity of validated (price, quantity) lines; None when there are none."""
    if not lines:
        return None
    total: Number
    if all(type(price) is int for price, _ in lines):
        total = sum(int(price) * qty for price, qty in lines)
    else:
        # A fraction is involved: exact decimal arithmetic (a float's repr is its exact decimal reading).
        # Bounded operands (MAX_MONEY × MAX_INT) stay far inside Decimal's exponent range: no Overflow.
        total = sum((Decimal(repr(p)) if isinstance(p, float) else Decimal(p)) * q for p, q in lines)
    if not -MAX_MONEY <= total <= MAX_MONEY:
        raise MappingError("properties.products", f"Σ price × quantity is beyond ±{MAX_MONEY:.3g}")
    return total


def value(props: dict[str, Any], rule: Rule, pairs: Pairs, value_field: str | None) -> Number | None:
    """The event value: `value_field` (or total, revenue, value), else Σ price × quantity.

    For single-product rules (ValueRule.LINE) price × quantity comes first.
    """
    keys = (value_field,) if value_field else ORDER_VALUE_FIELDS
    return _value(props, rule.value_rule is ValueRule.LINE, keys, _line_total, pairs)


def _value(
    props: dict[str, Any],
    line_first: bool,
    keys: tuple[str, ...],
    line_total: Callable[[_T], Number | None],
    lines: _T,
) -> Number | None:
    """value()'s chain; `line_total(lines)` is Σ price × quantity (from pairs, or from validated lines)."""
    if line_first:
        line = line_total(lines)
        if line is not None:
            return line
    for key in keys:
        raw = props.get(key)
        if raw is None:
            continue
        fast = (type(raw) is int or type(raw) is float) and -MAX_MONEY <= raw <= MAX_MONEY
        amount = raw if fast else number(raw, f"properties.{key}")
        if amount is not None:
            return amount
    return line_total(lines)


def _scalar(value: object) -> bool:
    """A string, bool, finite float or int64 (Meta refuses a whole request over a longer integer)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return -MAX_INT - 1 <= value <= MAX_INT
    return isinstance(value, str | bool) or (isinstance(value, float) and math.isfinite(value))


def _text(props: dict[str, Any], key: str) -> str | None:
    """A text field's value, stripped; None when absent, empty, not a scalar, or personal by its shape
    (an e-mail address, a phone number or an IP typed into a search box or a name is never sent)."""
    raw = props.get(key)
    if type(raw) is str:
        text = raw.strip()
    elif raw is None or isinstance(raw, bool) or not _scalar(raw):
        return None
    else:
        text = str(raw).strip()
    return text if text and not personal_value(key, text) else None


def passthrough(props: dict[str, Any]) -> dict[str, Any]:
    """A custom event's properties that may be sent: scalars (str, int, finite float, bool) whose key
    and value are not personal by name or by shape (relay.pii.is_personal; docs/privacy.md). Lists and
    objects never pass: their insides are not vouched for."""
    data = {k: v for k, v in props.items() if _scalar(v) and not is_personal(k, v)}
    if "currency" in data:
        code = currency(props)
        if code is None:
            del data["currency"]
        else:
            data["currency"] = code
    return data


@dataclass(frozen=True, slots=True)
class _Shape:
    """What one row builds, decided once: each flag is a field of DESIGN §5's table for that row."""

    rule: Rule
    value_field: str | None
    need_pairs: bool
    need_items: bool
    currency: bool
    value: bool
    order_id: bool
    booking_id: bool
    content_ids: bool
    contents: bool
    num_items: bool
    list_contents: bool
    predicted_ltv: bool
    fixed_type: str | None
    free_type: bool
    types_without_items: bool
    texts: tuple[tuple[str, str], ...]
    travel: tuple[str, ...]


def _shape(rule: Rule, value_field: str | None) -> _Shape:
    f = rule.fields
    return _Shape(
        rule=rule,
        value_field=value_field,
        need_pairs=bool(f & _PRODUCT_FIELDS),
        need_items=bool(f & _CONTENT_FIELDS),
        currency="currency" in f,
        value="value" in f,
        order_id="order_id" in f,
        booking_id="booking_id" in f,
        content_ids="content_ids" in f,
        contents="contents" in f,
        num_items="num_items" in f,
        list_contents="list_contents" in f,
        predicted_ltv="predicted_ltv" in f,
        fixed_type=rule.content_type,
        free_type="content_type" in f,
        types_without_items=rule.content_type is not None and "contents" not in f,
        texts=tuple((key, source) for key, source in _TEXT_FIELDS if key in f),
        travel=tuple(sorted(f & TRAVEL_FIELDS)),
    )


@lru_cache(maxsize=COMPILED_RULES)
def compile_rule(rule: Rule, value_field: str | None) -> Builder:
    """The custom_data builder of one variant row: the fields, their order and their sources fixed once.

    It is a plan of steps, each a plain function chosen (and its constants bound) for the row, run in
    order. Products of the common shapes are read in one pass that cannot fail (`_simple_contents`,
    `_simple_lines`); an event with products of any other shape is built by the general interpreter
    (`reference_builder`) instead, so outputs and errors are the same for every input."""
    if rule.passthrough:
        return passthrough
    shape = _shape(rule, value_field)
    return _run(shape, _plan(shape))


def reference_builder(rule: Rule, value_field: str | None) -> Builder:
    """The general interpreter of a row (the table read per event): what `compile_rule` is checked
    against, and what it falls back to for products of uncommon shapes."""
    if rule.passthrough:
        return passthrough
    shape = _shape(rule, value_field)
    return lambda props: _build(shape, props)


# ---- the compiled plan ---------------------------------------------------------------------------

# What the one pass over products found: Meta `contents`, their ids, Σ their quantities, and the
# products themselves (all of the common shapes), whose price × quantity lines are summed only if needed.
_Products = tuple[list[dict[str, Any]], list[str], int, list[dict[str, Any]]]
Step = Callable[[dict[str, Any], dict[str, Any], _Products], None]
# Rows that read no products; never mutated (a step only reads it).
_NO_PRODUCTS: _Products = ([], [], 0, [])
# ±MAX_MONEY for the fast paths: a float compares with a float bound (exactly 10**15) faster than with
# an int beyond 2**48.
_MONEY_LOW, _MONEY_HIGH, _INT_MONEY_LOW = -float(MAX_MONEY), float(MAX_MONEY), -MAX_MONEY


def _run(shape: _Shape, steps: tuple[Step, ...]) -> Builder:
    if not shape.need_pairs:

        def build(props: dict[str, Any]) -> dict[str, Any]:
            data: dict[str, Any] = {}
            for step in steps:
                step(props, data, _NO_PRODUCTS)
            return data

        return build

    read = _simple_contents if shape.need_items or shape.list_contents else _simple_lines
    line = shape.rule.value_rule is ValueRule.LINE

    def build_with_products(props: dict[str, Any]) -> dict[str, Any]:
        items = props.get("products")
        found = read(items) if type(items) is list else _lone_product(props, items, line, read)
        if found is None:
            return _build(shape, props)
        data: dict[str, Any] = {}
        for step in steps:
            step(props, data, found)
        return data

    return build_with_products


def _lone_product(
    props: dict[str, Any], items: object, line: bool, read: Callable[[list[Any]], _Products | None]
) -> _Products | None:
    """What products() reads when properties.products is not a list: the event's own properties (for
    ValueRule.LINE, or when they hold a plain product_id), or nothing (no id of any kind); None for
    anything else (the general path reads it, with its errors)."""
    if items is not None:
        return None
    if line:
        return read([props])
    first = props.get("product_id")
    if type(first) is str and 0 < len(first) <= MAX_FIELD_CHARS and first.strip():
        return read([props])
    if first is None and props.get("sku") is None and props.get("id") is None:
        return ([], [], 0, [])
    return None


def _simple_quantity(product: dict[str, Any]) -> int | None:
    """quantity when absent (1) or an int in 0..MAX_INT; None for anything else."""
    qty = product.get("quantity")
    if type(qty) is int:
        return qty if 0 <= qty <= MAX_INT else None
    return 1 if qty is None else None


def _simple_price(price: object) -> bool:
    """True for an int or float within ±MAX_MONEY (NaN is not)."""
    if type(price) is float:
        return _MONEY_LOW <= price <= _MONEY_HIGH
    return type(price) is int and _INT_MONEY_LOW <= price <= MAX_MONEY


def _simple_lines(items: list[Any]) -> _Products | None:
    """For rows that need only Σ price × quantity: the products, when all are of the common shapes."""
    for product in items:
        if type(product) is not dict or _simple_quantity(product) is None:
            return None
        price = product.get("price")
        if price is not None and not _simple_price(price):
            return None
    return [], [], 0, items


def _simple_contents(items: list[Any]) -> _Products | None:
    """contents, ids and Σ quantity when every product is of the common shapes: an object; quantity
    absent or an int in 0..MAX_INT; price absent or an int/float within ±MAX_MONEY; a product_id string
    of 1..MAX_FIELD_CHARS characters, not blank. None for anything else. These shapes are all valid:
    nothing here raises, and the general path (with its errors) reads every other shape."""
    contents: list[dict[str, Any]] = []
    ids: list[str] = []
    count = 0
    for product in items:
        if type(product) is not dict:
            return None
        pid = product.get("product_id")
        if type(pid) is not str or len(pid) > MAX_FIELD_CHARS or not (pid := pid.strip()):
            return None
        qty = product.get("quantity")
        if type(qty) is not int or not 0 <= qty <= MAX_INT:
            if qty is not None:
                return None
            qty = 1
        price = product.get("price")
        if price is None:
            contents.append({"id": pid, "quantity": qty})
        elif type(price) is float and _MONEY_LOW <= price <= _MONEY_HIGH:  # NaN is not
            # emit(): a whole float within ±MAX_MONEY (< 2**53) is sent as an int.
            contents.append(
                {"id": pid, "quantity": qty, "item_price": int(price) if price.is_integer() else price}
            )
        elif type(price) is int and _INT_MONEY_LOW <= price <= MAX_MONEY:
            contents.append({"id": pid, "quantity": qty, "item_price": price})
        else:
            return None
        ids.append(pid)
        count += qty
    return contents, ids, count, items


def _simple_line_total(items: list[dict[str, Any]]) -> Number | None:
    """Σ price × quantity of products already read by _simple_lines or _simple_contents."""
    lines: Lines = []
    for product in items:
        price = product.get("price")
        if price is not None:
            qty = product.get("quantity")
            lines.append((price, 1 if qty is None else qty))
    return _sum_lines(lines)


def _plan(shape: _Shape) -> tuple[Step, ...]:
    """The row's steps, in the order _build writes the fields."""
    steps: list[Step] = []
    if shape.currency:
        steps.append(_currency_step)
    if shape.value:
        keys = (shape.value_field,) if shape.value_field else ORDER_VALUE_FIELDS
        steps.append(_value_step(shape.rule.value_rule is ValueRule.LINE, keys))
    if shape.order_id:
        steps.append(_order_id_step)
    if shape.booking_id:
        steps.append(_booking_step)
    if (
        shape.content_ids
        or shape.fixed_type is not None
        or shape.free_type
        or shape.contents
        or shape.num_items
    ):
        steps.append(partial(_catalogue, shape))
    if shape.list_contents:
        steps.append(_list_step)
    steps.extend(partial(_text_field, key, source) for key, source in shape.texts)
    if shape.predicted_ltv:
        steps.append(_ltv_step)
    if shape.travel:
        steps.append(partial(_travel, shape.travel))
    return tuple(steps)


def _currency_step(props: dict[str, Any], data: dict[str, Any], found: _Products) -> None:
    raw = props.get("currency")
    code = _currency_code(raw) if type(raw) is str else None
    if code is None:
        code = currency(props)  # absent or empty (None), or refused (it raises)
    if code is not None:
        data["currency"] = code


def _value_step(line_first: bool, keys: tuple[str, ...]) -> Step:
    def step(props: dict[str, Any], data: dict[str, Any], found: _Products) -> None:
        if not line_first:
            for key in keys:
                raw = props.get(key)
                if raw is None:
                    continue
                # emit() of a bounded JSON number (|raw| <= MAX_MONEY < 2**53); any other value is
                # read by the general chain, from the start.
                if type(raw) is float and _MONEY_LOW <= raw <= _MONEY_HIGH:
                    data["value"] = int(raw) if raw.is_integer() else raw
                    return
                if type(raw) is int and _INT_MONEY_LOW <= raw <= MAX_MONEY:
                    data["value"] = raw
                    return
                break
        amount = _value(props, line_first, keys, _simple_line_total, found[3])
        if amount is not None:
            data["value"] = emit(amount)

    return step


def _order_id_step(props: dict[str, Any], data: dict[str, Any], found: _Products) -> None:
    if order_id := _text(props, "order_id"):
        data["order_id"] = order_id


def _booking_step(props: dict[str, Any], data: dict[str, Any], found: _Products) -> None:
    if order_id := _text(props, "order_id") or _text(props, "booking_id"):
        data["order_id"] = order_id


def _list_step(props: dict[str, Any], data: dict[str, Any], found: _Products) -> None:
    data.update(_list_of(found[1], props))


def _text_field(key: str, source: str, props: dict[str, Any], data: dict[str, Any], found: _Products) -> None:
    if text := _text(props, source) or _text(props, key):
        data[key] = text


def _ltv_step(props: dict[str, Any], data: dict[str, Any], found: _Products) -> None:
    if (ltv := number(props.get("predicted_ltv"), "properties.predicted_ltv")) is not None:
        data["predicted_ltv"] = emit(ltv)


# ---- the general interpreter (the reference, and the fallback for uncommon product shapes) ------


def _build(shape: _Shape, props: dict[str, Any]) -> dict[str, Any]:
    pairs = products(props, shape.rule) if shape.need_pairs else []
    data: dict[str, Any] = {}
    _money_and_order(shape, props, pairs, data)
    items = contents(pairs) if shape.need_items else []
    if items:
        _catalogue(shape, props, data, (items, [item["id"] for item in items], _quantities(items), []))
    else:
        _catalogue(shape, props, data, _NO_PRODUCTS)
    if shape.list_contents:
        data.update(_list_contents(pairs, props))
    for key, source in shape.texts:
        _text_field(key, source, props, data, _NO_PRODUCTS)
    if shape.predicted_ltv:
        _ltv_step(props, data, _NO_PRODUCTS)
    _travel(shape.travel, props, data, _NO_PRODUCTS)
    return data


def _travel(keys: tuple[str, ...], props: dict[str, Any], data: dict[str, Any], found: _Products) -> None:
    for key in keys:
        raw = props.get(key)
        if raw is not None and raw != "" and _scalar(raw) and not personal_value(key, raw):
            data[key] = raw


def _quantities(items: list[dict[str, Any]]) -> int:
    return sum(item["quantity"] for item in items)


def _money_and_order(shape: _Shape, props: dict[str, Any], pairs: Pairs, data: dict[str, Any]) -> None:
    if shape.currency and (code := currency(props)) is not None:
        data["currency"] = code
    if shape.value and (amount := value(props, shape.rule, pairs, shape.value_field)) is not None:
        data["value"] = emit(amount)
    if shape.order_id and (order_id := _text(props, "order_id")):
        data["order_id"] = order_id
    if shape.booking_id:
        _booking_step(props, data, _NO_PRODUCTS)


def _catalogue(shape: _Shape, props: dict[str, Any], data: dict[str, Any], found: _Products) -> None:
    """content_ids, content_type, contents and num_items from `found` (contents, ids, Σ quantity)."""
    items = found[0]
    if shape.content_ids and items:
        data["content_ids"] = found[1]
    if shape.fixed_type is not None and (items or shape.types_without_items):
        data["content_type"] = shape.fixed_type
    elif shape.free_type and (content_type := _text(props, "content_type")):
        data["content_type"] = content_type
    if shape.contents and items:
        data["contents"] = items
    if shape.num_items and items:
        if found[2] > MAX_INT:
            raise MappingError("properties.products", "Σ quantity (num_items) is beyond int64")
        data["num_items"] = found[2]


def _list_contents(pairs: Pairs, props: dict[str, Any]) -> dict[str, Any]:
    return _list_of([item["id"] for item in contents(pairs)], props)


def _list_of(ids: list[str], props: dict[str, Any]) -> dict[str, Any]:
    if ids:
        return {"content_ids": ids, "content_type": "product"}
    category = _text(props, "category") or _text(props, "list_id")
    return {"content_ids": [category], "content_type": "product_group"} if category else {}
