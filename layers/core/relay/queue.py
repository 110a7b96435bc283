"""The SQS side of Relay: the wire format of a record, the DLQ/skip reason vocabulary, one batched sender,
parking in the dead-letter queue, and hold/release of received messages.

Every module that talks SQS (delivery, redrive, the local stack, later the collector) goes through here,
so a message is always written and read the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from relay.aws import AWS_ATTEMPT_S, error_code, error_fields
from relay.observability import Log, logger_or

# SQS limits.
SEND_BATCH_MAX = 10  # entries per SendMessageBatch / DeleteMessageBatch / ChangeMessageVisibilityBatch
# Batches are kept to 256 KiB (bodies + attributes), SQS's limit before 2025; one larger entry travels
# alone, within SQS's 1 MiB per call and per message (the DLQ's MaximumMessageSize, template.yaml).
SEND_BATCH_MAX_BYTES = 256 * 1024
RECEIVE_MAX = 10
# A failed entry that SQS says was not the sender's fault is sent again, this many times at most.
SEND_ATTEMPTS = 3
SEND_BACKOFF_S = 0.05
# No SendMessageBatch (nor the wait before a retry) starts with less than this left of the invocation:
# its entries are reported failed with OUT_OF_TIME instead, so the caller keeps them.
SEND_TIME_MARGIN_S = float(AWS_ATTEMPT_S)
OUT_OF_TIME = "OutOfTime"
DETAIL_MAX = 256

# Message attribute names.
REASON = "reason"
INTEGRATION_ID = "integration_id"
DETAIL = "detail"
REDRIVE_COUNT = "redrive_count"

DlqReason = Literal[
    "malformed",  # the body is not a readable event: fix the sender
    "invalid",  # the event cannot be sent as it stands (a field named in `detail`): fix data or mapping
    "expired",  # older than the vendor's age limit: can never be sent
    "auth",  # the vendor refused the token / permissions / API version: fix the integration, redrive
    "config",  # the integration's stored configuration is unreadable: fix it, redrive
    "retries_exhausted",  # transient errors outlasted the receives SQS allows
    "transport",  # the answers were not the vendor's (redirect, proxy / WAF page): check the URL and egress
    "unconfirmed",  # the vendor's success counted other than the events sent: check, then redrive
    "unavailable",  # integrations, ledger or token stayed unreadable (AWS trouble): `detail` names which
    "max_receive_count",  # no reason attribute: SQS's own RedrivePolicy moved it (a crash or timeout loop)
]
SkipReason = Literal[
    "consent",  # the event's consent does not cover the integration's categories
    "disabled",  # the integration is disabled
    "no_integration",  # the event's source has no integration (or not the one asked for)
    "duplicate",  # the destination already has this event (the ledger says so, or an earlier record here)
    "mapping",  # event_mappings maps the event to null
    "identify",  # identify calls carry traits, no vendor event
    "group",
    "alias",
]
DLQ_REASONS: tuple[str, ...] = get_args(DlqReason)
SKIP_REASONS: tuple[str, ...] = get_args(SkipReason)
# The reason reported for (and matched against) a DLQ message without a `reason` attribute.
NO_REASON: DlqReason = "max_receive_count"


@dataclass(frozen=True, slots=True)
class SqsRecord:
    """One received message as delivery sees it; `attributes` are in SendMessage's (PascalCase) shape."""

    message_id: str
    body: str
    receive_count: int = 1
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_lambda(cls, record: Mapping[str, Any]) -> SqsRecord:
        """A record of Lambda's SQS event (camelCase attribute values, as the event source mapping sends)."""
        attrs = record.get("messageAttributes") or {}
        converted = {
            k: {"DataType": v.get("dataType", "String"), "StringValue": v.get("stringValue", "")}
            for k, v in attrs.items()
            if isinstance(v, dict) and v.get("stringValue") is not None
        }
        count = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
        return cls(record["messageId"], record.get("body", ""), count, converted)

    def string_attribute(self, name: str) -> str | None:
        return string_attribute(self.attributes, name)


