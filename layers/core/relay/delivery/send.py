"""Phase 3, send: each integration's fresh events in ≤ 1,000-event requests, classified by the answer.

Transient errors, and answers that are not the vendor's (TRANSPORT: a redirect, a proxy's HTML page),
are retried with jittered backoff while the invocation has time; an invalid-data answer for several
events is bisected down to the offending ones; a refused token parks the integration's events (and is
invalidated in the vault, so a fixed token is read at once). A success that counts other than the events
sent delivers nothing (see `_unconfirmed`). Each call gets a total time budget: the vendor's per-call cap,
never more than the invocation has left minus LOCAL_WORK_S. Jobs for different integrations run
concurrently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relay.aws import AWS_ATTEMPT_S, error_fields
from relay.delivery.model import Deps, Job, JobResult, Pending
from relay.integrations import Integration
from relay.outbound import ErrorKind, Receipt, SendError
from relay.secrets import MissingToken
from relay.vendors import VENDORS

# In-invocation retries of a transient error before handing the records back to SQS.
GRAPH_ATTEMPTS = 3
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 2.0
MAX_PARALLEL_INTEGRATIONS = 8
# A call's own time (its total deadline, at most the vendor's CALL_TIMEOUT_S) plus this, for the ledger
# write and the DLQ sends (one AWS attempt each), must fit in what is left of the invocation.
LOCAL_WORK_S = 2.0 * AWS_ATTEMPT_S


def send_all(jobs: list[Job], deps: Deps, now: datetime) -> list[JobResult]:
    """Send every job (concurrently, one thread per integration up to MAX_PARALLEL_INTEGRATIONS)."""
    if not jobs:
        return []
    if len(jobs) == 1:
        return [_guarded(jobs[0], deps, now)]
    from concurrent.futures import ThreadPoolExecutor  # only a batch for several integrations needs threads

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_INTEGRATIONS, len(jobs))) as pool:
        return list(pool.map(lambda job: _guarded(job, deps, now), jobs))


def _guarded(job: Job, deps: Deps, now: datetime) -> JobResult:
    """send_job, with a defect confined to its integration: what it settled before the defect stands
    (delivered events stay delivered), the rest goes back to SQS (parked `retries_exhausted` with the
    error class on its last receive), and the other integrations' results stand."""
    result = JobResult()
    try:
        return send_job(job, deps, now, result=result)
    except Exception as exc:
        error = type(exc).__name__
        deps.logger().error(
            "unexpected error while sending; the integration's unsettled records go back to SQS",
            extra={"integration_id": job.integration.id, "error": error},
        )
        settled = {id(i) for i in (*result.delivered, *result.retry)}
        settled.update(id(i) for i, _, _ in (*result.parked, *result.returned))
        detail = f"sending failed ({error})"
        result.returned.extend((i, "retries_exhausted", detail) for i in job.items if id(i) not in settled)
        return result


def send_job(job: Job, deps: Deps, now: datetime, *, result: JobResult | None = None) -> JobResult:
    """Send one integration's events into `result` (a new one by default); never raises for the vendor's
    or AWS's trouble (a defect is confined by the caller, see `_guarded`)."""
    result = JobResult() if result is None else result
    integration, items = job.integration, job.items
    try:
        token = deps.tokens.get(integration.id)
    except MissingToken as exc:
        deps.logger().warning(
            "token missing; the integration's events are parked (auth)",
            extra={"integration_id": integration.id, **error_fields(exc)},
        )
        result.parked.extend((item, "auth", str(exc)) for item in items)
        return result
    except Exception as exc:
        fields = error_fields(exc)
        deps.logger().warning(
            "token unavailable; the integration's records go back to SQS",
            extra={"integration_id": integration.id, **fields},
        )
        detail = f"token secret unreadable ({fields['code'] or fields['error']})"
        result.returned.extend((item, "unavailable", detail) for item in items)
        return result
    vendor = VENDORS[integration.vendor]
    by_event = {id(item.event): item for item in items}
    requests, _ = vendor.build_requests(
        [i.event for i in items], integration, max_events=deps.max_events_per_request
    )
    in_requests = {id(e) for r in requests for e in r.events}
    for item in items:
        if id(item.event) not in in_requests:
            result.parked.append(
                (item, "invalid", "event: over the request byte cap, or not serialisable as JSON")
            )
    for request in requests:
        of_request = [by_event[id(e)] for e in request.events]
        if result.refused is not None:  # the token was refused: the rest of this batch would be too
            result.parked.extend((item, "auth", result.refused) for item in of_request)
        elif not time_for_a_call(deps, integration):  # leave before Lambda's timeout: SQS redelivers the rest
            result.retry.extend(of_request)
        else:
            _send(request, of_request, integration, token, deps, now, result)
    return result


