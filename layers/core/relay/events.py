"""The event envelope: Segment-spec page / track / identify events as the collector queues them.

An event is validated by pydantic-core into plain dictionaries (TypedDicts below, snake_case keys), so
mapping reads it at dict speed. Unknown fields are ignored; a field of the wrong type fails validation
with its dotted path named (`context.page.url: Input should be a valid string`), so one bad event never
hides the good ones. Numbers where strings are expected (userId: 42) become strings, as Segment
clients send them.

The queue body is the Segment JSON itself (camelCase, unknown fields kept): `queue_body` writes what the
collector enqueues and `parse_event_json` reads it back, so the two round-trip.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal, Required

from pydantic import AliasChoices, ConfigDict, Field, TypeAdapter, ValidationError, with_config
from pydantic_core import CoreConfig, SchemaValidator
from typing_extensions import TypedDict

EventType = Literal["page", "screen", "track", "identify", "group", "alias"]

# Input bounds (docs/normalization.md, "Input bounds"). Segment's HTTP API takes at most 32 KB per event;
# twice that is the most one queued event may hold. Larger bodies are parked as malformed, unread.
MAX_EVENT_BYTES = 64 * 1024
# Every string field the envelope names (URLs, user agent, ids, traits): browsers and CDNs cap URLs near
# 8 KB, and no user agent, id or trait comes close. Longer → the event is rejected naming the field.
MAX_FIELD_CHARS = 8 * 1024
# Objects and arrays nested in `properties` (e-commerce events use 3 levels: properties.products[].x).
MAX_DEPTH = 32
# A lone UTF-16 surrogate (JavaScript strings may hold one; JSON escapes it as \ud800) has no UTF-8 form:
# it is replaced by U+FFFD, as a browser's TextEncoder does, so one such character never fails a request.
REPLACEMENT = "\ufffd"

# Keys and many values (event names, user agents, URLs, currencies, product ids, names, cities) repeat
# from event to event: the JSON reader interns every string of up to 64 characters in its own bounded
# cache (pydantic-core's, bounded, in process memory only, as the hash memos are). Measured on the bar
# workload: 15 % less validation time than interning keys alone.
_CONFIG = ConfigDict(
    extra="ignore", coerce_numbers_to_str=True, str_max_length=MAX_FIELD_CHARS, cache_strings="all"
)


def _alias(*names: str) -> Any:
    return Field(validation_alias=AliasChoices(*names))


PostalCode = Annotated[str | None, _alias("postalCode", "postal_code", "zip")]


@with_config(_CONFIG)
class Address(TypedDict, total=False):
    street: str | None
    city: str | None
    state: str | None
    postal_code: PostalCode
    country: str | None


@with_config(_CONFIG)
class Traits(TypedDict, total=False):
    """User data as Segment's identify spec names it; both trait spellings and `address{}` are accepted."""

    email: str | list[str] | None
    phone: str | list[str] | None
    first_name: Annotated[str | None, _alias("firstName", "first_name")]
    last_name: Annotated[str | None, _alias("lastName", "last_name")]
    gender: str | None
    birthday: Annotated[str | None, _alias("birthday", "birthdate", "dob")]
    city: str | None
    state: str | None
    postal_code: PostalCode
    country: str | None
    address: Address | None


@with_config(_CONFIG)
class Page(TypedDict, total=False):
    url: str | None
    referrer: str | None
    path: str | None
    title: str | None


@with_config(_CONFIG)
class Consent(TypedDict, total=False):
    """Segment's consent object. A preference's value is kept as the JSON value it is (not coerced to
    bool): only JSON `true` grants a category (relay.consent), and no value makes the event invalid."""

    category_preferences: Annotated[dict[str, Any], _alias("categoryPreferences", "category_preferences")]


@with_config(_CONFIG)
class App(TypedDict, total=False):
    name: str | None
    version: str | None
    build: str | None
    namespace: str | None


@with_config(_CONFIG)
class Device(TypedDict, total=False):
    id: str | None
    advertising_id: Annotated[str | None, _alias("advertisingId", "advertising_id")]
    ad_tracking_enabled: Annotated[bool | None, _alias("adTrackingEnabled", "ad_tracking_enabled")]
    manufacturer: str | None
    model: str | None
    type: str | None


