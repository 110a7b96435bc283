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

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal, Protocol

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from relay.events import EventError, parse_event_json
from relay.queue import INTEGRATION_ID, REASON, REDRIVE_COUNT, SEND_BATCH_MAX
from relay.vendors.meta_capi.limits import MAX_EVENT_AGE

logger = logging.getLogger(__name__)

# The reason reported for (and matched against) a DLQ message without a `reason` attribute.
NO_REASON = "max_receive_count"
# SQS batch APIs take at most 10 entries.
SQS_BATCH = SEND_BATCH_MAX
# How long a received DLQ message stays hidden from other readers while the run decides about it.
RECEIVE_VISIBILITY_SECONDS = 30
# Long polling asks every SQS server, so an empty answer means an empty queue (short polling samples).
WAIT_SECONDS = 1
# Stop receiving when less time than this is left, so the kept messages are released in time.
TIME_MARGIN_MS = 20_000

StopReason = Literal["max_messages", "empty", "seen_again", "time", "send_error", "delete_error"]
_BATCH_TOO_LONG = frozenset({"AWS.SimpleQueueService.BatchRequestTooLong", "BatchRequestTooLong"})


class SqsClient(Protocol):
    """The part of boto3's SQS client the redrive uses (tests pass fakes)."""

    def receive_message(self, **kwargs: Any) -> dict[str, Any]: ...
    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]: ...
    def change_message_visibility_batch(self, **kwargs: Any) -> dict[str, Any]: ...


class MetricsSink(Protocol):
    """Powertools' Metrics.add_metric, as far as the redrive uses it."""

    def add_metric(self, name: str, unit: str, value: float) -> None: ...


class RedriveRequest(BaseModel):
    """The RedriveFunction's invoke event."""

    model_config = ConfigDict(extra="forbid")

    integration_id: str | None = None
    reason: str | None = None
    max_messages: int = Field(default=1000, ge=1, le=100_000)
    dry_run: bool = False


class RedriveReport(BaseModel):
    """What one run did. examined = eligible + kept_expired + kept_filtered; eligible = moved + failed
    (dry run: moved = failed = 0). by_reason counts the examined messages per reason."""

    examined: int = 0
    moved: int = 0
    kept_expired: int = 0
    kept_filtered: int = 0
    failed: int = 0
    by_reason: dict[str, int] = Field(default_factory=dict)
    expired_message_ids: list[str] = Field(default_factory=list)
    eligible: int = 0
    dry_run: bool = False
    stopped: StopReason = "empty"