def _send(
    request: Any,
    items: list[Pending],
    integration: Integration,
    token: str,
    deps: Deps,
    now: datetime,
    result: JobResult,
) -> None:
    reread = False
    for attempt in range(GRAPH_ATTEMPTS):
        result.requests += 1
        try:
            receipt = deps.sender.send(request, token=token, budget_s=call_budget(deps, integration))
        except SendError as error:
            if error.kind is ErrorKind.AUTH:
                # Once per request: the token may have been fixed since it was cached (a PATCH then a
                # redrive); a different stored token is tried at once instead of parking the events again.
                fresh = None if reread else _changed_token(deps, integration, token)
                reread = True
                if fresh is not None and time_for_a_call(deps, integration):
                    token = fresh
                    continue
                _refused(error, items, integration, deps, result)
                return
            if error.kind is ErrorKind.INVALID:
                _invalid(error, items, integration, token, deps, now, result)
                return
            # RETRY or TRANSPORT: the same request may succeed; a TRANSPORT answer says nothing about the
            # events, so it is never bisected.
            cap = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)
            delay = cap / 2 + deps.rng.uniform(0, cap / 2)
            if attempt + 1 < GRAPH_ATTEMPTS and time_for_a_call(deps, integration, after_s=delay):
                deps.sleep(delay)
                continue
            _debug(deps, integration, items, error.kind.value, error.summary(), error.fbtrace_id)
            if error.kind is ErrorKind.TRANSPORT:
                result.returned.extend((item, "transport", error.summary()) for item in items)
            else:
                result.retry.extend(items)
            return
        _accepted(receipt, items, integration, deps, now, result)
        return


def _changed_token(deps: Deps, integration: Integration, used: str) -> str | None:
    """The stored token read afresh when it is not `used`, else None (also when it cannot be read)."""
    deps.tokens.invalidate(integration.id)
    try:
        fresh = deps.tokens.get(integration.id)
    except Exception:  # MissingToken, TokenUnavailable: the refusal stands; the next batch reads again
        return None
    return fresh if fresh != used else None


def _refused(
    error: SendError, items: list[Pending], integration: Integration, deps: Deps, result: JobResult
) -> None:
    reason = "version" if error.version_refused else "auth"
    result.version_errors += error.version_refused
    result.refused = f"{reason}: {error.summary()}"
    result.parked.extend((item, "auth", result.refused) for item in items)
    # No invalidate here: `_changed_token` has just read the stored token into the cache, so a token
    # fixed later is found by the next refusal's re-read.
    _debug(deps, integration, items, "auth", error.summary(), error.fbtrace_id)


def _invalid(
    error: SendError,
    items: list[Pending],
    integration: Integration,
    token: str,
    deps: Deps,
    now: datetime,
    result: JobResult,
) -> None:
    if len(items) == 1:  # bisection reached the offending event
        _debug(deps, integration, items, "invalid", error.summary(), error.fbtrace_id)
        result.parked.append((items[0], "invalid", error.summary()))
        return
    vendor = VENDORS[integration.vendor]
    half = len(items) // 2
    for part in (items[:half], items[half:]):
        if result.refused is not None:  # the token was refused meanwhile: the other half would be too
            result.parked.extend((item, "auth", result.refused) for item in part)
            continue
        if not time_for_a_call(deps, integration):  # leave before Lambda's timeout: SQS redelivers it
            result.retry.extend(part)
            continue
        sub, _ = vendor.build_requests([i.event for i in part], integration)
        _send(sub[0], part, integration, token, deps, now, result)


