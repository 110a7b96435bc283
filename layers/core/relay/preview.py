"""`relay preview`: Segment-spec events in, the exact Meta request bodies out. Pure and offline.

Input is a JSON array, one JSON object, JSON lines, or an SQS event (`{"Records": [{"body": ...}]}`,
as in `events/`). Anything unreadable inside it is reported in `rejected`; the rest is still processed.
JSON lines are validated straight from their bytes (no intermediate objects).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from relay.events import BodyNotJson, Event, EventError, parse_event, parse_event_json
from relay.integrations import Integration
from relay.outbound import Rejected, ServerEvent, Skipped
from relay.runtime import gc_paused
from relay.vendors import VENDORS


class Item(NamedTuple):
    """One input element: decoded (`value`), still raw (`body`), or the reason it could not be read.

    A tuple, not a frozen dataclass: one is made per input line, and a tuple is built in a single step.
    Its place is kept as a pattern and a number, and spelt out (`where`) only for an element that is
    reported: formatting 20,000 line numbers nobody reads costs about as much as splitting the lines."""

    pattern: str  # one `%d`, for `number`
    number: int
    value: object = None
    body: bytes | None = None
    error: str | None = None

    @property
    def where(self) -> str:
        """Where the element is in the input: `line 3`, `[2]`, `Records[0]`."""
        return self.pattern % self.number


_LINE, _ELEMENT, _RECORD = "line %d", "[%d]", "Records[%d]"


def _sqs_bodies(doc: dict[str, Any]) -> Iterator[Item]:
    for i, record in enumerate(doc.get("Records") or []):
        body = record.get("body") if isinstance(record, dict) else None
        if not isinstance(body, str):
            yield Item(_RECORD, i, error=f"{_RECORD % i}.body: expected a string")
            continue
        # Read as delivery reads a body (parse_event_json: bounds, surrogates repaired), not by orjson.
        yield Item(_RECORD, i, body=body.encode("utf-8", "surrogatepass"))


def read_items(data: bytes | str) -> Iterator[Item]:
    """Split input into elements (array, single object, SQS event or JSON lines)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    raw = raw.removeprefix(b"\xef\xbb\xbf").strip()
    if not raw:
        return
    doc = _NOT_ONE_DOCUMENT if _plainly_lines(raw) else _document(raw)
    if doc is _NOT_ONE_DOCUMENT:
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if line and not line.isspace():  # not blank (without strip's copy of every line)
                yield Item(_LINE, number, None, line)
        return
    if isinstance(doc, list):
        yield from (Item(_ELEMENT, i, value) for i, value in enumerate(doc))
    elif isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        yield from _sqs_bodies(doc)
    else:
        yield Item(_ELEMENT, 0, doc)


_NOT_ONE_DOCUMENT = object()
_NOT_WHITE = re.compile(rb"\S")  # bytes.strip()'s white space: space, \t, \n, \r, \x0b, \x0c


def _plainly_lines(raw: bytes) -> bool:
    """True when the first line is a whole JSON value and more follows: then the input cannot be one
    JSON document (nothing but white space may follow a value), so it is JSON lines, known without
    reading the whole input as one document first (two failed parses of a 20 MB file cost ≈ 0.1 s)."""
    end = raw.find(b"\n")
    # Searched in place: slicing or stripping the rest would copy the whole input.
    if end < 0 or _NOT_WHITE.search(raw, end + 1) is None:
        return False
    try:
        orjson.loads(raw[:end])
    except orjson.JSONDecodeError:
        return False  # not decided by the first line: the whole-document reading decides
    return True


def _document(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _lenient(raw)


def _lenient(raw: bytes) -> Any:
    """The document by Python's decoder, which keeps what orjson refuses and delivery repairs (a lone
    surrogate escape); _NOT_ONE_DOCUMENT when it is not one JSON document either (then: JSON lines)."""
    import json

    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return _NOT_ONE_DOCUMENT


def _event(item: Item) -> Event:
    if item.body is None:
        return parse_event(item.value)
    try:
        return parse_event_json(item.body)
    except BodyNotJson as exc:
        raise EventError(f"{item.where}: not valid JSON ({exc.detail})") from None


@dataclass
class Preview:
    """What `relay preview` prints: the request bodies, the rejected and the skipped elements."""

    requests: list[Any] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        """The preview document `{"requests", "rejected", "skipped"}` with decoded bodies."""
        return {
            "requests": [{"pixel_id": r.pixel_id, "body": orjson.loads(r.body)} for r in self.requests],
            "rejected": self.rejected,
            "skipped": self.skipped,
        }

    def compact_json(self) -> bytes:
        """The document as one line of compact JSON, newline-terminated; each body is spliced in as the
        bytes Meta gets."""
        return orjson.dumps(
            {
                "requests": [
                    {"pixel_id": r.pixel_id, "body": orjson.Fragment(r.body)} for r in self.requests
                ],
                "rejected": self.rejected,
                "skipped": self.skipped,
            },
            option=orjson.OPT_APPEND_NEWLINE,  # not `+ b"\n"`: that copies the whole document again
        )


def run_preview(data: bytes | str, integration: Integration, *, now: datetime) -> Preview:
    """Map every element of `data` for `integration` at `now` and build the request bodies."""
    vendor = VENDORS[integration.vendor]
    result = Preview()
    mapped: list[ServerEvent] = []
    with gc_paused():
        for item in read_items(data):
            if item.error is not None:
                result.rejected.append({"messageId": None, "at": item.where, "reason": item.error})
                continue
            try:
                event = _event(item)
            except EventError as exc:
                result.rejected.append({"messageId": exc.message_id, "at": item.where, "reason": exc.reason})
                continue
            outcome = vendor.map_event(event, integration, now=now)
            if isinstance(outcome, Rejected):
                result.rejected.append(
                    {"messageId": outcome.message_id, "at": item.where, "reason": outcome.reason}
                )
            elif isinstance(outcome, Skipped):
                result.skipped.append(
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
    result.requests = requests
    result.rejected.extend({"messageId": r.message_id, "reason": r.reason} for r in too_large)
    return result


def preview(data: bytes | str, integration: Integration, *, now: datetime) -> dict[str, Any]:
    """The preview document `{"requests", "rejected", "skipped"}` for the events in `data`."""
    return run_preview(data, integration, now=now).document()