def lambda_record(message: Mapping[str, Any]) -> dict[str, Any]:
    """An SQS API message (ReceiveMessage) in the shape Lambda's event source mapping delivers it."""
    attributes = {
        k: {"dataType": v["DataType"], "stringValue": v.get("StringValue")}
        for k, v in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "eventSource": "aws:sqs",
    }


def string_attribute(attributes: Mapping[str, Any], name: str) -> str | None:
    """A String message attribute's value (SendMessage shape), or None when absent or empty."""
    value = attributes.get(name)
    if isinstance(value, Mapping):
        text = value.get("StringValue")
        if isinstance(text, str) and text:
            return text
    return None


def string_value(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


@dataclass(frozen=True, slots=True)
class Parked:
    """One message to park in the DLQ: the original body and attributes, plus why."""

    record_id: str
    body: str
    reason: DlqReason
    integration_id: str | None = None
    detail: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)

    def message_attributes(self) -> dict[str, Any]:
        attrs = {k: v for k, v in self.attributes.items() if k not in (REASON, INTEGRATION_ID, DETAIL)}
        attrs[REASON] = string_value(self.reason)
        if self.integration_id:
            attrs[INTEGRATION_ID] = string_value(self.integration_id)
        if self.detail:
            attrs[DETAIL] = string_value(self.detail[:DETAIL_MAX])
        return attrs

    def entry(self) -> Entry:
        return Entry(self.record_id, self.body, self.message_attributes())


@dataclass(frozen=True, slots=True)
class Entry:
    """One message to send; `key` is the caller's id for it (returned when it could not be sent)."""

    key: str
    body: str
    attributes: dict[str, Any] = field(default_factory=dict)

    def size(self) -> int:
        """Bytes SQS counts against the batch limit: the body plus each attribute's name, type and value."""
        total = len(self.body.encode("utf-8", "surrogatepass"))
        for name, value in self.attributes.items():
            total += len(name.encode()) + len(str(value.get("DataType", "")).encode())
            total += len(str(value.get("StringValue", value.get("BinaryValue", ""))).encode())
        return total


@dataclass
class SendResult:
    """What a batched send did: the keys SQS accepted, the ones it did not (with its code), and whether the
    queue refused a whole call (missing queue, access denied: no point in sending more)."""

    sent: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    refused: bool = False


def batches(entries: Sequence[Entry]) -> Iterator[list[Entry]]:
    """Consecutive groups of ≤ SEND_BATCH_MAX entries and ≤ SEND_BATCH_MAX_BYTES bytes each.

    An entry too large for any batch travels alone (SQS then answers for it).
    """
    group: list[Entry] = []
    size = 0
    for entry in entries:
        n = entry.size()
        if group and (len(group) >= SEND_BATCH_MAX or size + n > SEND_BATCH_MAX_BYTES):
            yield group
            group, size = [], 0
        group.append(entry)
        size += n
    if group:
        yield group


def send_batched(
    sqs: Any,
    queue_url: str,
    entries: Iterable[Entry],
    *,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = SEND_ATTEMPTS,
    remaining_s: Callable[[], float] | None = None,
) -> SendResult:
    """Send `entries` with SendMessageBatch, split by count and bytes; retry entries SQS failed on its side
    (at most `attempts` calls per group).

    Never raises for SQS trouble: a call that fails outright marks its entries failed (and `refused`).
    When `remaining_s` (seconds left of the invocation) leaves less than SEND_TIME_MARGIN_S for a call and
    its wait, the entries not yet sent are marked failed with OUT_OF_TIME and nothing more is sent.
    """
    result = SendResult()
    groups = list(batches(list(entries)))
    for n, group in enumerate(groups):
        pending = group
        for attempt in range(attempts):
            delay = SEND_BACKOFF_S * 2 ** (attempt - 1) if attempt else 0.0
            if remaining_s is not None and remaining_s() - delay < SEND_TIME_MARGIN_S:
                for entry in [*pending, *(e for g in groups[n + 1 :] for e in g)]:
                    result.failed[entry.key] = OUT_OF_TIME
                return result
            if delay:
                sleep(delay)
            retry = _send_once(sqs, queue_url, pending, result)
            if not retry or result.refused:
                break
            pending = retry
        if result.refused:
            break
    return result


