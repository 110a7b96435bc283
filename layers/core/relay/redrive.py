"""Dead-letter queue → events queue, on demand (DESIGN §1, §7).

SQS's own StartMessageMoveTask moves everything and cannot filter, so the redrive is built on
ReceiveMessage / SendMessageBatch / DeleteMessageBatch:

- A DLQ message is moved only if it matches the request's filters (`integration_id`, `reason`) and its
  event is not older than Meta's age limit; body and message attributes are kept, `redrive_count` + 1.
- It is deleted from the DLQ only after the events queue accepted it (SendMessageBatch `Successful`).
  A delete that fails after a successful send leaves a copy in both queues; the delivery ledger keeps
  that from reaching Meta twice.
- Every message the run keeps (filtered out, expired, dry run, failed send, received past
  `max_messages`) is made visible again (ChangeMessageVisibility 0) when the run ends, even when the run
  ends on an exception; a crashed run's messages come back when the receive visibility timeout lapses.
- The run stops after `max_messages` messages were examined, when the DLQ returns no message, when a
  message comes back a second time (so kept messages are never spun on), when the time left is short,
  or when the events queue refuses a whole batch (missing queue, access denied).

A message without a `reason` attribute was moved by the events queue's own RedrivePolicy (received
MaxReceiveCount times without success); it is counted, and filtered, as reason `max_receive_count`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from relay import queue
from relay.events import EventError, moment, parse_event_json
from relay.observability import logger
from relay.queue import (
    DETAIL,
    INTEGRATION_ID,
    NO_REASON,
    REASON,
    REDRIVE_COUNT,
    DlqReason,
    Entry,
    string_attribute,
)
from relay.vendors import max_event_age

__all__ = ["NO_REASON", "RedriveReport", "RedriveRequest", "redrive"]

SQS_BATCH = queue.RECEIVE_MAX
# How long a received DLQ message stays hidden from other readers while the run decides about it.
RECEIVE_VISIBILITY_SECONDS = 30
# Long polling asks every SQS server, so an empty answer means an empty queue (short polling samples).
WAIT_SECONDS = 1
# Stop receiving when less time than this is left, so the kept messages are released in time.
TIME_MARGIN_MS = 20_000

StopReason = Literal["max_messages", "empty", "seen_again", "caught_up", "time", "send_error", "delete_error"]
# The run saw every message that was in the DLQ when it began.
COMPLETE: frozenset[StopReason] = frozenset({"empty", "seen_again", "caught_up"})


class SqsClient(Protocol):
    """The part of boto3's SQS client the redrive uses (tests pass fakes)."""

    def receive_message(self, **kwargs: Any) -> dict[str, Any]: ...
    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]: ...
    def change_message_visibility_batch(self, **kwargs: Any) -> dict[str, Any]: ...


class RedriveRequest(BaseModel):
    """The RedriveFunction's invoke event."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    integration_id: str | None = None
    reason: DlqReason | None = None
    max_messages: int = Field(default=1000, ge=1, le=100_000)
    dry_run: bool = False


# Messages a report describes one by one (DLQ inspection shows a handful, never bodies).
MAX_SAMPLES = 10
# An event name longer than this is not shown in a sample (names are labels, never free text).
SAMPLE_NAME_CHARS = 100


class DlqSample(BaseModel):
    """One examined message, without its body: ids, reason, the event's type and name, when it was sent."""

    message_id: str
    reason: str
    integration_id: str | None = None
    detail: str | None = None
    event_type: str | None = None
    event_name: str | None = None
    sent_at: str | None = None


class RedriveReport(BaseModel):
    """What one run did. examined = eligible + kept_expired + kept_filtered; eligible = moved + failed
    (dry run: moved = failed = 0). by_reason and by_integration count the examined messages (those
    without an integration_id attribute under ""); oldest_sent_at is the earliest SentTimestamp
    examined; samples describe the first MAX_SAMPLES examined."""

    examined: int = 0
    moved: int = 0
    kept_expired: int = 0
    kept_filtered: int = 0
    failed: int = 0
    by_reason: dict[str, int] = Field(default_factory=dict)
    by_integration: dict[str, int] = Field(default_factory=dict)
    oldest_sent_at: str | None = None
    samples: list[DlqSample] = Field(default_factory=list)
    expired_message_ids: list[str] = Field(default_factory=list)
    eligible: int = 0
    dry_run: bool = False
    stopped: StopReason = "empty"


