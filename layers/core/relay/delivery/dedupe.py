"""Phase 2, dedupe: drop what the ledger says the destination already has, and repeats within the batch."""

from __future__ import annotations

from relay.delivery.model import BatchOutcome, Deps, Job, Plan


def dedupe(planned: Plan, deps: Deps, out: BatchOutcome) -> list[Job]:
    """The jobs left to send. When the ledger cannot be read, every pending record goes back to SQS
    (sending blind could deliver twice); an event the ledger already has, or a repeat within the batch
    (same pixel, event name and event_id), is a `duplicate` skip."""
    pending = planned.pending()
    if not pending:
        return []
    try:
        delivered_by = deps.ledger.delivered(p.key for p in pending)
    except Exception as exc:
        deps.logger().warning(
            "ledger unreadable; the batch's mapped records go back to SQS",
            extra={"records": len(pending), "error": type(exc).__name__},
        )
        planned.failed.update(p.record.message_id for p in pending)
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