def _send_once(sqs: Any, queue_url: str, group: list[Entry], result: SendResult) -> list[Entry]:
    """One SendMessageBatch; records outcomes in `result`; returns the entries worth sending again."""
    by_id = {str(n): e for n, e in enumerate(group)}
    request = [
        {"Id": i, "MessageBody": e.body, **({"MessageAttributes": e.attributes} if e.attributes else {})}
        for i, e in by_id.items()
    ]
    try:
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=request)
    except Exception as exc:  # botocore ClientError / connection errors: the whole call failed
        # Not logged here: the code is in `result.failed`, which every caller logs.
        code = error_code(exc) or type(exc).__name__
        for e in group:
            result.failed[e.key] = code
        result.refused = True
        return []
    for ok in answer.get("Successful") or []:
        entry = by_id[str(ok["Id"])]
        result.sent.add(entry.key)
        result.failed.pop(entry.key, None)
    retry = []
    for failure in answer.get("Failed") or []:
        entry = by_id[str(failure["Id"])]
        result.failed[entry.key] = str(failure.get("Code", "unknown"))
        if not failure.get("SenderFault", False):
            retry.append(entry)
    return retry


class DeadLetters:
    """Parks messages in the DLQ through the batched sender; `log` (default: relay.observability's
    logger) gets the SQS error codes of the messages it could not park."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        log: Log | None = None,
    ) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._sleep = sleep
        self._log = log

    def park(self, items: Sequence[Parked], *, remaining_s: Callable[[], float] | None = None) -> set[int]:
        """Send `items`; returns the positions (in `items`) whose send FAILED (the caller must not drop
        their records).

        One record can be parked for several integrations, so each message is tracked by its position.
        `remaining_s`: see send_batched.
        """
        entries = [replace(p.entry(), key=str(n)) for n, p in enumerate(items)]
        result = send_batched(self._sqs, self._url, entries, sleep=self._sleep, remaining_s=remaining_s)
        if result.failed:
            codes: dict[str, int] = {}
            for code in result.failed.values():
                codes[code] = codes.get(code, 0) + 1
            logger_or(self._log).warning("DLQ send failed", extra={"codes": codes})
        return {n for n in range(len(items)) if str(n) not in result.sent}


def change_visibility(
    sqs: Any, queue_url: str, handles: Iterable[str], seconds: int, *, log: Log | None = None
) -> int:
    """ChangeMessageVisibilityBatch over `handles` (best effort); returns how many SQS did not change.

    A call that fails outright is logged to `log` (class and code) and counted."""
    missed = 0
    handles = list(handles)
    for start in range(0, len(handles), SEND_BATCH_MAX):
        chunk = handles[start : start + SEND_BATCH_MAX]
        entries = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": seconds} for i, h in enumerate(chunk)
        ]
        try:
            answer = sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as exc:  # the messages reappear on their own when their visibility lapses
            logger_or(log).warning("SQS visibility change failed", extra=error_fields(exc))
            missed += len(chunk)
            continue
        missed += len(answer.get("Failed") or [])
    return missed


def release(sqs: Any, queue_url: str, handles: Iterable[str], *, log: Log | None = None) -> int:
    """Make held messages visible again at once; returns how many could not be released."""
    return change_visibility(sqs, queue_url, handles, 0, log=log)


def hold(sqs: Any, queue_url: str, handles: Iterable[str], seconds: int, *, log: Log | None = None) -> int:
    """Keep received messages hidden `seconds` longer; returns how many could not be held."""
    return change_visibility(sqs, queue_url, handles, seconds, log=log)


def delete(sqs: Any, queue_url: str, handles: Sequence[str], *, log: Log | None = None) -> list[int]:
    """DeleteMessageBatch over `handles`; returns the positions (in `handles`) SQS did not delete.

    A call that fails outright is logged to `log` (class and code)."""
    missed: list[int] = []
    for start in range(0, len(handles), SEND_BATCH_MAX):
        chunk = handles[start : start + SEND_BATCH_MAX]
        entries = [{"Id": str(start + i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
        try:
            answer = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as exc:
            logger_or(log).warning("SQS delete failed", extra=error_fields(exc))
            missed.extend(range(start, start + len(chunk)))
            continue
        missed.extend(int(f["Id"]) for f in answer.get("Failed") or [])
    return missed
