"""One Segment-spec event + one integration → one Meta server event, or a typed reason why not.

Pure: no I/O, no clock (callers pass `now`). Pre-validation happens here because Meta rejects a whole
request for one bad event (DESIGN §7, first bullet).

An integration's mapping is compiled once into a `Plan` (its variant table with the overrides applied,
each row's custom_data builder, consent categories, LDU fields); `map_event` then runs straight-line
code over the plain event dict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic_core import TzInfo

from relay import consent
from relay.events import (
    Context,
    Event,
    content_event_id,
    moment,
    page_urls,
    properties,
)
from relay.outbound import Outcome, Rejected, ServerEvent, Skipped
from relay.pii import scrub_url
from relay.vendors.meta_capi import custom_data, user_data, variants
from relay.vendors.meta_capi.custom_data import MappingError
from relay.vendors.meta_capi.limits import MAX_EVENT_AGE, SERVER_ACTION_SOURCE

if TYPE_CHECKING:
    from relay.integrations import Integration
    from relay.queue import SkipReason

__all__ = [
    "Outcome",
    "Rejected",
    "ServerEvent",
    "Skipped",
    "event_id",
    "event_time",
    "map_event",
    "scrub_url",
]

_NO_META_EVENT: dict[str, tuple[SkipReason, str]] = {
    "identify": ("identify", "identify calls carry traits for later events; Meta gets no event"),
    "group": ("group", "group calls have no Meta event"),
    "alias": ("alias", "alias calls have no Meta event"),
}
# Compiled plans kept per integration object (delivery reuses one object per source lookup).
PLAN_CACHE_SIZE = 256


def event_id(event: Event) -> str:
    """properties.event_id (shared with the browser Pixel) else messageId, else a content hash.

    Raises MappingError when properties.event_id is over MAX_FIELD_CHARS characters or an integer
    beyond int64 (Meta could not match it to the Pixel's anyway)."""
    override = properties(event).get("event_id")
    if (
        isinstance(override, str | int)
        and not isinstance(override, bool)
        and (text := custom_data.id_text(override, "properties.event_id"))
    ):
        return text
    return event.get("message_id") or content_event_id(event)


_last_clock: list[Any] = [None, 0.0, 0]


def _clock(now: datetime) -> tuple[float, int]:
    """The oldest acceptable moment (POSIX seconds) and `now` in whole seconds; a batch maps all its
    events at one `now` (the same object), so the last answer is kept. Float seconds hold microseconds
    exactly in this era (spacing ≈ 2.4e-7 s)."""
    last = _last_clock
    if last[0] is not now:
        last[:] = [now, (now - MAX_EVENT_AGE).timestamp(), int(now.timestamp())]
    return last[1], last[2]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIXED_OFFSETS = frozenset({TzInfo, timezone})
# The Unix epoch expressed in each fixed-offset tzinfo object seen (pydantic shares one per offset).
_epochs: dict[Any, datetime] = {}
EPOCH_CACHE_SIZE = 64


def _epoch_in(zone: Any) -> datetime:
    """The epoch as a datetime whose tzinfo is `zone` itself (the same object, not an equal one)."""
    hit = _epochs.get(zone)
    if hit is not None and hit.tzinfo is zone:
        return hit
    if len(_epochs) >= EPOCH_CACHE_SIZE:
        _epochs.clear()
    epoch = _epochs[zone] = _EPOCH.astimezone(zone)
    return epoch


def _posix_seconds(when: datetime) -> float:
    """`when.timestamp()` (aware `when`), without its tzinfo calls when the offset is fixed: datetimes
    sharing one tzinfo object subtract as wall times, exact for a fixed offset (pydantic's TzInfo,
    timezone), never used for a zone with DST."""
    zone = when.tzinfo
    if type(zone) in _FIXED_OFFSETS:
        epoch = _epochs.get(zone)
        if epoch is None or epoch.tzinfo is not zone:
            epoch = _epoch_in(zone)
        return (when - epoch).total_seconds()
    return when.timestamp()


def event_time(event: Event, now: datetime) -> int | Rejected:
    """event_time in Unix seconds: timestamp, else receivedAt; future times clamp to `now`."""
    when = moment(event)  # the one reading of an event's time, shared with the redrive's age check
    if when is None:
        return Rejected(
            "timestamp: missing (neither timestamp nor receivedAt is set)", event.get("message_id")
        )
    clock = _last_clock
    oldest, now_s = (clock[1], clock[2]) if clock[0] is now else _clock(now)
    seconds = _posix_seconds(when)
    if seconds < oldest:
        return Rejected(
            f"timestamp: {when.isoformat()} is older than Meta's {MAX_EVENT_AGE.days}-day limit",
            event.get("message_id"),
            code="expired",
        )
    whole = int(seconds)
    return whole if whole < now_s else now_s


@dataclass(frozen=True, slots=True)
class Row:
    """One compiled variant row: the Meta event, its custom_data builder, whether it needs a value."""

    meta_event: str
    custom: Callable[[dict[str, Any]], dict[str, Any]]
    requires_value: bool
    keeps_subscription_id: bool


class Plan:
    """An integration's mapping, compiled: rows by spec-event key, consent, LDU, pixel."""

    def __init__(self, integration: Integration) -> None:
        config = integration.config
        self.integration_id = integration.id
        self.enabled = integration.enabled
        self.pixel_id = config.pixel_id
        self.default_country = config.default_country
        self.categories = list(integration.consent_categories)
        self.require_consent = integration.require_consent
        self._variant = integration.variant
        self._overrides = {variants.event_key(k): v for k, v in config.event_mappings.items()}
        self._value_field = config.value_field
        self._rows: dict[tuple[str, str], Row | None] = {}
        self.ldu: tuple[tuple[str, Any], ...] = ()
        if config.ldu is not None:
            self.ldu = (
                ("data_processing_options", ["LDU"]),
                ("data_processing_options_country", config.ldu.country),
                ("data_processing_options_state", config.ldu.state),
            )

    def row(self, type_: str, name: str | None) -> Row | None:
        """The compiled row for a page/screen/track event; None when `event_mappings` drops it."""
        key = (type_, name or "")
        if key in self._rows:
            return self._rows[key]
        rule = variants.resolve(self._variant, type_, name, None)
        spec_key = variants.event_key(type_ if type_ in variants.PAGE_KEYS else (name or ""))
        if spec_key in self._overrides:
            target = self._overrides[spec_key]
            rule = None if target is None else variants.rule_for_meta_event(target.strip(), self._variant)
        row = None
        if rule is not None:
            row = Row(
                rule.meta_event,
                custom_data.compile_rule(rule, self._value_field),
                rule.requires_value,
                "subscription_id" in rule.fields,
            )
        if len(self._rows) < variants.MAX_CACHED_NAMES:
            self._rows[key] = row
        return row


_plans: dict[int, tuple[Integration, Plan]] = {}


def plan_for(integration: Integration) -> Plan:
    """The compiled plan of `integration` (cached for the object; a changed integration is a new object)."""
    hit = _plans.get(id(integration))
    if hit is not None and hit[0] is integration:
        return hit[1]
    if len(_plans) >= PLAN_CACHE_SIZE:
        _plans.clear()
    compiled = Plan(integration)
    _plans[id(integration)] = (integration, compiled)
    return compiled


_EMPTY: dict[str, Any] = {}  # read only: what an absent context, properties or page reads as


def map_event(event: Event, integration: Integration, *, now: datetime) -> Outcome:
    """Map `event` for `integration` at time `now` (timezone-aware); never raises for bad event data."""
    plan = plan_for(integration)
    mid = event.get("message_id")
    if not plan.enabled:
        return Skipped("disabled", f"integration {plan.integration_id} is disabled", mid)
    type_ = event["type"]
    if (no_event := _NO_META_EVENT.get(type_)) is not None:
        return Skipped(*no_event, mid)
    ctx: Context = event.get("context") or _EMPTY  # type: ignore[assignment]
    consent_info = ctx.get("consent")
    prefs = consent_info.get("category_preferences", {}) if consent_info is not None else None
    if not consent.allows(prefs, plan.categories, require_consent=plan.require_consent):
        needed = ", ".join(plan.categories) or "a consent object"
        return Skipped("consent", f"needs consent for: {needed}", mid)
    row = plan.row(type_, event.get("event"))
    if row is None:
        name = event.get("event") or type_
        return Skipped("mapping", f"{name!r} is mapped to null in event_mappings", mid)
    seconds = event_time(event, now)
    if isinstance(seconds, Rejected):
        return seconds
    is_app = ctx.get("app") is not None
    props = event.get("properties") or _EMPTY
    urls = page_urls(event)
    try:
        custom = row.custom(props)
        users = user_data.build(
            event,
            ctx,
            urls[0],
            default_country=plan.default_country,
            event_ms=seconds * 1000,
            today=now.date(),
            app=is_app,
        )
        app_data = user_data.app_data(event, datetime.fromtimestamp(seconds, UTC)) if is_app else None
        # properties.event_id overrides messageId (event_id() reads it, with its checks)
        the_id = mid if mid and "event_id" not in props else event_id(event)
        if row.keeps_subscription_id and (sub := props.get("subscription_id")) is not None:
            users["subscription_id"] = _subscription_id(sub)
    except ValueError as exc:  # MappingError included: the message names the field
        return Rejected(str(exc), mid)

    payload: dict[str, Any] = {
        "event_name": row.meta_event,
        "event_time": seconds,
        "event_id": the_id,
    }
    problem = _source_fields(event, urls, is_app, users, payload)
    if (
        problem is None
        and (not users or users.keys() <= user_data.WEAK_KEYS)
        and user_data.insufficient(users)
    ):
        problem = f"user_data: insufficient customer information (only {', '.join(sorted(users)) or 'none'})"
    if problem is None and row.requires_value:
        problem = _value_problem(row, custom)
    if problem is not None:
        return Rejected(problem, mid)
    payload["user_data"] = users
    if custom:
        payload["custom_data"] = custom
    if app_data is not None:
        payload["app_data"] = app_data
    if plan.ldu:
        payload.update(plan.ldu)
    return ServerEvent(plan.pixel_id, row.meta_event, the_id, seconds, mid, payload)


def _subscription_id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MappingError("properties.subscription_id", f"expected a string, got {type(value).__name__}")
    return custom_data.id_text(value, "properties.subscription_id")


def _source_fields(
    event: Event,
    urls: tuple[str | None, str | None],
    is_app: bool,
    users: dict[str, Any],
    payload: dict[str, Any],
) -> str | None:
    """Adds action_source (and the website's URLs, `urls` = page_urls(event)); returns what is missing
    for a website event.

    A track event that names no page at all (a backend's: Segment's server libraries send none) is
    `other`, Meta's word for a conversion no other source describes, since Meta refuses a `website`
    event without its URL; a page call, or an event whose URL is not an absolute http(s) one, is not.
    """
    if is_app:
        payload["action_source"] = "app"
        return None
    raw_url, raw_referrer = urls
    if raw_url is None and event["type"] == "track":
        payload["action_source"] = SERVER_ACTION_SOURCE
        return None
    url = scrub_url(raw_url)
    if url is None:
        return (
            "context.page.url: an absolute http(s) URL is required for website events"
            " (page calls may send it as properties.url)"
        )
    if "client_user_agent" not in users:
        return "context.userAgent: required for website events"
    payload["event_source_url"] = url
    if raw_referrer is not None and (referrer := scrub_url(raw_referrer)) is not None:
        payload["referrer_url"] = referrer
    payload["action_source"] = "website"
    return None


def _value_problem(row: Row, custom: dict[str, Any]) -> str | None:
    if not row.requires_value:
        return None
    if "value" not in custom:
        return f"properties.total: {row.meta_event} needs a value (total, revenue, value or prices)"
    if "currency" not in custom:
        return f"properties.currency: required for {row.meta_event}"
    return None
