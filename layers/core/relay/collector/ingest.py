"""Ingest: validate each event of a request, enrich it with what only the server sees, queue it.

Enrichment (DESIGN §3): `messageId` and `receivedAt` when missing, `context.source_id` always (a client
never chooses its source), `context.ip` and `context.userAgent` from the request when the event has none,
and — for a browser — `anonymousId`, `context.fbp`, `context.fbc` from the first-party cookies. An event
whose consent refuses `advertising` gets no `_fbp` / `_fbc` (neither cookie nor context value), and
a cross-site request (the collector not on the site's domain) gets no new `_fbp`: the browser would not
keep the cookie, so every event would carry another random id.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from relay import consent, identity
from relay import events as envelope
from relay.collector.cookies import Jar
from relay.collector.errors import Rejection
from relay.collector.request import MAX_EVENT_BYTES
from relay.events import Event, EventError
from relay.hashing import Hashed, hashed_traits
from relay.queue import Entry

# A header value copied into an event may not exceed the envelope's bound on a string field.
MAX_HEADER_CHARS = envelope.MAX_FIELD_CHARS


@dataclass(frozen=True)
class Seen:
    """What the server knows of the request, the same for every event in it."""

    source_id: str
    ip: str | None
    user_agent: str | None
    referer: str | None
    browser: bool
    received_at: datetime
    # Sec-Fetch-Site: cross-site (a browser's word): cookies in the answer will not be kept.
    cross_site: bool = False


@dataclass(frozen=True)
class Identified:
    """An identify's hashed traits and ids, for the visitor's profile."""

    anonymous_id: str | None
    user_id: str | None
    hashed: Hashed
    fbp: str | None
    fbc: str | None


@dataclass
class Intake:
    """The queue entries of a request's valid events, its rejected events, its identifies."""

    entries: list[Entry] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    identified: list[Identified] = field(default_factory=list)


def take(
    raws: Sequence[object],
    seen: Seen,
    jar: Jar,
    *,
    route_type: str | None = None,
    shared_context: dict[str, Any] | None = None,
    rng: random.Random | None = None,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Intake:
    """Each of `raws` validated and enriched into a queue entry, or rejected naming its field.

    `route_type` is the endpoint's type (`/v1/track` → track), set on the event; a batch's events carry
    their own. `shared_context` is a batch's top-level `context`, under each event's own.
    """
    intake = Intake()
    now_ms = int(seen.received_at.timestamp() * 1000)
    for index, raw in enumerate(raws):
        try:
            entry, identified = _one(raw, seen, jar, route_type, shared_context, now_ms, rng, new_id)
        except EventError as exc:
            intake.rejected.append(Rejection(index, exc.reason, exc.message_id))
            continue
        intake.entries.append(Entry(str(index), entry))
        if identified is not None:
            intake.identified.append(identified)
    return intake


def _one(
    raw: object,
    seen: Seen,
    jar: Jar,
    route_type: str | None,
    shared_context: dict[str, Any] | None,
    now_ms: int,
    rng: random.Random | None,
    new_id: Callable[[], str],
) -> tuple[str, Identified | None]:
    if not isinstance(raw, dict):
        raise EventError(f"event: expected a JSON object, got {type(raw).__name__}")
    raw = {k: v for k, v in raw.items() if k not in ("writeKey", "write_key")}
    if route_type is not None:
        raw["type"] = route_type
    if shared_context and isinstance(raw.get("context", {}), dict):
        raw["context"] = {**shared_context, **(raw.get("context") or {})}
    # Validated first: it bounds the nesting, which the size measurement must not meet unbounded.
    clean, event = envelope.validated(raw)
    if _size(clean) > MAX_EVENT_BYTES:
        raise EventError(
            f"event: larger than {MAX_EVENT_BYTES // 1024} KB (the limit per event)", event.get("message_id")
        )
    top, ctx = _additions(event, seen, jar, now_ms, rng, new_id)
    if not (event.get("anonymous_id") or event.get("user_id") or top.get("anonymousId")):
        raise EventError("anonymousId: one of anonymousId or userId is required", event.get("message_id"))
    body = envelope.wire_json(envelope.enriched(clean, context=ctx, **top))
    identified = None
    if event["type"] == "identify":
        identified = _identified(event, top, ctx, seen)
    return body, identified


def _additions(
    event: Event,
    seen: Seen,
    jar: Jar,
    now_ms: int,
    rng: random.Random | None,
    new_id: Callable[[], str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The top-level fields (set where missing) and context fields (set) the collector adds to `event`."""
    ctx = event.get("context") or {}
    top: dict[str, Any] = {}
    # Read through the envelope, so a snake_case message_id / received_at counts as present.
    if not event.get("message_id"):
        top["messageId"] = new_id()
    if event.get("received_at") is None:
        top["receivedAt"] = seen.received_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    add: dict[str, Any] = {"source_id": seen.source_id}
    if not ctx.get("ip") and seen.ip:
        add["ip"] = seen.ip
    if not ctx.get("user_agent") and seen.user_agent and len(seen.user_agent) <= MAX_HEADER_CHARS:
        add["userAgent"] = seen.user_agent
    if seen.browser:
        if sent_aid := event.get("anonymous_id"):
            jar.seen_anonymous(sent_aid)
        else:
            top["anonymousId"] = jar.anonymous(new_id)
    if _advertising_refused(event):
        return top, add
    sent_fbp = _valid(ctx.get("fbp"))
    if seen.browser:
        if sent_fbp is not None and jar.fbp is None:
            jar.fbp = sent_fbp  # the page's own value (the Pixel's, say) becomes the cookie
        if jar.fbp is not None or not seen.cross_site:
            fbp = jar.browser_id(now_ms, rng)
            if sent_fbp is None:
                add["fbp"] = fbp
    url = envelope.page_url(event) or seen.referer
    if seen.browser:
        fbc = jar.click_id(ctx.get("fbc"), url, now_ms)
    else:
        fbc = identity.resolve_fbc(ctx.get("fbc"), url, now_ms)
    if fbc is not None and fbc != ctx.get("fbc"):
        add["fbc"] = fbc
    return top, add


def _advertising_refused(event: Event) -> bool:
    given = (event.get("context") or {}).get("consent") or {}
    return consent.refuses(given.get("category_preferences"))


def _identified(event: Event, top: dict[str, Any], ctx: dict[str, Any], seen: Seen) -> Identified:
    own = event.get("context") or {}
    traits = envelope.user_traits(event)
    hashed = hashed_traits(traits, default_country=None, today=seen.received_at.astimezone(UTC).date())
    refused = _advertising_refused(event)  # then no fbp / fbc rests in the profile either
    return Identified(
        anonymous_id=event.get("anonymous_id") or top.get("anonymousId"),
        user_id=event.get("user_id"),
        hashed=dict(hashed),
        fbp=None if refused else ctx.get("fbp") or _valid(own.get("fbp")),
        fbc=None if refused else ctx.get("fbc") or _valid(own.get("fbc")),
    )


def _valid(value: object) -> str | None:
    return identity.valid_cookie(value) if isinstance(value, str) else None


def _size(raw: dict[str, Any]) -> int:
    """Bytes of the event as compact JSON (how Segment measures its 32 KB)."""
    try:
        return len(orjson.dumps(raw))
    except (TypeError, orjson.JSONEncodeError):  # lone surrogates, integers past 64 bits
        import json

        text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"))
        return len(text.encode("utf-8", "surrogatepass"))