@with_config(_CONFIG)
class OS(TypedDict, total=False):
    name: str | None
    version: str | None


@with_config(_CONFIG)
class Screen(TypedDict, total=False):
    width: int | None
    height: int | None
    density: float | None


@with_config(_CONFIG)
class Network(TypedDict, total=False):
    carrier: str | None


@with_config(_CONFIG)
class Context(TypedDict, total=False):
    ip: str | None
    user_agent: Annotated[str | None, _alias("userAgent", "user_agent")]
    page: Page | None
    fbp: str | None
    fbc: str | None
    consent: Consent | None
    app: App | None
    device: Device | None
    os: OS | None
    screen: Screen | None
    network: Network | None
    locale: str | None
    timezone: str | None
    traits: Traits | None
    source_id: str | None


@with_config(_CONFIG)
class Event(TypedDict, total=False):
    """One Segment-spec event, enriched by the collector (only `type` is required)."""

    type: Required[EventType]
    event: str | None
    message_id: Annotated[str | None, _alias("messageId", "message_id")]
    anonymous_id: Annotated[str | None, _alias("anonymousId", "anonymous_id")]
    user_id: Annotated[str | None, _alias("userId", "user_id")]
    timestamp: datetime | None
    received_at: Annotated[datetime | None, _alias("receivedAt", "received_at")]
    name: str | None
    properties: dict[str, Any]
    traits: Traits | None
    context: Context


@cache
def _adapter() -> TypeAdapter[Event]:
    # Built on first use: a validator is tens of ms of schema building that an import should not pay.
    return TypeAdapter(Event)


@cache
def _short_body_validator() -> SchemaValidator:
    """The envelope's validator without its per-string bound, for bodies of at most MAX_FIELD_CHARS bytes.

    A JSON string takes at least one byte per character, so no string in such a body can cross the bound:
    both validators give the same answer there, and this one checks no length per string (≈ 13 % of
    validating a typical event).
    """
    return SchemaValidator(
        _without(_adapter().core_schema, "str_max_length"),
        config=CoreConfig(cache_strings=_CONFIG["cache_strings"]),  # the reader's own setting, not per field
    )


def _without(schema: Any, key: str) -> Any:
    """A copy of a core schema (nested dicts and lists) with every `key` entry removed."""
    if type(schema) is dict:
        return {k: _without(v, key) for k, v in schema.items() if k != key}
    if type(schema) is list:
        return [_without(v, key) for v in schema]
    return schema


