"""The delivery ledger: which (pixel, event_name, event_id) Meta has already accepted.

Written right after each accepted Graph call and read before sending, so SQS redelivery or a Lambda
crash after a successful call never sends an event to the same pixel twice. Items expire after Meta's
age limit plus a margin: an older event can no longer be sent anyway.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from relay.aws import (
    AWS_ATTEMPT_S,
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    Unprocessed,
    batch_get,
    error_fields,
)
from relay.observability import Log, logger_or

BATCH_WRITE_MAX = 25  # DynamoDB BatchWriteItem limit
# Kept one day past the oldest age any vendor accepts (older events can no longer be sent anyway).
RETENTION_MARGIN = timedelta(days=1)
DEFAULT_RETENTION = timedelta(days=7) + RETENTION_MARGIN
# Rounds per chunk of keys or items: DynamoDB may answer part of a call (UnprocessedKeys / Items) and a
# throttled table can do so on every call; each call already carries botocore's own retries.
READ_ATTEMPTS = 5
WRITE_ATTEMPTS = 5
# No further round (nor the wait before it) starts with less than one AWS attempt's time left.
TIME_MARGIN_S = float(AWS_ATTEMPT_S)


class LedgerUnavailable(RuntimeError):
    """The ledger could not answer within its attempts or the invocation's time: retry the events later.
    `aws_code` is the DynamoDB error code behind it, when there was one."""

    retryable = True

    def __init__(self, message: str, *, aws_code: str | None = None) -> None:
        super().__init__(message)
        self.aws_code = aws_code


# DynamoDB caps a partition key at 2,048 bytes; ids longer than this are stored by their SHA-256.
MAX_PLAIN_ID_BYTES = 512
HASHED_ID_PREFIX = "sha256:"


def ledger_key(pixel_id: str, event_name: str, event_id: str) -> str:
    """The ledger's key of one event for one pixel: at most 2,048 bytes whatever the event_id's length
    (an id over MAX_PLAIN_ID_BYTES bytes is replaced by `sha256:<hex>` of its UTF-8 bytes)."""
    raw = event_id.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_PLAIN_ID_BYTES or event_id.startswith(HASHED_ID_PREFIX):
        event_id = HASHED_ID_PREFIX + hashlib.sha256(raw).hexdigest()
    return f"{pixel_id}#{event_name}#{event_id}"


class Ledger:
    """DynamoDB table with partition key `key` and TTL attribute `expires_at`.

    `log` (default: relay.observability's logger) gets a warning, class and code only, for each failed
    write round that is retried."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        sleep: Callable[[float], None] = time.sleep,
        log: Log | None = None,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._retention = retention
        self._sleep = sleep
        self._log = log

    def delivered(
        self, keys: Iterable[str], *, remaining_s: Callable[[], float] | None = None
    ) -> dict[str, str]:
        """The `keys` already delivered, each with the id of the SQS record that delivered it ("" when
        unknown).

        Raises botocore errors, or LedgerUnavailable when keys stay unprocessed after READ_ATTEMPTS rounds
        or the invocation (`remaining_s`, seconds left) has no time for another round.
        """
        wanted = [{"key": {"S": k}} for k in dict.fromkeys(keys)]
        projection = {
            "ProjectionExpression": "#k, #r",
            "ExpressionAttributeNames": {"#k": "key", "#r": "record_id"},
        }
        found: dict[str, str] = {}
        try:
            items = batch_get(
                self._db,
                self._table,
                wanted,
                projection=projection,
                rounds=READ_ATTEMPTS,
                sleep=self._sleep,
                remaining_s=remaining_s,
            )
            for item in items:
                found[item["key"]["S"]] = item.get("record_id", {}).get("S", "")
        except Unprocessed as exc:
            raise LedgerUnavailable(f"ledger: {exc}") from None
        return found

    def record(
        self,
        keys: Iterable[str],
        *,
        now: datetime,
        record_of: Mapping[str, str] | None = None,
        remaining_s: Callable[[], float] | None = None,
    ) -> None:
        """Mark `keys` delivered, each with the SQS record id that delivered it (`record_of`, optional).
        Retries throttling and unprocessed items; after WRITE_ATTEMPTS rounds raises the last botocore
        error, or LedgerUnavailable (items still unprocessed, or no time left)."""
        expires = str(int((now + self._retention).timestamp()))
        unique = list(dict.fromkeys(keys))
        of = record_of or {}
        for i in range(0, len(unique), BATCH_WRITE_MAX):
            items = [
                {"PutRequest": {"Item": _item(k, expires, of.get(k))}}
                for k in unique[i : i + BATCH_WRITE_MAX]
            ]
            request: dict[str, Any] = {self._table: items}
            for attempt in range(WRITE_ATTEMPTS):
                last = attempt + 1 == WRITE_ATTEMPTS
                try:
                    response = self._db.batch_write_item(RequestItems=request)
                except Exception as exc:
                    if last:
                        raise
                    self._logger().warning(
                        "ledger write failed; retrying", extra={**error_fields(exc), "attempt": attempt + 1}
                    )
                    self._pause(attempt, remaining_s, "write", aws_code=error_fields(exc)["code"])
                    continue
                request = response.get("UnprocessedItems") or {}
                if not request:
                    break
                if not last:
                    self._pause(attempt, remaining_s, "write")
            else:
                raise LedgerUnavailable(f"ledger: items still unprocessed after {WRITE_ATTEMPTS} writes")

    def _pause(
        self,
        attempt: int,
        remaining_s: Callable[[], float] | None,
        what: str,
        *,
        aws_code: str | None = None,
    ) -> None:
        """Back off before round `attempt + 2`; raises LedgerUnavailable when the invocation has no time
        for the wait and another round."""
        delay = min(BACKOFF_BASE_S * 2**attempt, BACKOFF_CAP_S)
        if remaining_s is not None and remaining_s() - delay < TIME_MARGIN_S:
            raise LedgerUnavailable(f"ledger: no time left for another {what}", aws_code=aws_code)
        self._sleep(delay)

    def _logger(self) -> Log:
        self._log = logger_or(self._log)
        return self._log


def _item(key: str, expires: str, record_id: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"key": {"S": key}, "expires_at": {"N": expires}}
    if record_id:
        item["record_id"] = {"S": record_id}
    return item