def redrive(
    request: RedriveRequest,
    *,
    sqs: SqsClient,
    dlq_url: str,
    queue_url: str,
    now: Callable[[], datetime],
    max_age: timedelta | None = None,
    remaining_ms: Callable[[], int] | None = None,
    visibility_timeout: int = RECEIVE_VISIBILITY_SECONDS,
    wait_seconds: int = WAIT_SECONDS,
    wall_clock: Callable[[], float] = time.time,
) -> RedriveReport:
    """Move the DLQ messages matching `request` back to the events queue (see the module docstring).

    A message parked after the run began (its SentTimestamp, by `wall_clock`) is left alone and ends the
    run (`caught_up`): it is a new failure, or one this run moved that failed again — moving it again
    would loop for as long as its cause lasts."""
    cutoff = now() - (max_age if max_age is not None else max_event_age())
    started_ms = int(wall_clock() * 1000)
    run = _Run(request, sqs=sqs, dlq_url=dlq_url, queue_url=queue_url, cutoff=cutoff, started_ms=started_ms)
    try:
        run.report.stopped = run.loop(
            remaining_ms=remaining_ms, visibility_timeout=visibility_timeout, wait_seconds=wait_seconds
        )
    finally:
        if run.held and (missed := queue.release(sqs, dlq_url, run.held.values())):
            logger().info(
                "redrive: some kept messages were not released; they reappear after their timeout",
                extra={"n": missed},
            )
    run.report.by_reason = dict(run.by_reason)
    run.report.by_integration = dict(run.by_integration)
    if run.oldest_ms is not None:
        run.report.oldest_sent_at = datetime.fromtimestamp(run.oldest_ms / 1000, UTC).isoformat()
    return run.report


