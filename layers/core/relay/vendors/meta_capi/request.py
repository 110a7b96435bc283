"""Graph request bodies: server events grouped per pixel, ≤ 1,000 events and ≤ a byte cap per request.

Each event is serialised once; a request body is the serialised events joined, so the bytes sent are
exactly the bytes measured against the cap. The access token is never part of a body built here: it
travels in the Authorization header.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic_core import to_json

from relay.outbound import Rejected, ServerEvent
from relay.vendors.meta_capi.limits import DEFAULT_API_VERSION, MAX_EVENTS_PER_REQUEST, MAX_REQUEST_BYTES


def _dumps(value: object) -> bytes:
    """Compact UTF-8 JSON (orjson, the fastest); pydantic-core's serialiser, byte-identical for our
    payloads, takes what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return to_json(value)


@dataclass(frozen=True, slots=True)
class GraphRequest:
    """One POST to /{version}/{pixel_id}/events: the body bytes and the events inside, in order."""

    pixel_id: str
    body: bytes
    events: tuple[ServerEvent, ...] = field(repr=False)
    api_version: str = DEFAULT_API_VERSION

    def document(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded


def _envelope(test_event_code: str | None) -> tuple[bytes, bytes]:
    tail = b"]"
    if test_event_code:
        tail += b',"test_event_code":' + _dumps(test_event_code)
    return b'{"data":[', tail + b"}"


def build_requests(
    events: Iterable[ServerEvent],
    *,
    test_event_code: str | None = None,
    api_version: str = DEFAULT_API_VERSION,
    max_events: int = MAX_EVENTS_PER_REQUEST,
    max_bytes: int = MAX_REQUEST_BYTES,
) -> tuple[list[GraphRequest], list[Rejected]]:
    """Requests per pixel, in first-seen pixel order, each ≤ `max_events` events and ≤ `max_bytes` bytes.

    An event that alone cannot fit under `max_bytes`, or cannot be serialised, is returned as Rejected
    instead of sent.
    """
    requests: list[GraphRequest] = []
    rejected: list[Rejected] = []
    head, tail = _envelope(test_event_code)
    per_pixel: dict[str, list[ServerEvent]] = {}
    for event in events:
        per_pixel.setdefault(event.pixel_id, []).append(event)
    for pixel_id, pixel_events in per_pixel.items():
        for start in range(0, len(pixel_events), max_events):
            chunk = pixel_events[start : start + max_events]
            whole = _whole(chunk, head, tail, max_bytes)
            if whole is not None:  # the common case: one encoder call for up to max_events events
                requests.append(GraphRequest(pixel_id, whole, tuple(chunk), api_version))
                continue
            built, refused = _split(pixel_id, chunk, head, tail, max_events, max_bytes, api_version)
            requests += built
            rejected += refused
    return requests, rejected


def _whole(chunk: list[ServerEvent], head: bytes, tail: bytes, max_bytes: int) -> bytes | None:
    """The body of `chunk` in one orjson call, byte-identical to its events serialised one by one and
    joined; None when orjson refuses a value or the body is over `max_bytes` (then split, event by event)."""
    try:
        blob = orjson.dumps([event.payload for event in chunk])
    except (TypeError, ValueError, RecursionError):
        return None
    body = head[:-1] + blob + tail[1:]  # head ends with "[" and tail starts with "]": the list's own
    return body if len(body) <= max_bytes else None


def _split(
    pixel_id: str,
    chunk: list[ServerEvent],
    head: bytes,
    tail: bytes,
    max_events: int,
    max_bytes: int,
    api_version: str,
) -> tuple[list[GraphRequest], list[Rejected]]:
    """`chunk` serialised event by event: requests under `max_bytes`, and the events that cannot be sent
    (over the cap alone, or not serialisable) as Rejected."""
    requests: list[GraphRequest] = []
    rejected: list[Rejected] = []
    fixed = len(head) + len(tail)
    part: list[tuple[ServerEvent, bytes]] = []
    size = fixed
    for event in chunk:
        try:
            blob = _dumps(event.payload)
        except (ValueError, TypeError, RecursionError) as exc:  # one event, never the whole request
            rejected.append(
                Rejected(f"event: cannot be serialised as JSON ({type(exc).__name__})", event.message_id)
            )
            continue
        if fixed + len(blob) > max_bytes:
            reason = f"event: {len(blob)} bytes serialised, over the {max_bytes}-byte request cap"
            rejected.append(Rejected(reason, event.message_id))
            continue
        if part and (len(part) >= max_events or size + 1 + len(blob) > max_bytes):
            requests.append(_request(pixel_id, head, tail, part, api_version))
            part, size = [], fixed
        size += len(blob) + (1 if part else 0)
        part.append((event, blob))
    if part:
        requests.append(_request(pixel_id, head, tail, part, api_version))
    return requests, rejected


def _request(
    pixel_id: str, head: bytes, tail: bytes, chunk: list[tuple[ServerEvent, bytes]], api_version: str
) -> GraphRequest:
    body = head + b",".join(blob for _, blob in chunk) + tail
    return GraphRequest(pixel_id, body, tuple(event for event, _ in chunk), api_version)
