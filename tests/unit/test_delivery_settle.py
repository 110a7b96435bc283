"""Phase 4, settle — and the whole batch: every record ends in exactly one state per integration."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from relay.delivery import deliver_batch
from relay.delivery.dedupe import dedupe
from relay.delivery.model import BatchOutcome, Deps, Job, JobResult, Plan
from relay.delivery.plan import plan
from relay.delivery.send import send_all
from relay.delivery.settle import settle
from relay.queue import SqsRecord
from tests.fakes import (
    FakeDeadLetters,
    FakeIntegrations,
    Fakes,
    FakeSender,
    lead,
    receipt,
    sqs_record,
    transient,
)
from tests.support import SAMPLE_NOW, integration, track

NOW = SAMPLE_NOW
# lead() events happen at 2026-11-26T12:00:00Z; settle gives up an hour before Meta's 7 days.
LAST_RETRY = datetime(2026, 12, 3, 11, 0, tzinfo=UTC)


def _phases(
    fakes: Fakes, records: list[SqsRecord], **deps: Any
) -> tuple[Deps, Plan, list[Job], BatchOutcome]:
    d = fakes.deps(**deps)
    planned = plan(records, d, NOW)
    out = BatchOutcome()
    return d, planned, dedupe(planned, d, out), out


def test_events_still_failing_transiently_go_back_to_sqs():
    # GIVEN two events whose sends failed transiently on their first receive
    fakes = Fakes()
    records = [lead(0), lead(1)]
    deps, planned, jobs, out = _phases(fakes, records)
    # WHEN settled
    settle(records, planned, jobs, [JobResult(retry=list(jobs[0].items))], deps, NOW, out)
    # THEN both are batch item failures and nothing is parked
    assert out.failures == ["m-0", "m-1"]
    assert out.response() == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}
    assert (fakes.dead_letters.calls, sum(out.dead_lettered.values())) == (0, 0)


def test_the_last_receive_parks_retries_exhausted():
    # GIVEN transient failures for an event on its last allowed receive and one on the receive before
    fakes = Fakes()
    records = [lead(1, receive_count=5), lead(2, receive_count=4)]
    deps, planned, jobs, out = _phases(fakes, records, max_receive_count=5)
    # WHEN settled
    settle(records, planned, jobs, [JobResult(retry=list(jobs[0].items))], deps, NOW, out)
    # THEN the first is parked retries_exhausted for int-1, the second goes back to SQS
    assert [(p.record_id, p.reason, p.integration_id, p.detail) for p in fakes.dead_letters.parked] == [
        ("m-1", "retries_exhausted", "int-1", "transient errors persisted")
    ]
    assert out.failures == ["m-2"]
    assert out.dead_lettered == Counter({"retries_exhausted": 1})


def test_an_event_about_to_cross_the_age_limit_is_parked_expired_instead_of_retried():
    # GIVEN transient failures for an event exactly 7 days - 1 h old and one a second younger
    fakes = Fakes()
    records = [
        lead(1),
        sqs_record(track("Lead Generated", messageId="m-2", timestamp="2026-11-26T12:00:01Z")),
    ]
    deps, planned, jobs, out = _phases(fakes, records)
    # WHEN settled at the last retry moment
    settle(records, planned, jobs, [JobResult(retry=list(jobs[0].items))], deps, LAST_RETRY, out)
    # THEN the older one is parked expired (the next retry would cross the limit), the other retried
    assert [(p.record_id, p.reason, p.detail) for p in fakes.dead_letters.parked] == [
        ("m-1", "expired", "the age limit was reached while retrying")
    ]
    assert out.failures == ["m-2"]


def test_a_park_whose_dlq_send_fails_goes_back_to_sqs_and_is_not_counted():
    # GIVEN two malformed bodies, and a DLQ that refuses one of them
    fakes = Fakes(dead_letters=FakeDeadLetters(fail={"r-bad"}))
    records = [sqs_record("{x", message_id="r-bad"), sqs_record("{y", message_id="r-ok")]
    deps, planned, jobs, out = _phases(fakes, records)
    # WHEN settled
    settle(records, planned, jobs, [], deps, NOW, out)
    # THEN the refused one is retried by SQS (nothing lost), the other counted as parked
    assert out.failures == ["r-bad"]
    assert out.dead_lettered == Counter({"malformed": 1})
    assert fakes.dead_letters.reasons() == [("r-ok", "malformed", None)]
    assert fakes.log.lines == [("error", "DLQ send failed; the records go back to SQS", {"records": 1})]


def test_skips_and_parks_of_a_record_sqs_will_redeliver_are_left_for_that_redelivery():
    # GIVEN int-1 disabled (a skip) and int-2 failing transiently for m-1; an identify call next to it
    second = integration().model_copy(update={"id": "int-2"})
    fakes = Fakes(integrations=FakeIntegrations({"src-1": [integration(enabled=False), second]}))
    identify = sqs_record({"type": "identify", "messageId": "m-id", "anonymousId": "a"})
    records = [lead(1), identify]
    deps, planned, jobs, out = _phases(fakes, records)
    # WHEN settled
    settle(records, planned, jobs, [JobResult(retry=list(jobs[0].items))], deps, NOW, out)
    # THEN m-1's skip is not counted now (it is decided again on redelivery); the identify call's
    # two skips (int-1 disabled, int-2 no vendor event) are
    assert out.failures == ["m-1"]
    assert out.skipped == Counter({"disabled": 1, "identify": 1})


def test_a_park_for_one_integration_waits_while_another_retries_the_record():
    # GIVEN m-1 refused as invalid by int-1 and failing transiently for int-2 (another pixel)
    second = integration(pixel_id="2222").model_copy(update={"id": "int-2"})
    fakes = Fakes(integrations=FakeIntegrations({"src-1": [integration(), second]}))
    records = [lead(1)]
    deps, planned, jobs, out = _phases(fakes, records)
    [one, two] = jobs
    results = [JobResult(parked=[(one.items[0], "invalid", "http 400")]), JobResult(retry=list(two.items))]
    # WHEN settled
    settle(records, planned, jobs, results, deps, NOW, out)
    # THEN the record goes back to SQS without a DLQ message (the redelivery decides both again)
    assert out.failures == ["m-1"]
    assert (fakes.dead_letters.parked, out.dead_lettered) == ([], Counter())


def test_counts_of_calls_receipts_and_match_keys():
    # GIVEN two events delivered in requests of one, the second answer carrying a version warning
    sender = FakeSender(
        default=lambda r: receipt(
            r, version_warning="v25.0 is deprecated" if r.events[0].message_id == "m-2" else None
        )
    )
    fakes = Fakes(sender=sender)
    records = [lead(1), lead(2)]
    deps, planned, jobs, out = _phases(fakes, records, max_events_per_request=1)
    results = send_all(jobs, deps, NOW)
    # WHEN settled
    settle(records, planned, jobs, results, deps, NOW, out)
    # THEN calls, sizes, latencies, warnings and the user_data keys of the delivered events are counted
    assert (out.delivered, out.graph_requests, out.batch_sizes) == (2, 2, [1, 1])
    assert (out.version_warnings, out.graph_latency_s) == (1, [0.01, 0.01])
    assert out.match_keys == Counter({"client_ip_address": 2, "client_user_agent": 2, "external_id": 2})
    assert out.failures == []


def test_every_accepted_record_ends_in_exactly_one_state():
    # GIVEN one integration and a batch with each kind of outcome, one event per request
    flaky = {"m-4", "m-5"}
    sender = FakeSender(
        poison={"m-3"},
        default=lambda r: transient(500) if r.events[0].message_id in flaky else receipt(r),
    )
    fakes = Fakes(sender=sender)
    records = [
        lead(1),  # delivered
        lead(2),  # delivered
        lead(3),  # invalid at Meta (isolated)
        lead(4),  # transient, first receive: back to SQS
        lead(5, receive_count=5),  # transient, last receive: retries_exhausted
        sqs_record({"type": "identify", "messageId": "m-6", "anonymousId": "a"}),  # skipped
        sqs_record("{broken", message_id="m-7"),  # malformed
        sqs_record(track("Lead Generated", messageId="m-8", timestamp="2026-11-10T12:00:00Z")),  # expired
        sqs_record(track("Lead Generated", messageId="m-9", context={"page": {"url": "https://a.example/"}})),
    ]
    # WHEN the batch is delivered
    out = deliver_batch(records, fakes.deps(max_events_per_request=1, max_receive_count=5))
    # THEN the states add up to the accepted records, and each is the one expected
    assert out.delivered == 2
    assert out.skipped == Counter({"identify": 1})
    assert out.dead_lettered == Counter({"invalid": 2, "retries_exhausted": 1, "malformed": 1, "expired": 1})
    assert out.failures == ["m-4"]
    assert len(records) == out.delivered + sum(out.skipped.values()) + sum(out.dead_lettered.values()) + len(
        out.failures
    )
    assert fakes.dead_letters.reasons() == [
        ("m-7", "malformed", None),
        ("m-8", "expired", "int-1"),
        ("m-9", "invalid", "int-1"),
        ("m-3", "invalid", "int-1"),
        ("m-5", "retries_exhausted", "int-1"),
    ]
    assert out.graph_requests == 2 + 1 + 3 + 3
    assert fakes.sleeps == [0.2, 0.4, 0.2, 0.4]
    assert sorted(k for keys, _ in fakes.ledger.writes for k in keys) == [
        "1234567890#Lead#m-1",
        "1234567890#Lead#m-2",
    ]


def test_a_park_that_was_sent_is_counted_even_when_another_park_of_its_record_failed():
    # GIVEN a record parked for two integrations (both unreadable) and a DLQ refusing int-2's message
    from relay.integrations import BrokenIntegration

    broken = [
        BrokenIntegration(id=ident, source_id="src-1", problem="config.pixel_id: Field required")
        for ident in ("int-1", "int-2")
    ]
    fakes = Fakes(
        integrations=FakeIntegrations({"src-1": broken}),
        dead_letters=FakeDeadLetters(fail=[("m-1", "int-2")]),
    )
    # WHEN the batch is delivered
    out = deliver_batch([lead(1)], fakes.deps())
    # THEN int-1's park is in the DLQ and counted, and the record goes back to SQS for int-2's (nothing lost)
    assert fakes.dead_letters.reasons() == [("m-1", "config", "int-1")]
    assert out.dead_lettered == Counter({"config": 1})
    assert out.failures == ["m-1"]
