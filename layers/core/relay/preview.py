"""`relay preview`: Segment-spec events in, the exact Meta request bodies out. Pure and offline.

Input is a JSON array, one JSON object, JSON lines, or an SQS event (`{"Records": [{"body": ...}]}`,
as in `events/`). Anything unreadable inside it is reported in `rejected`; the rest is still processed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relay.events import EventError, parse_event
from relay.integrations import Integration
from relay.outbound import Rejected, ServerEvent, Skipped
from relay.vendors import VENDORS


@dataclass(frozen=True, slots=True)
class Item:
    """One decoded input element, or the reason it could not be decoded. `where` locates it."""

    where: str
    value: object = None
    error: str | None = None


def _sqs_bodies(doc: dict[str, Any]) -> Iterator[Item]:
    for i, record in enumerate(doc.get("Records") or []):
        where = f"Records[{i}]"
        body = record.get("body") if isinstance(record, dict) else None
        if not isinstance(body, str):
            yield Item(where, error=f"{where}.body: expected a string")
            continue
        try:
            yield Item(where, json.loads(body))
        except ValueError as exc:
            yield Item(where, error=f"{where}.body: not valid JSON ({exc})")


def read_items(text: str) -> Iterator[Item]:
    """Split input text into decoded elements (array, single object, SQS event or JSON lines)."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        doc = json.loads(stripped)
    except ValueError:
        doc = None
        whole = False
    else:
        whole = True
    if whole:
        if isinstance(doc, list):
            yield from (Item(f"[{i}]", value) for i, value in enumerate(doc))
        elif isinstance(doc, dict) and isinstance(doc.get("Records"), list):
            yield from _sqs_bodies(doc)
        else:
            yield Item("[0]", doc)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield Item(f"line {number}", json.loads(line))
        except ValueError as exc:
            yield Item(f"line {number}", error=f"line {number}: not valid JSON ({exc})")


def preview(text: str, integration: Integration, *, now: datetime) -> dict[str, Any]:
    """The preview document `{"requests", "rejected", "skipped"}` for the events in `text`."""
    vendor = VENDORS[integration.vendor]
    rejected: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    mapped: list[ServerEvent] = []
    for item in read_items(text):
        if item.error is not None:
            rejected.append({"messageId": None, "at": item.where, "reason": item.error})
            continue
        try:
            event = parse_event(item.value)
        except EventError as exc:
            rejected.append({"messageId": exc.message_id, "at": item.where, "reason": exc.reason})
            continue
        outcome = vendor.map_event(event, integration, now=now)
        if isinstance(outcome, Rejected):
            rejected.append({"messageId": outcome.message_id, "at": item.where, "reason": outcome.reason})
        elif isinstance(outcome, Skipped):
            skipped.append(
                {
                    "messageId": outcome.message_id,
                    "at": item.where,
                    "reason": outcome.reason,
                    "detail": outcome.detail,
                }
            )
        else:
            mapped.append(outcome)
    requests, too_large = vendor.build_requests(mapped, integration)
    rejected.extend({"messageId": r.message_id, "reason": r.reason} for r in too_large)
    return {
        "requests": [{"pixel_id": r.pixel_id, "body": r.document()} for r in requests],
        "rejected": rejected,
        "skipped": skipped,
    }
