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
            items.append(
                {
                    "PutRequest": {
                        "Item": {
                            "integration_id": {"S": integration.id},
                            "recorded_at": {"S": f"{now.isoformat()}#{n:04d}#{event.event_id}"},
                            "event_name": {"S": event.event_name},
                            "event_id": {"S": event.event_id},
                            "outcome": {"S": outcome},
                            "detail": {"S": detail[:500]},
                            "payload": {"S": json.dumps(stored_payload(event), separators=(",", ":"))},
                            "expires_at": {"N": expires},
                        }
                    }
                }
            )
        for i in range(0, len(items), BATCH_WRITE_MAX):
            self._db.batch_write_item(RequestItems={self._table: items[i : i + BATCH_WRITE_MAX]})
