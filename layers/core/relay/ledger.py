"""The delivery ledger: which (pixel, event_name, event_id) Meta has already accepted.

Written right after each accepted Graph call and read before sending, so SQS redelivery or a Lambda
crash after a successful call never sends an event to the same pixel twice. Items expire after Meta's
age limit plus a margin: an older event can no longer be sent anyway.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

BATCH_GET_MAX = 100  # DynamoDB BatchGetItem limit
BATCH_WRITE_MAX = 25  # DynamoDB BatchWriteItem limit
# Kept one day past the oldest age any vendor accepts (older events can no longer be sent anyway).
RETENTION_MARGIN = timedelta(days=1)
DEFAULT_RETENTION = timedelta(days=7) + RETENTION_MARGIN
WRITE_ATTEMPTS = 5


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
    """DynamoDB table with partition key `key` and TTL attribute `expires_at`."""

    def __init__(
        self, dynamodb: Any, table: str, *, retention: timedelta = DEFAULT_RETENTION, sleep: Any = time.sleep
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._retention = retention
        self._sleep = sleep

    def delivered(self, keys: Iterable[str]) -> dict[str, str]:
        """The `keys` already delivered, each with the id of the SQS record that delivered it ("" when
        unknown). Raises botocore errors (the caller retries the batch)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        for i in range(0, len(wanted), BATCH_GET_MAX):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [{"key": {"S": k}} for k in wanted[i : i + BATCH_GET_MAX]],
                    "ProjectionExpression": "#k, #r",
                    "ExpressionAttributeNames": {"#k": "key", "#r": "record_id"},
                }
            }
            attempt = 0
            while request:
                response = self._db.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    found[item["key"]["S"]] = item.get("record_id", {}).get("S", "")
                request = response.get("UnprocessedKeys") or {}
                attempt += 1
                if request:
                    self._sleep(min(0.05 * 2**attempt, 1.0))
        return found

    def record(
        self, keys: Iterable[str], *, now: datetime, record_of: Mapping[str, str] | None = None
    ) -> None:
        """Mark `keys` delivered, each with the SQS record id that delivered it (`record_of`, optional).
        Retries throttling and unprocessed items; raises after WRITE_ATTEMPTS."""
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
                try:
                    response = self._db.batch_write_item(RequestItems=request)
                except Exception:
                    if attempt == WRITE_ATTEMPTS - 1:
                        raise
                    self._sleep(min(0.05 * 2**attempt, 1.0))
                    continue
                request = response.get("UnprocessedItems") or {}
                if not request:
                    break
                self._sleep(min(0.05 * 2**attempt, 1.0))
            else:
                raise RuntimeError("ledger: unprocessed items after retries")


def _item(key: str, expires: str, record_id: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"key": {"S": key}, "expires_at": {"N": expires}}
    if record_id:
        item["record_id"] = {"S": record_id}
    return item
