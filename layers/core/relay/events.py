"""The event envelope: Segment-spec page / track / identify events as the collector queues them.

Unknown fields are ignored; a field of the wrong type fails validation with its dotted path named
(`context.page.url: Input should be a valid string`), so one bad event never hides the good ones.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

EventType = Literal["page", "screen", "track", "identify", "group", "alias"]


class _Model(BaseModel):
    # Segment clients send numbers where strings are expected (userId: 42) and vice versa.
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True, frozen=True)


Scalar = str | int | float


class Address(_Model):
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = Field(
        default=None, validation_alias=AliasChoices("postalCode", "postal_code", "zip")
    )
    country: str | None = None


class Traits(_Model):
    """User data as Segment's identify spec names it; both trait spellings and `address{}` are accepted."""

    email: str | list[str] | None = None
    phone: str | list[str] | None = None
    first_name: str | None = Field(default=None, validation_alias=AliasChoices("firstName", "first_name"))
    last_name: str | None = Field(default=None, validation_alias=AliasChoices("lastName", "last_name"))
    gender: str | None = None
    birthday: str | None = Field(default=None, validation_alias=AliasChoices("birthday", "birthdate", "dob"))
    city: str | None = None
    state: str | None = None
    postal_code: str | None = Field(
        default=None, validation_alias=AliasChoices("postalCode", "postal_code", "zip")
    )
    country: str | None = None
    address: Address | None = None

    def merged_with(self, other: Traits | None) -> Traits:
        """Fields of `other` win where set (identify traits over context traits)."""
        if other is None:
            return self
        update = {k: v for k, v in other.model_dump(exclude_none=True).items() if k != "address"}
        address = self.address
        if other.address is not None:
            base = address.model_dump(exclude_none=True) if address else {}
            address = Address(**{**base, **other.address.model_dump(exclude_none=True)})
        return self.model_copy(update={**update, "address": address})


class Page(_Model):
    url: str | None = None
    referrer: str | None = None
    path: str | None = None
    title: str | None = None


class Consent(_Model):
    category_preferences: dict[str, bool] = Field(
        default_factory=dict, validation_alias=AliasChoices("categoryPreferences", "category_preferences")
    )


class App(_Model):
    name: str | None = None
    version: str | None = None
    build: str | None = None
    namespace: str | None = None


class Device(_Model):
    id: str | None = None
    advertising_id: str | None = Field(
        default=None, validation_alias=AliasChoices("advertisingId", "advertising_id")
    )
    ad_tracking_enabled: bool | None = Field(
        default=None, validation_alias=AliasChoices("adTrackingEnabled", "ad_tracking_enabled")
    )
    manufacturer: str | None = None
    model: str | None = None
    type: str | None = None


class OS(_Model):
    name: str | None = None
    version: str | None = None


class Screen(_Model):
    width: int | None = None
    height: int | None = None
    density: float | None = None


class Network(_Model):
    carrier: str | None = None


class Context(_Model):
    ip: str | None = None
    user_agent: str | None = Field(default=None, validation_alias=AliasChoices("userAgent", "user_agent"))
    page: Page = Field(default_factory=Page)
    fbp: str | None = None
    fbc: str | None = None
    consent: Consent | None = None
    app: App | None = None
    device: Device | None = None
    os: OS | None = None
    screen: Screen | None = None
    network: Network | None = None
    locale: str | None = None
    timezone: str | None = None
    traits: Traits | None = None
    source_id: str | None = None


class Event(_Model):
    """One Segment-spec event, enriched by the collector."""

    type: EventType
    event: str | None = None
    message_id: str | None = Field(default=None, validation_alias=AliasChoices("messageId", "message_id"))
    anonymous_id: str | None = Field(
        default=None, validation_alias=AliasChoices("anonymousId", "anonymous_id")
    )
    user_id: str | None = Field(default=None, validation_alias=AliasChoices("userId", "user_id"))
    timestamp: datetime | None = None
    received_at: datetime | None = Field(
        default=None, validation_alias=AliasChoices("receivedAt", "received_at")
    )
    name: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: Traits | None = None
    context: Context = Field(default_factory=Context)

    @model_validator(mode="after")
    def _track_needs_event(self) -> Event:
        if self.type == "track" and not (self.event and self.event.strip()):
            raise ValueError("event: required for track events")
        return self

    def user_traits(self) -> Traits:
        """context.traits, overridden by top-level traits (identify)."""
        base = self.context.traits or Traits()
        return base.merged_with(self.traits)

    def page_url(self) -> str | None:
        """The page's URL: context.page.url, else (page calls) properties.url, where Segment's page spec puts it."""
        return self._page_field(self.context.page.url, "url")

    def page_referrer(self) -> str | None:
        """The page's referrer: context.page.referrer, else (page calls) properties.referrer."""
        return self._page_field(self.context.page.referrer, "referrer")

    def _page_field(self, from_context: str | None, key: str) -> str | None:
        if from_context is not None and from_context.strip():
            return from_context
        if self.type == "page":  # track properties.url is something else (e.g. a product's URL)
            value = self.properties.get(key)
            if isinstance(value, str) and value.strip():
                return value
        return None


class EventError(ValueError):
    """An input event that cannot be read; `reason` names the offending field."""

    def __init__(self, reason: str, message_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message_id = message_id


def _describe(error: ValidationError) -> str:
    parts = []
    for err in error.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def parse_event(raw: object) -> Event:
    """Validate one decoded JSON value as an event.

    Raises EventError naming the field when `raw` is not an object, lacks `type` (or `event` for
    track), or has a field of the wrong type.
    """
    if not isinstance(raw, dict):
        raise EventError(f"event: expected a JSON object, got {type(raw).__name__}")
    message_id = raw.get("messageId")
    message_id = message_id if isinstance(message_id, str) else None
    try:
        return Event.model_validate(raw)
    except ValidationError as exc:
        raise EventError(_describe(exc), message_id) from None


def parse_event_json(body: str | bytes) -> Event:
    """Validate one JSON document (an SQS message body) as an event; raises EventError."""
    try:
        # pydantic parses the JSON itself (fast path); the slow path below only explains failures
        return Event.model_validate_json(body)
    except ValidationError:
        pass
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventError(f"body: not valid JSON ({exc})") from None
    return parse_event(raw)


def content_event_id(event: Event) -> str:
    """A stable id for an event that has neither messageId nor properties.event_id."""
    canonical = json.dumps(
        event.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":")
    )
    return "relay-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