def _accepted(
    receipt: Receipt,
    items: list[Pending],
    integration: Integration,
    deps: Deps,
    now: datetime,
    result: JobResult,
) -> None:
    if receipt.events_received != len(items):
        # Not a receipt of these events: its count must not reach the GraphBatchSize metric.
        _unconfirmed(receipt, items, integration, deps, result)
        return
    result.receipts.append(receipt)
    # Record before anything else can fail: a crash after this line never resends these events.
    # A failed ledger write still counts as delivered; only a redelivery of these records could resend.
    try:
        deps.ledger.record(
            (i.key for i in items),
            now=now,
            record_of={i.key: i.record.message_id for i in items},
            remaining_s=deps.remaining_s,
        )
    except Exception as exc:
        deps.logger().error(
            "ledger write failed after the vendor accepted the events (a redelivery could resend them)",
            extra={"integration_id": integration.id, "events": len(items), **error_fields(exc)},
        )
    result.delivered.extend(items)
    if integration.debugging(now):
        _debug(deps, integration, items, "delivered", f"fbtrace {receipt.fbtrace_id}", receipt.fbtrace_id)


def _unconfirmed(
    receipt: Receipt, items: list[Pending], integration: Integration, deps: Deps, result: JobResult
) -> None:
    """A success whose events_received is not the number of events sent: nothing is delivered.

    Either Meta accepted fewer (or more) events than were sent, and which ones is unknown, or the answer is
    not Meta's at all. So none is recorded in the ledger: every record goes back to SQS and is sent again,
    which is safe because Meta deduplicates events on event_id + event_name for 48 hours (an event it did
    accept is dropped there). Parked `unconfirmed` if it persists through the last receive.
    """
    detail = f"vendor confirmed {receipt.events_received} of {len(items)} events"
    if receipt.fbtrace_id:
        detail += f", fbtrace {receipt.fbtrace_id}"
    deps.logger().warning(
        "vendor confirmed a different number of events than were sent; the records go back to SQS",
        extra={
            "integration_id": integration.id,
            "sent": len(items),
            "events_received": receipt.events_received,
            "fbtrace_id": receipt.fbtrace_id,
        },
    )
    result.unconfirmed += len(items)
    result.returned.extend((item, "unconfirmed", detail) for item in items)
    _debug(deps, integration, items, "unconfirmed", detail, receipt.fbtrace_id)


def call_budget(deps: Deps, integration: Integration) -> float:
    """Seconds one vendor call may take in total: the vendor's cap (CALL_TIMEOUT_S), never more than
    the invocation has left after LOCAL_WORK_S (the ledger write and the DLQ sends that follow)."""
    cap = VENDORS[integration.vendor].CALL_TIMEOUT_S
    if deps.remaining_s is None:
        return cap
    return max(0.0, min(cap, deps.remaining_s() - LOCAL_WORK_S))


def time_for_a_call(deps: Deps, integration: Integration, *, after_s: float = 0.0) -> bool:
    """True when a whole call (its cap) and LOCAL_WORK_S still fit in the invocation `after_s` from now."""
    if deps.remaining_s is None:
        return True
    return deps.remaining_s() - after_s > VENDORS[integration.vendor].CALL_TIMEOUT_S + LOCAL_WORK_S


def _debug(
    deps: Deps,
    integration: Integration,
    items: list[Pending],
    outcome: str,
    detail: str,
    fbtrace_id: str | None = None,
) -> None:
    if deps.debugger is None:
        return
    try:
        deps.debugger.record(integration, [i.event for i in items], outcome, detail, fbtrace_id=fbtrace_id)
    except Exception as exc:  # the debugger is best-effort; delivery never fails because of it
        deps.logger().warning(
            "debugger record failed", extra={"integration_id": integration.id, **error_fields(exc)}
        )
