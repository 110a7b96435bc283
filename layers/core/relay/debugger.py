"""The event debugger: the exact payload sent (hashed), Meta's answer and fbtrace_id, per integration.

Failures are always recorded, successes when the integration has `debug: true`. Records expire. The
client IP is the only clear personal value in a payload; it is cut to its network prefix before storing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from relay.outbound import ServerEvent
from relay.pii import mask_ip

if TYPE_CHECKING:
    from relay.integrations import Integration

RETENTION = timedelta(days=7)
BATCH_WRITE_MAX = 25
MAX_RECORDS_PER_CALL = 100  # a 1,000-event failure is summarised by its first 100 events
# DynamoDB caps a sort key at 1,024 bytes and an item at 400 KB: the event_id is cut to this many characters
# in the key and the stored attribute, and a payload whose JSON exceeds MAX_PAYLOAD_BYTES is stored as
# a note saying so (the payload is bounded by the event's own bounds, but a record must never fail).
MAX_ID_CHARS = 200
MAX_PAYLOAD_BYTES = 64 * 1024
DETAIL_CHARS = 500


def stored_payload(event: ServerEvent) -> dict[str, Any]:
    payload = dict(event.payload)
    user = dict(payload.get("user_data", {}))
    if "client_ip_address" in user:
        user["client_ip_address"] = mask_ip(user["client_ip_address"])
    payload["user_data"] = user
    return payload


class Debugger:
    """DynamoDB table keyed by integration_id + recorded_at, TTL attribute expires_at."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def record(
        self, integration: Integration, events: Sequence[ServerEvent], outcome: str, detail: str
    ) -> None:
        now = datetime.now(UTC)
        expires = str(int((now + RETENTION).timestamp()))
        items = []
        for n, event in enumerate(events[:MAX_RECORDS_PER_CALL]):
            event_id = event.event_id[:MAX_ID_CHARS]
            payload = json.dumps(stored_payload(event), separators=(",", ":"))
            if len(payload) > MAX_PAYLOAD_BYTES // 4 and len(payload.encode()) > MAX_PAYLOAD_BYTES:
                payload = json.dumps({"omitted": f"payload larger than {MAX_PAYLOAD_BYTES:,} bytes"})
            items.append(
                {
                    "PutRequest": {
                        "Item": {
                            "integration_id": {"S": integration.id},
                            "recorded_at": {"S": f"{now.isoformat()}#{n:04d}#{event_id}"},
                            "event_name": {"S": event.event_name},
                            "event_id": {"S": event_id},
                            "outcome": {"S": outcome},
                            "detail": {"S": detail[:DETAIL_CHARS]},
                            "payload": {"S": payload},
                            "expires_at": {"N": expires},
                        }
                    }
                }
            )
        dropped = 0
        for i in range(0, len(items), BATCH_WRITE_MAX):
            answer = self._db.batch_write_item(RequestItems={self._table: items[i : i + BATCH_WRITE_MAX]})
            # Best effort, no second round (delivery must not wait on it); but never silently short.
            dropped += len((answer.get("UnprocessedItems") or {}).get(self._table, []))
        if dropped:
            raise DebuggerIncomplete(f"debugger: {dropped} of {len(items)} records not written")

    def latest(self, integration_id: str) -> dict[str, str] | None:
        """The newest record of `integration_id` (recorded_at, event_name, event_id, outcome, detail;
        never the payload), or None when it has none that has not expired."""
        answer = self._db.query(
            TableName=self._table,
            KeyConditionExpression="integration_id = :i",
            ExpressionAttributeValues={":i": {"S": integration_id}},
            ProjectionExpression="recorded_at, event_name, event_id, outcome, detail",
            ScanIndexForward=False,
            Limit=1,
        )
        items = answer.get("Items") or []
        if not items:
            return None
        item = items[0]
        found = {key: value.get("S", "") for key, value in item.items() if isinstance(value, dict)}
        found["recorded_at"] = found.get("recorded_at", "").split("#", 1)[0]
        return found


class DebuggerIncomplete(RuntimeError):
    """DynamoDB left some debugger records unwritten (throttling); the caller logs it."""
