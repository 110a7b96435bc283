"""Messages parked in the dead-letter queue, with the reason attributes the redrive filters on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEND_BATCH_MAX = 10  # SQS SendMessageBatch limit
DETAIL_MAX = 256

REASON = "reason"
INTEGRATION_ID = "integration_id"
DETAIL = "detail"
REDRIVE_COUNT = "redrive_count"


@dataclass(frozen=True, slots=True)
class Parked:
    """One message to park: the original body and attributes, plus why."""

    record_id: str
    body: str
    reason: str
    integration_id: str | None = None
    detail: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)

    def message_attributes(self) -> dict[str, Any]:
        attrs = {k: v for k, v in self.attributes.items() if k not in (REASON, INTEGRATION_ID, DETAIL)}
        attrs[REASON] = {"DataType": "String", "StringValue": self.reason}
        if self.integration_id:
            attrs[INTEGRATION_ID] = {"DataType": "String", "StringValue": self.integration_id}
        if self.detail:
            attrs[DETAIL] = {"DataType": "String", "StringValue": self.detail[:DETAIL_MAX]}
        return attrs


class DeadLetters:
    """Sends Parked messages to the DLQ in batches of 10."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def park(self, items: list[Parked]) -> set[str]:
        """Send `items`; returns the record ids whose send FAILED (the caller must not drop them)."""
        failed: set[str] = set()
        for i in range(0, len(items), SEND_BATCH_MAX):
            chunk = items[i : i + SEND_BATCH_MAX]
            entries = [
                {"Id": str(n), "MessageBody": p.body, "MessageAttributes": p.message_attributes()}
                for n, p in enumerate(chunk)
            ]
            try:
                response = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            except Exception:
                failed.update(p.record_id for p in chunk)
                continue
            failed.update(chunk[int(f["Id"])].record_id for f in response.get("Failed", []))
        return failed
