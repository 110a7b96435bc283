"""Phase 2, dedupe: drop what the ledger says the destination already has, and repeats within the batch."""

from __future__ import annotations

from relay.aws import error_fields
from relay.delivery.model import BatchOutcome, Deps, Job, Plan
from relay.queue import Parked


def dedupe(planned: Plan, deps: Deps, out: BatchOutcome) -> list[Job]:
    """The jobs left to send. When the ledger cannot be read, every pending record goes back to SQS
    (sending blind could deliver twice) — or, on its last receive, is parked `unavailable` for each of its
    integrations. An event the ledger has from another record, or a repeat within the batch (same pixel,
    event name and event_id), is a `duplicate` skip; SQS redelivering the very record that delivered it
    is not counted again (its delivery was). A ledger item written without a record id (before record
    ids were kept) counts as another record's. `out.already_delivered` counts every event not sent."""
    pending = planned.pending()
    if not pending:
        return []
    try:
        delivered_by = deps.ledger.delivered((p.key for p in pending), remaining_s=deps.remaining_s)
    except Exception as exc:
        fields = error_fields(exc)
        deps.logger().warning(
            "ledger unreadable; the batch's mapped records go back to SQS",
            extra={"records": len(pending), **fields},
        )
        detail = f"ledger unreadable ({fields['code'] or fields['error']})"
        for job in planned.jobs.values():
            for item in job.items:
                record = item.record
                if record.receive_count >= deps.max_receive_count:
                    planned.parked.append(
                        Parked(
                            record.message_id,
                            record.body,
                            "unavailable",
                            job.integration.id,
                            detail,
                            record.attributes,
                        )
                    )
                else:
                    planned.failed.add(record.message_id)
        return []
    seen: set[str] = set()
    fresh: list[Job] = []
    for job in planned.jobs.values():
        keep = []
        for item in job.items:
            by = delivered_by.get(item.key)
            if by is not None:
                out.already_delivered += 1
                # SQS redelivering the very record that delivered it (another target of it failed):
                # that delivery was counted then. Any other record is a duplicate, counted at settling.
                if by != item.record.message_id:
                    planned.skips.append((item.record.message_id, "duplicate"))
            elif item.key in seen:
                out.already_delivered += 1
                planned.skips.append((item.record.message_id, "duplicate"))
            else:
                seen.add(item.key)
                keep.append(item)
        if keep:
            fresh.append(Job(job.integration, keep))
    return fresh
