"""The variant tables of DESIGN §5 as data: which spec event becomes which Meta event, with which custom_data.

Every variant includes the default table; a variant adds (or replaces) rows. `config.event_mappings`
overrides any row; a spec event with no row passes through as a custom event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Final

from relay.vendors.meta_capi.limits import MAX_CUSTOM_EVENT_NAME


class ValueRule(Enum):
    # value = value_field / total / revenue / value, else Σ price × quantity over products[].
    ORDER = "order"
    # value = price × quantity of the single product the event is about, else the ORDER chain.
    LINE = "line"


@dataclass(frozen=True, slots=True)
class Rule:
    """How one spec event maps: the Meta event name and the custom_data fields to build."""

    meta_event: str
    fields: frozenset[str] = frozenset()
    content_type: str | None = None
    value_rule: ValueRule = ValueRule.ORDER
    requires_value: bool = False
    # No row for this event: its scalar properties pass through as custom_data, personal data removed.
    passthrough: bool = False


def _rule(meta_event: str, fields: str = "", **kwargs: object) -> Rule:
    return Rule(meta_event, frozenset(fields.split()), **kwargs)  # type: ignore[arg-type]


STANDARD_EVENTS: Final = frozenset(
    [
        "AddPaymentInfo",
        "AddToCart",
        "AddToWishlist",
        "CompleteRegistration",
        "Contact",
        "CustomizeProduct",
        "Donate",
        "FindLocation",
        "InitiateCheckout",
        "Lead",
        "PageView",
        "Purchase",
        "Schedule",
        "Search",
        "StartTrial",
        "SubmitApplication",
        "Subscribe",
        "ViewContent",
    ]
)

PAGE_VIEW = _rule("PageView")
_PURCHASE = _rule(
    "Purchase",
    "value currency order_id contents content_ids num_items",
    content_type="product",
    requires_value=True,
)
_TRAVEL = "checkin_date checkout_date origin_airport destination_airport departing_departure_date "
_TRAVEL += "returning_departure_date num_adults num_children destination"

_DEFAULT: Final[dict[str, Rule]] = {
    "Order Completed": _PURCHASE,
    "Product Purchased": _PURCHASE,
    "Product Added": _rule(
        "AddToCart",
        "content_ids contents value currency content_name",
        content_type="product",
        value_rule=ValueRule.LINE,
    ),
    "Checkout Started": _rule("InitiateCheckout", "value currency num_items contents content_ids"),
    "Product Viewed": _rule(
        "ViewContent",
        "content_ids contents value currency content_name content_category",
        content_type="product",
        value_rule=ValueRule.LINE,
    ),
    "Lead Generated": _rule("Lead", "value currency"),
    "Signed Up": _rule("CompleteRegistration", "status content_name"),
    "Products Searched": _rule("Search", "search_string"),
    "Product Added to Wishlist": _rule(
        "AddToWishlist", "content_ids contents value", value_rule=ValueRule.LINE
    ),
}

_EXTRA: Final[dict[str, dict[str, Rule]]] = {
    "default": {},
    "retail": {
        "Product List Viewed": _rule("ViewContent", "list_contents"),
        "Payment Info Entered": _rule("AddPaymentInfo", "value currency contents"),
        "Order Refunded": _rule("OrderRefunded", "value currency order_id"),
    },
    "travel": {
        "Hotel Searched": _rule("Search", "search_string " + _TRAVEL, content_type="hotel"),
        "Flight Searched": _rule("Search", "search_string " + _TRAVEL, content_type="flight"),
        "Products Searched": _rule("Search", "search_string content_type " + _TRAVEL),
        "Booking Started": _rule("InitiateCheckout", "value currency " + _TRAVEL),
        "Booking Completed": _rule("Purchase", "value currency booking_id " + _TRAVEL, requires_value=True),
        "Booking Cancelled": _rule("BookingCancelled", "booking_id value currency"),
    },
    "b2b_saas": {
        "Trial Started": _rule("StartTrial", "value currency predicted_ltv"),
        "Subscription Started": _rule("Subscribe", "value currency predicted_ltv subscription_id"),
        "Demo Requested": _rule("Lead", "value currency"),
        "Form Submitted": _rule("Lead", "value currency"),
        "Meeting Scheduled": _rule("Schedule"),
        "Application Submitted": _rule("SubmitApplication"),
        "Contact Requested": _rule("Contact"),
        "Subscription Cancelled": _rule("SubscriptionCancelled", "value currency"),
    },
}

# The product description's "Choose a variant" list, in its order: each variant's title and summary.
VARIANT_INFO: Final[dict[str, tuple[str, str]]] = {
    "retail": ("Retail", "full e-commerce funnel (product views, cart, checkout, purchase, refunds)"),
    "travel": ("Travel", "search, booking, and cancellation events"),
    "b2b_saas": ("B2B / SaaS", "sign-up, trial, subscription, and lead events"),
    "default": ("Default", "standard page view and conversion tracking"),
}


@dataclass(frozen=True, slots=True)
class MappedEvent:
    """One row of a variant as shown to people: the spec event (as the tables spell it) and its Meta event."""

    event: str
    meta_event: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VariantSummary:
    name: str
    title: str
    summary: str
    events: tuple[MappedEvent, ...]


TRAVEL_FIELDS: Final = frozenset(_TRAVEL.split())
PAGE_KEYS: Final = ("page", "screen")
# Distinct spec-event names a compiled plan remembers (custom events can have any name).
MAX_CACHED_NAMES = 4096


@lru_cache(maxsize=4096)
def event_key(name: str) -> str:
    """Spec event names match case-insensitively, with `_`/`-` as spaces: `order_completed` = `Order Completed`."""
    return re.sub(r"[\s_\-]+", " ", name).strip().lower()


def _table(variant: str) -> dict[str, Rule]:
    rows = {event_key(k): v for k, v in _DEFAULT.items()}
    rows.update({event_key(k): v for k, v in _EXTRA[variant].items()})
    return rows


_TABLES: Final = {variant: _table(variant) for variant in _EXTRA}


def variant_rows(variant: str) -> dict[str, Rule]:
    """The spec-event → Rule table of a variant (default rows included), keyed by `event_key`."""
    return _TABLES[variant]


def rule_for_meta_event(meta_event: str, variant: str) -> Rule:
    """The variant's row for a Meta event name (an `event_mappings` target); other names pass through."""
    for rule in (*_TABLES[variant].values(), PAGE_VIEW):
        if rule.meta_event == meta_event:
            return rule
    name = meta_event if meta_event in STANDARD_EVENTS else custom_event_name(meta_event)
    return Rule(name, passthrough=True)