class RedriveSettings(BaseModel):
    """The function's configuration (environment variables set by template.yaml)."""

    model_config = ConfigDict(frozen=True)

    dlq_url: str = Field(min_length=1)
    events_queue_url: str = Field(min_length=1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> RedriveSettings:
        return cls(dlq_url=env.get("DLQ_URL", ""), events_queue_url=env.get("EVENTS_QUEUE_URL", ""))


@cache
def settings() -> RedriveSettings:
    return RedriveSettings.from_env()


@cache
def sqs_client() -> SqsClient:
    import boto3  # only when first needed: importing relay.redrive builds no client

    client: SqsClient = boto3.client("sqs")
    return client


def handle(
    event: Mapping[str, Any],
    *,
    remaining_ms: Callable[[], int] | None = None,
    metrics: MetricsSink | None = None,
) -> dict[str, Any]:
    """RedriveFunction: validate the invoke event, run the redrive, return the report as JSON data."""
    request = RedriveRequest.model_validate(event)
    config = settings()
    # Keep kept messages hidden for the whole invocation: they are released when the run ends, and a
    # message that came back early would end the run as "seen again".
    visibility = RECEIVE_VISIBILITY_SECONDS
    if remaining_ms is not None:
        visibility = max(visibility, remaining_ms() // 1000 + RECEIVE_VISIBILITY_SECONDS)
    report = redrive(
        request,
        sqs=sqs_client(),
        dlq_url=config.dlq_url,
        queue_url=config.events_queue_url,
        now=lambda: datetime.now(UTC),
        remaining_ms=remaining_ms,
        visibility_timeout=visibility,
    )
    if metrics is not None:
        metrics.add_metric(name="RedriveExamined", unit="Count", value=report.examined)
        if not request.dry_run:
            metrics.add_metric(name="Redriven", unit="Count", value=report.moved)
            metrics.add_metric(name="RedriveKeptExpired", unit="Count", value=report.kept_expired)
            metrics.add_metric(name="RedriveFailed", unit="Count", value=report.failed)
    logger.info("redrive finished", extra={"request": request.model_dump(), "report": report.model_dump()})
    return report.model_dump(mode="json")


def redrive(
    request: RedriveRequest,
    *,
    sqs: SqsClient,
    dlq_url: str,
    queue_url: str,
    now: Callable[[], datetime],
    max_age: timedelta = MAX_EVENT_AGE,
    remaining_ms: Callable[[], int] | None = None,
    visibility_timeout: int = RECEIVE_VISIBILITY_SECONDS,
    wait_seconds: int = WAIT_SECONDS,
) -> RedriveReport:
    """Move the DLQ messages matching `request` back to the events queue (see the module docstring)."""
    run = _Run(request, sqs=sqs, dlq_url=dlq_url, queue_url=queue_url, cutoff=now() - max_age)
    try:
        run.report.stopped = run.loop(
            remaining_ms=remaining_ms, visibility_timeout=visibility_timeout, wait_seconds=wait_seconds
        )
    finally:
        _release(sqs, dlq_url, run.held)
    run.report.by_reason = dict(run.by_reason)
    return run.report


class _Run:
    def __init__(
        self, request: RedriveRequest, *, sqs: SqsClient, dlq_url: str, queue_url: str, cutoff: datetime
    ) -> None:
        self.request = request
        self.sqs = sqs
        self.dlq_url = dlq_url
        self.queue_url = queue_url
        self.cutoff = cutoff
        self.report = RedriveReport(dry_run=request.dry_run)
        self.by_reason: Counter[str] = Counter()
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
            seen_again = False
            to_move: list[dict[str, Any]] = []
            for message in messages:
                message_id: str = message["MessageId"]
                if message_id in self.examined_ids:
                    seen_again = True
                    self.held[message_id] = message["ReceiptHandle"]
                elif self.report.examined >= self.request.max_messages:
                    self.held[message_id] = message["ReceiptHandle"]  # more than asked for: not examined
                elif self._examine(message):
                    to_move.append(message)
            if to_move:
                stop = self._move(to_move)
                if stop is not None:
                    return stop
            if seen_again:
                return "seen_again"

    def _examine(self, message: dict[str, Any]) -> bool:
        """Count one new message; True when it should move now (else it is held for release)."""
        message_id: str = message["MessageId"]
        self.examined_ids.add(message_id)
        self.report.examined += 1
        attributes: dict[str, Any] = message.get("MessageAttributes") or {}
        reason = _string_attribute(attributes, REASON) or NO_REASON
        self.by_reason[reason] += 1
        request = self.request
        if (request.reason is not None and reason != request.reason) or (
            request.integration_id is not None
            and _string_attribute(attributes, INTEGRATION_ID) != request.integration_id
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

    def _move(self, messages: list[dict[str, Any]]) -> StopReason | None:
        by_entry = {str(i): m for i, m in enumerate(messages)}
        entries = [
            {
                "Id": entry_id,
                "MessageBody": m["Body"],
                "MessageAttributes": _forwarded_attributes(m.get("MessageAttributes") or {}),
            }
            for entry_id, m in by_entry.items()
        ]
        sent, refused = _send(self.sqs, self.queue_url, entries)
        for entry_id, message in by_entry.items():
            if entry_id not in sent:
                self.report.failed += 1
                self.held[message["MessageId"]] = message["ReceiptHandle"]
        if not sent:
            return "send_error" if refused else None
        self.report.moved += len(sent)
        deletes = [{"Id": i, "ReceiptHandle": by_entry[i]["ReceiptHandle"]} for i in sorted(sent, key=int)]
        try:
            answer = self.sqs.delete_message_batch(QueueUrl=self.dlq_url, Entries=deletes)
        except ClientError:
            logger.exception(
                "redrive: sent but not deleted from the DLQ (the ledger stops a second delivery)",
                extra={"message_ids": [by_entry[i]["MessageId"] for i in sent]},
            )
            return "delete_error"
        for failure in answer.get("Failed") or []:
            logger.error(
                "redrive: sent but not deleted from the DLQ (the ledger stops a second delivery)",
                extra={"message_id": by_entry[failure["Id"]]["MessageId"], "code": failure.get("Code")},
            )
        return "send_error" if refused else None


def _send(sqs: SqsClient, queue_url: str, entries: list[dict[str, Any]]) -> tuple[set[str], bool]:
    """SendMessageBatch; the ids the queue accepted, and whether the queue refused the call itself.

    A batch over SQS's byte limit is split in halves; any other error refuses the whole batch.
    """
    try:
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _BATCH_TOO_LONG and len(entries) > 1:
            half = len(entries) // 2
            first, refused_first = _send(sqs, queue_url, entries[:half])
            second, refused_second = _send(sqs, queue_url, entries[half:])
            return first | second, refused_first or refused_second
        logger.error("redrive: the events queue refused a batch", extra={"code": code})
        return set(), True
    for failure in answer.get("Failed") or []:
        logger.warning(
            "redrive: the events queue refused a message",
            extra={"code": failure.get("Code"), "detail": failure.get("Message")},
        )
    return {str(ok["Id"]) for ok in answer.get("Successful") or []}, False


def _release(sqs: SqsClient, dlq_url: str, held: dict[str, str]) -> None:
    """Make the held messages visible again (best effort: a lapsed handle needs no release)."""
    handles = list(held.values())
    for chunk in _chunks(handles, SQS_BATCH):
        entries = [{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(chunk)]
        try:
            answer = sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=entries)
        except ClientError:
            logger.warning("redrive: could not release kept messages; they reappear after their timeout")
            continue
        if answer.get("Failed"):
            logger.info(
                "redrive: some kept messages were already visible", extra={"n": len(answer["Failed"])}
            )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _string_attribute(attributes: Mapping[str, Any], name: str) -> str | None:
    value = attributes.get(name)
    if isinstance(value, Mapping):
        text = value.get("StringValue")
        if isinstance(text, str) and text:
            return text
    return None


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
    text = _string_attribute(attributes, REDRIVE_COUNT)
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
    moment = event.timestamp or event.received_at
    if moment is None:
        return False
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)) < cutoff
