"""Delivery under faults, with fakes: answers that are not Meta's, successes that count other than the
events sent, AWS dependencies that cannot be read, and the time budget of each call. On a record's last
receive every such failure parks it with a reason (nothing reaches the DLQ reasonless)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from relay.delivery import deliver_batch
from relay.delivery.dedupe import dedupe
from relay.delivery.model import BatchOutcome, Deps, Job
from relay.delivery.plan import plan
from relay.delivery.send import GRAPH_ATTEMPTS, LOCAL_WORK_S, send_job
from relay.ledger import LedgerUnavailable
from relay.queue import SqsRecord
from relay.vendors import VENDORS
from tests.fakes import (
    FakeIntegrations,
    FakeLedger,
    Fakes,
    FakeSender,
    FakeVault,
    lead,
    not_metas,
    receipt,
    sqs_record,
    transient,
)
from tests.support import SAMPLE_NOW, integration, track

NOW = SAMPLE_NOW
CAP_S = VENDORS["meta_capi"].CALL_TIMEOUT_S
MAX_RECEIVES = 5
PTE = "ProvisionedThroughputExceededException"


def _jobs(fakes: Fakes, n: int, **deps: Any) -> tuple[Deps, list[Job]]:
    d = fakes.deps(**deps)
    return d, dedupe(plan([lead(i) for i in range(n)], d, NOW), d, BatchOutcome())


def _returned(result) -> list[tuple[str, str, str]]:
    return [(p.record.message_id, reason, detail) for p, reason, detail in result.returned]


def _dlq(fakes: Fakes) -> list[tuple[str, str, str | None, str]]:
    return [(p.record_id, p.reason, p.integration_id, p.detail) for p in fakes.dead_letters.parked]


# ---- answers that are not Meta's -------------------------------------------------------------------


def test_an_answer_that_is_not_metas_is_retried_never_bisected_then_handed_back_as_transport():
    # GIVEN eight events and a vendor path answering every call with a redirect (not Meta's answer)
    fakes = Fakes(sender=FakeSender(default=lambda request: not_metas(302)))
    deps, jobs = _jobs(fakes, 8)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN exactly GRAPH_ATTEMPTS calls of all eight (no bisection: 2n-1 would be 15), with backoff;
    # every event goes back to SQS, to be parked `transport` should this be its last receive
    assert GRAPH_ATTEMPTS == 3
    assert fakes.sender.sizes == [8, 8, 8]
    assert fakes.sleeps == [0.2, 0.4]
    detail = "http 302, not a Graph answer: redirect not followed (text/html)"
    assert _returned(result) == [(f"m-{i}", "transport", detail) for i in range(8)]
    assert (result.retry, result.parked, result.delivered, result.requests) == ([], [], [], 3)
    assert [(len(r.event_ids), r.outcome, r.detail) for r in fakes.debugger.records] == [
        (8, "transport", detail)
    ]
    assert fakes.ledger.writes == []


def test_a_transport_error_then_a_success_delivers():
    # GIVEN a proxy page once, then Meta's success
    fakes = Fakes(sender=FakeSender([not_metas(403), None]))
    deps, jobs = _jobs(fakes, 4)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN the second call delivers all four
    assert (fakes.sender.sizes, fakes.sleeps) == ([4, 4], [0.2])
    assert [p.record.message_id for p in result.delivered] == ["m-0", "m-1", "m-2", "m-3"]
    assert result.returned == []


def test_a_persistent_transport_error_parks_transport_on_the_last_receive_and_retries_before():
    # GIVEN a vendor path always answering an HTML 404, two records on their 4th receive, one on its 5th
    fakes = Fakes(sender=FakeSender(default=lambda request: not_metas(404)))
    records = [lead(1, receive_count=4), lead(2, receive_count=MAX_RECEIVES), lead(3, receive_count=4)]
    # WHEN the batch is delivered
    out = deliver_batch(records, fakes.deps(max_receive_count=MAX_RECEIVES))
    # THEN one request, sent GRAPH_ATTEMPTS times; m-2 is parked `transport`, the others go back to SQS
    assert fakes.sender.sizes == [3] * GRAPH_ATTEMPTS
    detail = "http 404, not a Graph answer: no Graph error object (text/html)"
    assert _dlq(fakes) == [("m-2", "transport", "int-1", detail)]
    assert out.failures == ["m-1", "m-3"]
    assert (out.dead_lettered, out.delivered, out.graph_requests) == (Counter({"transport": 1}), 0, 3)


# ---- a success that counts other than the events sent -----------------------------------------------


def test_a_success_counting_fewer_events_delivers_nothing_and_hands_every_event_back():
    # GIVEN fifteen events and a 200 that says events_received: 0
    fakes = Fakes(sender=FakeSender(default=lambda request: receipt(request, events_received=0)))
    deps, jobs = _jobs(fakes, 15)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN one call; nothing recorded in the ledger or counted delivered; all fifteen go back to SQS
    # (parked `unconfirmed` on their last receive); a warning gives both counts
    assert fakes.sender.sizes == [15]
    assert (result.delivered, fakes.ledger.writes) == ([], [])
    detail = "vendor confirmed 0 of 15 events, fbtrace trace-ok"
    assert _returned(result) == [(f"m-{i}", "unconfirmed", detail) for i in range(15)]
    assert result.unconfirmed == 15
    assert fakes.log.lines == [
        (
            "warning",
            "vendor confirmed a different number of events than were sent; the records go back to SQS",
            {"integration_id": "int-1", "sent": 15, "events_received": 0, "fbtrace_id": "trace-ok"},
        )
    ]
    assert [(r.outcome, r.detail) for r in fakes.debugger.records] == [("unconfirmed", detail)]


def test_a_success_counting_more_events_than_sent_is_unconfirmed_too():
    # GIVEN two events and a 200 that says events_received: 3
    fakes = Fakes(sender=FakeSender(default=lambda request: receipt(request, events_received=3)))
    deps, jobs = _jobs(fakes, 2)
    # WHEN sent / THEN not delivered, both handed back
    result = send_job(jobs[0], deps, NOW)
    assert [r for _, r, _ in _returned(result)] == ["unconfirmed", "unconfirmed"]
    assert (result.delivered, result.unconfirmed) == ([], 2)


def test_unconfirmed_events_are_counted_and_parked_unconfirmed_on_their_last_receive():
    # GIVEN Meta answering events_received 0 on every call, one record on its last receive, one before
    fakes = Fakes(sender=FakeSender(default=lambda request: receipt(request, events_received=0)))
    records = [lead(1, receive_count=MAX_RECEIVES), lead(2, receive_count=1)]
    # WHEN the batch is delivered
    out = deliver_batch(records, fakes.deps(max_receive_count=MAX_RECEIVES))
    # THEN m-1 is parked `unconfirmed`, m-2 goes back to SQS; both counted unconfirmed, none delivered
    assert _dlq(fakes) == [
        ("m-1", "unconfirmed", "int-1", "vendor confirmed 0 of 2 events, fbtrace trace-ok")
    ]
    assert out.failures == ["m-2"]
    assert (out.delivered, out.unconfirmed, out.graph_requests) == (0, 2, 1)
    assert fakes.ledger.writes == []


# ---- AWS dependencies that cannot be read ----------------------------------------------------------


def _from_source(n: int, source_id: str, receive_count: int) -> SqsRecord:
    raw = track("Lead Generated", messageId=f"m-{n}")
    raw["context"]["source_id"] = source_id
    return sqs_record(raw, receive_count=receive_count)


def test_an_integrations_lookup_failing_on_the_last_receive_parks_unavailable_and_before_retries():
    # GIVEN a source whose integrations query always fails; records on their 1st, 4th and 5th receive
    fakes = Fakes(integrations=FakeIntegrations(failing={"src-2"}))
    records = [
        _from_source(1, "src-2", 1),
        _from_source(2, "src-2", 4),
        _from_source(3, "src-2", MAX_RECEIVES),
    ]
    # WHEN the batch is delivered
    out = deliver_batch(records, fakes.deps(max_receive_count=MAX_RECEIVES))
    # THEN m-3 is parked `unavailable` naming what failed and the code; m-1 and m-2 go back to SQS
    detail = f"integrations unreadable ({PTE})"
    assert _dlq(fakes) == [("m-3", "unavailable", None, detail)]
    assert out.failures == ["m-1", "m-2"]
    assert out.dead_lettered == Counter({"unavailable": 1})
    assert fakes.integrations.calls == {"src-2": 1}
    assert fakes.log.lines == [
        (
            "warning",
            "integrations unreadable; the source's records go back to SQS",
            {"source_id": "src-2", "error": "FakeAwsError", "code": PTE},
        )
    ]


def test_a_ledger_that_cannot_be_read_on_the_last_receive_parks_unavailable_per_integration():
    # GIVEN two integrations of the source, a ledger whose reads end in LedgerUnavailable, and records
    # on their last receive (m-1) and before it (m-2)
    second = integration(pixel_id="2222").model_copy(update={"id": "int-2"})
    fakes = Fakes(
        integrations=FakeIntegrations({"src-1": [integration(), second]}),
        ledger=FakeLedger(read_error=LedgerUnavailable("ledger: keys still unprocessed after 5 reads")),
    )
    records = [lead(1, receive_count=MAX_RECEIVES), lead(2, receive_count=2)]
    # WHEN the batch is delivered
    out = deliver_batch(records, fakes.deps(max_receive_count=MAX_RECEIVES))
    # THEN nothing is sent blind; m-1 is parked `unavailable` once per integration, m-2 goes back
    assert fakes.sender.calls == []
    detail = "ledger unreadable (LedgerUnavailable)"
    assert _dlq(fakes) == [("m-1", "unavailable", "int-1", detail), ("m-1", "unavailable", "int-2", detail)]
    assert out.failures == ["m-2"]
    assert out.dead_lettered == Counter({"unavailable": 2})
    assert fakes.log.lines == [
        (
            "warning",
            "ledger unreadable; the batch's mapped records go back to SQS",
            {"records": 4, "error": "LedgerUnavailable", "code": None},
        )
    ]


def test_a_ledger_read_error_logs_dynamodbs_code():
    # GIVEN a ledger read failing with a throttling ClientError-like error, before the last receive
    fakes = Fakes(ledger=FakeLedger(fail_reads=True))
    # WHEN the batch is delivered
    out = deliver_batch([lead(1, receive_count=1)], fakes.deps(max_receive_count=MAX_RECEIVES))
    # THEN it goes back to SQS; the warning carries the class and DynamoDB's code
    assert (out.failures, fakes.dead_letters.parked) == (["m-1"], [])
    assert fakes.log.lines[0][2] == {"records": 1, "error": "FakeAwsError", "code": PTE}


def test_a_token_that_cannot_be_read_on_the_last_receive_parks_unavailable():
    # GIVEN Secrets Manager throttled for int-1; records on their last receive (m-1) and before (m-2)
    fakes = Fakes(vault=FakeVault(unavailable={"int-1"}))
    records = [lead(1, receive_count=MAX_RECEIVES), lead(2, receive_count=3)]
    # WHEN the batch is delivered
    out = deliver_batch(records, fakes.deps(max_receive_count=MAX_RECEIVES))
    # THEN no call; m-1 parked `unavailable` naming the token and the code; m-2 back to SQS
    assert fakes.sender.calls == []
    assert _dlq(fakes) == [("m-1", "unavailable", "int-1", "token secret unreadable (ThrottlingException)")]
    assert out.failures == ["m-2"]


# ---- the time budget of each call ------------------------------------------------------------------


def test_each_call_gets_the_vendors_cap_as_its_budget_when_the_invocation_has_time():
    # GIVEN a minute left and a vendor failing once transiently
    fakes = Fakes(sender=FakeSender([transient(503), None]))
    deps, jobs = _jobs(fakes, 2, remaining_s=lambda: 60.0)
    # WHEN sent
    send_job(jobs[0], deps, NOW)
    # THEN both calls were given the vendor's per-call cap
    assert [c.budget_s for c in fakes.sender.calls] == [CAP_S, CAP_S]
    assert CAP_S == 13.0


def test_a_calls_budget_never_exceeds_the_time_left_minus_the_local_work_margin():
    # GIVEN a clock that reads 100 s when the call is decided and 15 s when its budget is computed
    left = iter([100.0, 15.0])
    fakes = Fakes()
    deps, jobs = _jobs(fakes, 1, remaining_s=lambda: next(left))
    # WHEN sent
    send_job(jobs[0], deps, NOW)
    # THEN the budget is what is left minus LOCAL_WORK_S
    assert [c.budget_s for c in fakes.sender.calls] == [15.0 - LOCAL_WORK_S]


def test_no_retry_waits_when_the_backoff_would_leave_no_time_for_the_call():
    # GIVEN time left for one call now, but not after the 0.2 s backoff before the next
    just = CAP_S + LOCAL_WORK_S + 0.1
    fakes = Fakes(sender=FakeSender(default=lambda request: not_metas(502)))
    deps, jobs = _jobs(fakes, 1, remaining_s=lambda: just)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN one call, no sleep, the event handed back with the transport reason
    assert (fakes.sender.sizes, fakes.sleeps) == ([1], [])
    assert [r for _, r, _ in _returned(result)] == ["transport"]


def test_unconfirmed_events_are_a_metric_and_a_summary_count():
    # GIVEN a batch outcome with 15 unconfirmed events
    from aws_lambda_powertools import Metrics

    from relay.delivery.report import publish

    metrics = Metrics()
    # WHEN published
    summary = publish(BatchOutcome(unconfirmed=15), metrics)
    emf = dict(metrics.serialize_metric_set())
    metrics.clear_metrics()
    # THEN the Unconfirmed metric and the logged summary both say 15
    assert emf["Unconfirmed"] == [15.0]
    assert summary["unconfirmed"] == 15
