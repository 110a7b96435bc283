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
    fixed = len(head) + len(tail)
    per_pixel: dict[str, list[tuple[ServerEvent, bytes]]] = {}
    for event in events:
        try:
            blob = _dumps(event.payload)
        except (ValueError, TypeError, RecursionError) as exc:  # one event, never the whole request
            rejected.append(
                Rejected(f"event: cannot be serialised as JSON ({type(exc).__name__})", event.message_id)
            )
            continue
        per_pixel.setdefault(event.pixel_id, []).append((event, blob))
    for pixel_id, items in per_pixel.items():
        chunk: list[tuple[ServerEvent, bytes]] = []
        size = fixed
        for event, blob in items:
            if fixed + len(blob) > max_bytes:
                reason = f"event: {len(blob)} bytes serialised, over the {max_bytes}-byte request cap"
                rejected.append(Rejected(reason, event.message_id))
                continue
            if chunk and (len(chunk) >= max_events or size + 1 + len(blob) > max_bytes):
                requests.append(_request(pixel_id, head, tail, chunk, api_version))
                chunk, size = [], fixed
            size += len(blob) + (1 if chunk else 0)
            chunk.append((event, blob))
        if chunk:
            requests.append(_request(pixel_id, head, tail, chunk, api_version))
    return requests, rejected


def _request(
    pixel_id: str, head: bytes, tail: bytes, chunk: list[tuple[ServerEvent, bytes]], api_version: str
) -> GraphRequest:
    body = head + b",".join(blob for _, blob in chunk) + tail
    return GraphRequest(pixel_id, body, tuple(event for event, _ in chunk), api_version)