def custom_event_name(name: str) -> str:
    """A spec event name as a Meta custom event name: trimmed, at most 50 characters."""
    return " ".join(name.split())[:MAX_CUSTOM_EVENT_NAME]


def resolve(
    variant: str, type_: str, name: str | None, overrides: dict[str, str | None] | None = None
) -> Rule | None:
    """The Rule for a page/screen/track event; None when `event_mappings` maps it to null (drop).

    An override names the Meta event; its custom_data follows the variant's row for that Meta event
    (standard events without a row, and custom names, pass their properties through).
    """
    spec = type_ if type_ in PAGE_KEYS else (name or "")
    key = event_key(spec)
    for source, target in (overrides or {}).items():
        if event_key(source) == key:
            return None if target is None else rule_for_meta_event(target.strip(), variant)
    if type_ in PAGE_KEYS:
        return PAGE_VIEW
    rule = _TABLES[variant].get(key)
    return rule if rule is not None else Rule(custom_event_name(spec), passthrough=True)


def catalogue() -> tuple[VariantSummary, ...]:
    """Every variant with the events it maps (page and screen first, then its table's rows as spelled in
    them, a variant's own rows replacing the default's of the same event), in VARIANT_INFO's order."""
    out = []
    for name, (title, summary) in VARIANT_INFO.items():
        rows: dict[str, tuple[str, Rule]] = {}
        for spec, rule in (*_DEFAULT.items(), *_EXTRA[name].items()):
            rows[event_key(spec)] = (spec, rule)
        events = [MappedEvent(k, PAGE_VIEW.meta_event, ()) for k in PAGE_KEYS]
        events += [MappedEvent(spec, r.meta_event, tuple(sorted(r.fields))) for spec, r in rows.values()]
        out.append(VariantSummary(name, title, summary, tuple(events)))
    return tuple(out)
