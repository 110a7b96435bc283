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
        self,
        integration: Integration,
        events: Sequence[ServerEvent],
        outcome: str,
        detail: str,
        *,
        fbtrace_id: str | None = None,
    ) -> None:
        """One record per event (at most MAX_RECORDS_PER_CALL), expiring after RETENTION; raises
        DebuggerIncomplete when DynamoDB leaves some unwritten."""
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
                            **({"fbtrace_id": {"S": fbtrace_id}} if fbtrace_id else {}),
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

    def query(
        self,
        integration_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        outcome: str | None = None,
        event_name: str | None = None,
        limit: int = 50,
        start: dict[str, Any] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Records of `integration_id`, newest first, within [since, until], filtered on outcome and
        event_name; at most `limit` items read per page (filters apply after the read, so a page may hold
        fewer), and the key to continue from (None: the end). Payloads come back decoded."""
        low = since.astimezone(UTC).isoformat() if since else "0"
        high = (until.astimezone(UTC).isoformat() if until else "9999") + "#~"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "integration_id = :i AND recorded_at BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":i": {"S": integration_id},
                ":low": {"S": low},
                ":high": {"S": high},
            },
            "ScanIndexForward": False,
            "Limit": limit,
        }
        filters = []
        if outcome is not None:
            filters.append("outcome = :o")
            kwargs["ExpressionAttributeValues"][":o"] = {"S": outcome}
        if event_name is not None:
            filters.append("event_name = :n")
            kwargs["ExpressionAttributeValues"][":n"] = {"S": event_name}
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        if start:
            kwargs["ExclusiveStartKey"] = start
        answer = self._db.query(**kwargs)
        records = []
        for item in answer.get("Items", []):
            text = {k: v.get("S") for k, v in item.items() if isinstance(v, dict) and "S" in v}
            try:
                payload = json.loads(text.get("payload") or "null")
            except ValueError:
                payload = None
            records.append(
                {
                    "recorded_at": (text.get("recorded_at") or "").split("#", 1)[0],
                    "event_name": text.get("event_name"),
                    "event_id": text.get("event_id"),
                    "status": text.get("outcome"),
                    "detail": text.get("detail"),
                    "fbtrace_id": text.get("fbtrace_id"),
                    "payload": payload,
                }
            )
        return records, answer.get("LastEvaluatedKey")


class DebuggerIncomplete(RuntimeError):
    """DynamoDB left some debugger records unwritten (throttling); the caller logs it."""
