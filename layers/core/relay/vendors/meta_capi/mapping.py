"""One Segment-spec event + one integration → one Meta server event, or a typed reason why not.

Pure: no I/O, no clock (callers pass `now`). Pre-validation happens here because Meta rejects a whole
request for one bad event (DESIGN §7, first bullet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from relay import consent
from relay.events import Event, content_event_id
from relay.integrations import Integration
from relay.vendors.meta_capi import custom_data, user_data, variants
from relay.vendors.meta_capi.limits import MAX_EVENT_AGE


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """A validated Meta server event for one pixel; `payload` is one element of the request's `data`."""

    pixel_id: str
    event_name: str
    event_id: str
    event_time: int
    message_id: str | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Skipped:
    """Deliberately not sent to this integration. `reason` is a short code: consent, disabled, identify, ..."""

    reason: str
    detail: str
    message_id: str | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """Cannot be sent as it stands; `reason` names the field and the problem.

    `code` is the DLQ reason: "invalid" (fix the data or mapping) or "expired" (past Meta's age limit).
    """

    reason: str
    message_id: str | None
    code: str = "invalid"


Outcome = ServerEvent | Skipped | Rejected

_NO_META_EVENT = {
    "identify": "identify calls carry traits for later events; Meta gets no event",
    "group": "group calls have no Meta event",
    "alias": "alias calls have no Meta event",
}


def event_id(event: Event) -> str:
    """properties.event_id (shared with the browser Pixel) else messageId, else a content hash."""
    override = event.properties.get("event_id")
    if isinstance(override, str | int) and not isinstance(override, bool) and str(override).strip():
        return str(override).strip()
    return event.message_id or content_event_id(event)


def event_time(event: Event, now: datetime) -> int | Rejected:
    """event_time in Unix seconds: timestamp, else receivedAt; future times clamp to `now`."""
    when = event.timestamp or event.received_at
    if when is None:
        return Rejected("timestamp: missing (neither timestamp nor receivedAt is set)", event.message_id)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now - when > MAX_EVENT_AGE:
        return Rejected(
            f"timestamp: {when.isoformat()} is older than Meta's {MAX_EVENT_AGE.days}-day limit",
            event.message_id,
            code="expired",
        )
    return min(int(when.timestamp()), int(now.timestamp()))


def _http_url(url: str | None) -> str | None:
    if not url:
        return None
    url = url.strip()
    return url if url.lower().startswith(("https://", "http://")) else None


def scrub_url(url: str | None) -> str | None:
    """An absolute http(s) URL with query parameters that carry personal data removed.

    The remaining query is kept byte for byte (fbclid's case and encoding must not change).
    """
    url = _http_url(url)
    if url is None or "?" not in url:
        return url
    base, _, rest = url.partition("?")
    query, hash_, fragment = rest.partition("#")
    kept = []
    for part in query.split("&"):
        key, _, val = part.partition("=")
        if not custom_data.is_personal(key, val.replace("%40", "@")):
            kept.append(part)
    cleaned = base + ("?" + "&".join(kept) if any(kept) else "")
    return cleaned + hash_ + fragment


def map_event(event: Event, integration: Integration, *, now: datetime) -> Outcome:
    """Map `event` for `integration` at time `now` (timezone-aware); never raises for bad event data."""
    mid = event.message_id
    if not integration.enabled:
        return Skipped("disabled", f"integration {integration.id} is disabled", mid)
    if event.type in _NO_META_EVENT:
        return Skipped(event.type, _NO_META_EVENT[event.type], mid)
    prefs = event.context.consent.category_preferences if event.context.consent else None
    if not consent.allows(prefs, integration.consent_categories, require_consent=integration.require_consent):
        needed = ", ".join(integration.consent_categories) or "a consent object"
        return Skipped("consent", f"needs consent for: {needed}", mid)
    config = integration.config
    rule = variants.resolve(integration.variant, event.type, event.event, config.event_mappings)
    if rule is None:
        return Skipped("mapping", f"{event.event or event.type!r} is mapped to null in event_mappings", mid)
    seconds = event_time(event, now)
    if isinstance(seconds, Rejected):
        return seconds
    when = datetime.fromtimestamp(seconds, UTC)
    is_app = event.context.app is not None
    try:
        custom = custom_data.build(rule, event.properties, config.value_field)
        users = user_data.build(
            event,
            default_country=config.default_country,
            event_ms=seconds * 1000,
            today=now.date(),
            app=is_app,
        )
        app_data = user_data.app_data(event, when) if is_app else None
    except ValueError as exc:  # MappingError included: the message names the field
        return Rejected(str(exc), mid)
    if "subscription_id" in rule.fields and (sub := event.properties.get("subscription_id")) is not None:
        users["subscription_id"] = str(sub)

    payload: dict[str, Any] = {
        "event_name": rule.meta_event,
        "event_time": seconds,
        "event_id": event_id(event),
    }
    if is_app:
        payload["action_source"] = "app"
    else:
        url = scrub_url(event.page_url())
        if url is None:
            return Rejected(
                "context.page.url: an absolute http(s) URL is required for website events"
                " (page calls may send it as properties.url)",
                mid,
            )
        if "client_user_agent" not in users:
            return Rejected("context.userAgent: required for website events", mid)
        payload["event_source_url"] = url
        if (referrer := scrub_url(event.page_referrer())) is not None:
            payload["referrer_url"] = referrer
        payload["action_source"] = "website"
    if user_data.insufficient(users):
        keys = ", ".join(sorted(users)) or "none"
        return Rejected(f"user_data: insufficient customer information (only {keys})", mid)
    if rule.requires_value:
        if "value" not in custom:
            return Rejected(
                f"properties.total: {rule.meta_event} needs a value (total, revenue, value or prices)", mid
            )
        if "currency" not in custom:
            return Rejected(f"properties.currency: required for {rule.meta_event}", mid)
    payload["user_data"] = users
    if custom:
        payload["custom_data"] = custom
    if app_data is not None:
        payload["app_data"] = app_data
    if config.ldu is not None:
        payload["data_processing_options"] = ["LDU"]
        payload["data_processing_options_country"] = config.ldu.country
        payload["data_processing_options_state"] = config.ldu.state
    return ServerEvent(config.pixel_id, rule.meta_event, payload["event_id"], seconds, mid, payload)
