"""Delivery of one SQS batch: plan → dedupe → send → settle (each phase its own module).

Every accepted event ends, per integration, in exactly one state: delivered, skipped (with a reason),
dead-lettered (with a reason attribute), or — only while a retry can still succeed — returned to SQS
as a batch item failure. Nothing is lost: a message whose park in the DLQ fails is retried too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from relay.aws import AWS_CALL_S, error_fields
from relay.delivery.dedupe import dedupe
from relay.delivery.model import BatchOutcome, Deps
from relay.delivery.plan import plan
from relay.delivery.send import send_all
from relay.delivery.settle import settle
from relay.queue import SqsRecord
from relay.runtime import gc_paused

__all__ = ["BatchOutcome", "Deps", "SqsRecord", "deliver_batch"]


def deliver_batch(records: Sequence[SqsRecord], deps: Deps) -> BatchOutcome:
    """Deliver one SQS batch; returns the outcome whose `response()` is the partial batch result."""
    now = deps.now()
    out = BatchOutcome()
    with gc_paused():
        planned = plan(records, deps, now)
    jobs = dedupe(planned, deps, out)
    results = send_all(jobs, deps, now)
    settle(records, planned, jobs, results, deps, now, out)
    roll_up(out, deps, now)
    return out


def roll_up(out: BatchOutcome, deps: Deps, now: datetime) -> None:
    """Add each integration's tally to its hourly rollup (best effort: delivery never fails for it)."""
    if deps.stats is None:
        return
    for integration_id, tally in out.by_integration.items():
        if deps.remaining_s is not None and deps.remaining_s() < AWS_CALL_S:
            # Finishing the invocation matters more: a timeout would redeliver the whole batch.
            deps.logger().warning("delivery stats skipped: the invocation is about to end")
            return
        try:
            deps.stats.add(integration_id, tally, at=now)
        except Exception as exc:  # the table fails for every integration alike: no second wait
            deps.logger().warning(
                "delivery stats not recorded", extra={"integration_id": integration_id, **error_fields(exc)}
            )
            return