class EventError(ValueError):
    """An input event that cannot be read; `reason` names the offending field."""

    def __init__(self, reason: str, message_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message_id = message_id


class BodyNotJson(EventError):
    """A message body that is not JSON at all; `detail` is the decoder's description."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"body: not valid JSON ({detail})")
        self.detail = detail


# Objects whose keys are the sender's own text (they could be anything, an e-mail address included).
_FREE_KEYS = frozenset({"properties", "categoryPreferences", "category_preferences"})


def _describe(error: ValidationError) -> str:
    parts = []
    for err in error.errors(include_url=False):
        loc = ".".join(_loc(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _loc(path: tuple[int | str, ...]) -> list[str]:
    """An error's location; a key of a free-form object is written `<key>`, never spelled out."""
    out: list[str] = []
    free = False
    for part in path:
        out.append("<key>" if free and isinstance(part, str) and part != "[key]" else str(part))
        free = free or part in _FREE_KEYS
    return out


def _checked(event: Event, containers: int | None = None) -> Event:
    """`event` after the checks its schema cannot express; `containers` bounds how many objects and
    arrays its JSON holds, when known (nesting is never deeper than that: no walk needed below MAX_DEPTH)."""
    if event["type"] == "track" and not (event.get("event") or "").strip():
        mid = event.get("message_id")
        raise EventError("event: required for track events", mid if isinstance(mid, str) else None)
    if containers is not None and containers <= MAX_DEPTH:
        return event
    props: dict[str, Any] | None = event.get("properties")
    if props and _too_deep(props, MAX_DEPTH):
        mid = event.get("message_id")
        raise EventError(
            f"properties: nested deeper than {MAX_DEPTH} levels", mid if isinstance(mid, str) else None
        )
    consent = (event.get("context") or {}).get("consent")
    prefs: dict[str, Any] | None = consent.get("category_preferences") if consent else None
    if prefs and _too_deep(prefs, MAX_DEPTH):
        mid = event.get("message_id")
        raise EventError(
            f"context.consent.categoryPreferences: nested deeper than {MAX_DEPTH} levels",
            mid if isinstance(mid, str) else None,
        )
    return event


def _too_deep(value: dict[str, Any] | list[Any], budget: int) -> bool:
    """True when containers nest more than `budget` levels below `value` (recursion bounded by budget)."""
    if budget <= 0:
        return True
    items: Any = value.values() if type(value) is dict else value
    for item in items:
        kind = type(item)
        if (kind is dict or kind is list) and _too_deep(item, budget - 1):
            return True
    return False


def _repaired(value: Any, budget: int = MAX_DEPTH + 8) -> Any:
    """`value` with every lone surrogate in its strings (and keys) replaced by U+FFFD.

    Raises EventError past `budget` levels of nesting (the envelope's own levels plus MAX_DEPTH), so a
    deeply nested document is refused here rather than by a RecursionError anywhere later.
    """
    kind = type(value)
    if kind is str:
        return _text_repaired(value)
    if kind is dict or kind is list:
        if budget <= 0:
            raise EventError(f"body: nested deeper than {MAX_DEPTH} levels")
        if kind is dict:
            return {_text_repaired(k): _repaired(v, budget - 1) for k, v in value.items()}
        return [_repaired(v, budget - 1) for v in value]
    return value


def _text_repaired(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A valid pair was already joined by the decoder: whatever cannot be encoded is a lone surrogate.
        return "".join(REPLACEMENT if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def parse_event(raw: object) -> Event:
    """Validate one decoded JSON value as an event.

    Lone surrogates in strings are replaced by U+FFFD. Raises EventError naming the field when `raw` is
    not an object, lacks `type` (or `event` for track), has a field of the wrong type, a string field
    over MAX_FIELD_CHARS, or `properties` nested deeper than MAX_DEPTH.
    """
    return validated(raw)[1]


def validated(raw: object) -> tuple[dict[str, Any], Event]:
    """`parse_event`, also returning the raw object as it will be queued (lone surrogates replaced).

    Raises EventError as parse_event does."""
    if not isinstance(raw, dict):
        raise EventError(f"event: expected a JSON object, got {type(raw).__name__}")
    clean: dict[str, Any] = _repaired(raw)
    try:
        return clean, _checked(_adapter().validate_python(clean))
    except ValidationError as exc:
        message_id = clean.get("messageId")
        raise EventError(_describe(exc), message_id if isinstance(message_id, str) else None) from None


def parse_event_json(body: str | bytes) -> Event:
    """Validate one JSON document (an SQS message body) as an event; raises EventError.

    Bounds: at most MAX_EVENT_BYTES (else EventError on `body`, the body unread), and those of
    `parse_event`. NaN and Infinity literals are read as non-finite floats, which every money field
    refuses and custom-data pass-through drops.
    """
    if len(body) > MAX_EVENT_BYTES // 4 and _size(body) > MAX_EVENT_BYTES:
        raise EventError(f"body: larger than {MAX_EVENT_BYTES:,} bytes")
    try:
        # pydantic-core parses the JSON itself (fast path); the slow path below explains failures and
        # repairs what jiter refuses but a browser may send (lone surrogates)
        if len(body) <= MAX_FIELD_CHARS:  # bytes or characters: either way no string can be longer
            event: Event = _short_body_validator().validate_json(body)
        else:
            event = _adapter().validate_json(body)
        return _checked(event, _containers(body))
    except ValidationError:
        pass
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise BodyNotJson(detail) from None
    return parse_event(raw)


def _containers(body: str | bytes) -> int:
    """How many `{` and `[` the text holds: at least its count of objects and arrays."""
    if isinstance(body, bytes):  # one pass deleting both: ≈ 20 % less time than two count() passes
        return len(body) - len(body.translate(None, b"{["))
    return body.count("{") + body.count("[")


def _size(body: str | bytes) -> int:
    return len(body) if isinstance(body, bytes) else len(body.encode("utf-8", "surrogatepass"))


# ---- reading an event ---------------------------------------------------------------------------


def context(event: Event) -> Context:
    return event.get("context") or {}


def page(event: Event) -> Page:
    return context(event).get("page") or {}


def properties(event: Event) -> dict[str, Any]:
    return event.get("properties") or {}


def page_url(event: Event) -> str | None:
    """context.page.url; for a page call without one, properties.url (where Segment's page spec puts it)."""
    return _page_field(event, "url")


def page_referrer(event: Event) -> str | None:
    """context.page.referrer; for a page call without one, properties.referrer."""
    return _page_field(event, "referrer")


def page_urls(event: Event) -> tuple[str | None, str | None]:
    """(page_url(event), page_referrer(event)) in one reading of the event."""
    info = page(event)
    url, referrer = info.get("url"), info.get("referrer")
    if (
        url is not None
        and url.strip()
        and (referrer.strip() if referrer is not None else event["type"] != "page")
    ):
        return url, referrer  # both read from context.page: nothing to look for in properties
    return _page_field(event, "url", info), _page_field(event, "referrer", info)


def _page_field(event: Event, key: Literal["url", "referrer"], info: Page | None = None) -> str | None:
    from_context = (page(event) if info is None else info).get(key)
    if from_context is not None and from_context.strip():
        return from_context
    if event["type"] == "page":  # a track's properties.url is something else (a product's page, say)
        value = properties(event).get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def moment(event: Event) -> datetime | None:
    """When the event happened: timestamp, else receivedAt; a naive time is read as UTC."""
    when = event.get("timestamp") or event.get("received_at")
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def user_traits(event: Event) -> Traits:
    """context.traits, overridden field by field by top-level traits (identify); addresses merge."""
    base = context(event).get("traits") or {}
    top = event.get("traits")
    if not top:
        return base
    merged: dict[str, Any] = {**base, **{k: v for k, v in top.items() if v is not None and k != "address"}}
    if top_address := top.get("address"):
        address: dict[str, Any] = {**(base.get("address") or {})}
        address.update({k: v for k, v in top_address.items() if v is not None})
        merged["address"] = address
    return merged  # type: ignore[return-value]


def content_event_id(event: Event) -> str:
    """A stable id for an event that has neither messageId nor properties.event_id.

    The canonical form is the validated event with its defaults and without nulls, so the same event
    always gets the same id (SQS redelivery, redrive).
    """
    data = _adapter().dump_python(event, mode="json", exclude_none=True)
    data.setdefault("properties", {})
    ctx = data.setdefault("context", {})
    ctx.setdefault("page", {})
    if isinstance(ctx.get("consent"), dict):
        ctx["consent"].setdefault("category_preferences", {})
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return "relay-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


# ---- writing the queue body ---------------------------------------------------------------------


def queue_body(raw: Mapping[str, Any]) -> str:
    """The SQS message body for a Segment event: its own JSON, keys and unknown fields unchanged.

    Raises EventError (naming the field) when `raw` is not a valid event, so nothing unreadable is queued.
    """
    parse_event(dict(raw))
    return wire_json(raw)


# Characters SQS refuses in a message body that JSON writes as they are (U+FFFE, U+FFFF).
_SQS_REFUSED = ("\ufffe", "\uffff")


def wire_json(raw: Mapping[str, Any]) -> str:
    """Compact JSON of an (already validated, surrogate-free) event, in characters SQS accepts."""
    text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"))
    for ch in _SQS_REFUSED:
        if ch in text:  # only inside JSON strings, where its escape means the same character
            text = text.replace(ch, f"\\u{ord(ch):04x}")
    return text


def enriched(
    raw: Mapping[str, Any], *, context: Mapping[str, Any] | None = None, **top: Any
) -> dict[str, Any]:
    """A copy of `raw` with top-level fields set where missing (messageId, receivedAt...) and `context`
    fields set (the collector's ip, userAgent, fbp, fbc, source_id); everything else kept as sent."""
    out = dict(raw)
    for key, value in top.items():
        if out.get(key) is None:
            out[key] = value
    if context:
        ctx = dict(out.get("context") or {})
        ctx.update(context)
        out["context"] = ctx
    return out
