"""Phase 4, settle: every record ends in exactly one state per integration, and the outcome is counted.

Events still failing transiently go back to SQS unless they are about to cross the vendor's age limit
(parked `expired`) or this was their last receive (parked `retries_exhausted`, or the reason send gave:
`transport`, `unconfirmed`, `unavailable`), so no record reaches the DLQ without a reason. A record SQS will
redeliver is decided again then: parking or counting a skip now would do it twice. A park whose DLQ
send fails sends the record back to SQS too: nothing is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from relay.delivery.model import BatchOutcome, Deps, Job, JobResult, Pending, Plan
from relay.queue import DlqReason, Parked, SqsRecord
from relay.vendors import VENDORS

# Stop retrying an event this long before the vendor's age limit: the next SQS retry could cross it.
AGE_SAFETY_MARGIN = timedelta(hours=1)


def settle(
    records: Sequence[SqsRecord],
    planned: Plan,
    jobs: Sequence[Job],
    results: Sequence[JobResult],
    deps: Deps,
    now: datetime,
    out: BatchOutcome,
) -> BatchOutcome:
    """Merge the job results into `out`, park what must be parked and fill `out.failures`."""
    parked = list(planned.parked)
    failed = planned.failed
    for job, result in zip(jobs, results, strict=True):
        _count(job, result, out)
        integration_id = job.integration.id
        parked.extend(_park(item, reason, integration_id, detail) for item, reason, detail in result.parked)
        max_age = VENDORS[job.integration.vendor].MAX_EVENT_AGE
        for item, last_reason, last_detail in _back_to_sqs(result):
            age = now + AGE_SAFETY_MARGIN - datetime.fromtimestamp(item.event.event_time, UTC)
            if age >= max_age:
                parked.append(
                    _park(item, "expired", integration_id, "the age limit was reached while retrying")
                )
            elif item.record.receive_count >= deps.max_receive_count:
                parked.append(_park(item, last_reason, integration_id, last_detail))
            else:
                failed.add(item.record.message_id)
                out.tally(integration_id).retrying += 1
    to_park = [p for p in parked if p.record_id not in failed]
    not_parked = deps.dead_letters.park(to_park, remaining_s=deps.remaining_s) if to_park else set()
    # A park that was sent is in the DLQ: it is counted, whatever happened to the record's other parks.
    # A record with a park that failed goes back to SQS, so nothing is lost (its next receive may park an
    # integration's copy a second time: redriving both delivers once, the ledger sees to that).
    for n, park in enumerate(to_park):
        if n in not_parked:
            failed.add(park.record_id)
        else:
            out.dead_lettered[park.reason] += 1
            if park.integration_id is not None:
                out.tally(park.integration_id).dead_lettered[park.reason] += 1
    if not_parked:
        back = len({to_park[n].record_id for n in not_parked})
        deps.logger().error("DLQ send failed; the records go back to SQS", extra={"records": back})
    out.skipped.update(reason for record_id, reason in planned.skips if record_id not in failed)
    out.failures = [r.message_id for r in records if r.message_id in failed]
    return out


def _back_to_sqs(result: JobResult) -> list[tuple[Pending, DlqReason, str]]:
    """The job's items SQS should redeliver, each with its DLQ reason and detail for the last receive."""
    exhausted: DlqReason = "retries_exhausted"
    return [(item, exhausted, "transient errors persisted") for item in result.retry] + result.returned


def _count(job: Job, result: JobResult, out: BatchOutcome) -> None:
    out.graph_requests += result.requests
    out.version_errors += result.version_errors
    out.unconfirmed += result.unconfirmed
    for receipt in result.receipts:
        out.graph_latency_s.append(receipt.latency_s)
        out.batch_sizes.append(receipt.events_received)
        out.version_warnings += receipt.version_warning is not None
    out.delivered += len(result.delivered)
    tally = out.tally(job.integration.id)
    tally.delivered += len(result.delivered)
    keys = VENDORS[job.integration.vendor].MATCH_KEYS
    for item in result.delivered:
        user_data = item.event.payload.get("user_data", {})
        carried = [k for k in keys if k in user_data]
        out.match_keys.update(carried)
        tally.match_keys.update(carried)


def _park(item: Pending, reason: DlqReason, integration_id: str, detail: str) -> Parked:
    record = item.record
    return Parked(record.message_id, record.body, reason, integration_id, detail, record.attributes)