class _Run:
    def __init__(
        self,
        request: RedriveRequest,
        *,
        sqs: SqsClient,
        dlq_url: str,
        queue_url: str,
        cutoff: datetime,
        started_ms: int,
    ) -> None:
        self.request = request
        self.started_ms = started_ms
        self.sqs = sqs
        self.dlq_url = dlq_url
        self.queue_url = queue_url
        self.cutoff = cutoff
        self.report = RedriveReport(dry_run=request.dry_run)
        self.by_reason: Counter[str] = Counter()
        self.by_integration: Counter[str] = Counter()
        self.oldest_ms: int | None = None
        self.examined_ids: set[str] = set()
        # MessageId → latest receipt handle of every message to make visible again when the run ends
        self.held: dict[str, str] = {}

    def loop(
        self,
        *,
        remaining_ms: Callable[[], int] | None,
        visibility_timeout: int,
        wait_seconds: int,
    ) -> StopReason:
        while True:
            left = self.request.max_messages - self.report.examined
            if left <= 0:
                return "max_messages"
            if remaining_ms is not None and remaining_ms() < TIME_MARGIN_MS:
                return "time"
            answer = self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=min(SQS_BATCH, left),
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                VisibilityTimeout=visibility_timeout,
                WaitTimeSeconds=wait_seconds,
            )
            messages: list[dict[str, Any]] = answer.get("Messages") or []
            if not messages:
                return "empty"
            seen_again = caught_up = False
            to_move: list[dict[str, Any]] = []
            for message in messages:
                message_id: str = message["MessageId"]
                if message_id in self.examined_ids:
                    seen_again = True
                    self.held[message_id] = message["ReceiptHandle"]
                elif self._parked_since_start(message):
                    caught_up = True
                    self.held[message_id] = message["ReceiptHandle"]
                elif self.report.examined >= self.request.max_messages:
                    self.held[message_id] = message["ReceiptHandle"]  # more than asked for: not examined
                elif self._examine(message):
                    to_move.append(message)
            if to_move:
                stop = self._move(to_move, remaining_ms)
                if stop is not None:
                    return stop
            if seen_again:
                return "seen_again"
            if caught_up:
                return "caught_up"

    def _parked_since_start(self, message: dict[str, Any]) -> bool:
        sent_ms = _int((message.get("Attributes") or {}).get("SentTimestamp"))
        return sent_ms is not None and sent_ms > self.started_ms

    def _examine(self, message: dict[str, Any]) -> bool:
        """Count one new message; True when it should move now (else it is held for release)."""
        message_id: str = message["MessageId"]
        self.examined_ids.add(message_id)
        self.report.examined += 1
        attributes: dict[str, Any] = message.get("MessageAttributes") or {}
        reason = string_attribute(attributes, REASON) or NO_REASON
        self.by_reason[reason] += 1
        self._describe(message, attributes, reason)
        request = self.request
        if (request.reason is not None and reason != request.reason) or (
            request.integration_id is not None
            and string_attribute(attributes, INTEGRATION_ID) != request.integration_id
        ):
            self.report.kept_filtered += 1
        elif _expired(message.get("Body", ""), self.cutoff):
            self.report.kept_expired += 1
            self.report.expired_message_ids.append(message_id)
        else:
            self.report.eligible += 1
            if not request.dry_run:
                return True
        self.held[message_id] = message["ReceiptHandle"]
        return False

    def _describe(self, message: dict[str, Any], attributes: dict[str, Any], reason: str) -> None:
        integration_id = string_attribute(attributes, INTEGRATION_ID)
        self.by_integration[integration_id or ""] += 1
        sent_ms = _int((message.get("Attributes") or {}).get("SentTimestamp"))
        if sent_ms is not None and (self.oldest_ms is None or sent_ms < self.oldest_ms):
            self.oldest_ms = sent_ms
        if len(self.report.samples) < MAX_SAMPLES:
            kind, name = _labels(message.get("Body", ""))
            self.report.samples.append(
                DlqSample(
                    message_id=message["MessageId"],
                    reason=reason,
                    integration_id=integration_id,
                    detail=string_attribute(attributes, DETAIL),
                    event_type=kind,
                    event_name=name,
                    sent_at=(
                        datetime.fromtimestamp(sent_ms / 1000, UTC).isoformat()
                        if sent_ms is not None
                        else None
                    ),
                )
            )

    def _move(
        self, messages: list[dict[str, Any]], remaining_ms: Callable[[], int] | None
    ) -> StopReason | None:
        by_id = {m["MessageId"]: m for m in messages}
        entries = [
            Entry(m["MessageId"], m["Body"], _forwarded_attributes(m.get("MessageAttributes") or {}))
            for m in messages
        ]
        left = (lambda: remaining_ms() / 1000) if remaining_ms is not None else None
        result = queue.send_batched(self.sqs, self.queue_url, entries, remaining_s=left)
        for message_id, code in result.failed.items():
            logger().warning("redrive: the events queue refused a message", extra={"code": code})
            self.report.failed += 1
            self.held[message_id] = by_id[message_id]["ReceiptHandle"]
        if result.refused:
            logger().error("redrive: the events queue refused a batch")
        if not result.sent:
            return "send_error" if result.refused else None
        self.report.moved += len(result.sent)
        sent = [m for m in messages if m["MessageId"] in result.sent]
        missed = queue.delete(self.sqs, self.dlq_url, [m["ReceiptHandle"] for m in sent])
        if missed:
            logger().error(
                "redrive: sent but not deleted from the DLQ (the ledger stops a second delivery)",
                extra={"message_ids": [sent[i]["MessageId"] for i in missed]},
            )
            return "delete_error"
        return "send_error" if result.refused else None


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _labels(body: str) -> tuple[str | None, str | None]:
    """The event's `type` and `event` (or page `name`) when they are short strings; nothing else of it."""
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(raw, dict):
        return None, None
    return _short(raw.get("type")), _short(raw.get("event") or raw.get("name"))


def _short(value: object) -> str | None:
    return value if isinstance(value, str) and len(value) <= SAMPLE_NAME_CHARS else None


def _forwarded_attributes(attributes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The message's attributes as SendMessage takes them, with redrive_count incremented."""
    forwarded: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        kept: dict[str, Any] = {"DataType": value["DataType"]}
        if "StringValue" in value:
            kept["StringValue"] = value["StringValue"]
        elif "BinaryValue" in value:
            kept["BinaryValue"] = value["BinaryValue"]
        else:
            continue
        forwarded[name] = kept
    forwarded[REDRIVE_COUNT] = {"DataType": "Number", "StringValue": str(_redrive_count(attributes) + 1)}
    return forwarded


def _redrive_count(attributes: Mapping[str, Any]) -> int:
    text = string_attribute(attributes, REDRIVE_COUNT)
    try:
        return max(0, int(float(text))) if text is not None else 0
    except ValueError:
        return 0


def _expired(body: str, cutoff: datetime) -> bool:
    """Older than Meta accepts, read as delivery reads it (timestamp, else receivedAt).

    An unreadable body is not expired: it moves, and delivery parks it again as malformed.
    """
    try:
        event = parse_event_json(body)
    except EventError:
        return False
    except Exception as exc:  # a defect in reading one body must not stop the whole redrive
        from relay.observability import logger

        logger().warning("redrive could not read a body; it moves", extra={"error": type(exc).__name__})
        return False
    when = moment(event)
    return when is not None and when < cutoff
