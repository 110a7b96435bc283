"""Delivery under faults, end to end in-process: moto queues / tables / secrets from template.yaml, the
real GraphClient against the Graph emulator, the events queue drained until empty (redeliveries
included). Every failure that outlasts the receives SQS allows is parked WITH a reason: the DLQ never
gets a reasonless message from an error Relay saw."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

import relay.local.stack
from relay.apps.deliver import build_deps
from relay.delivery import deliver_batch
from relay.delivery.send import GRAPH_ATTEMPTS
from relay.ledger import READ_ATTEMPTS, Ledger, LedgerUnavailable
from relay.local.graph import Fault, GraphEmulator
from relay.local.runner import THROWAWAY_TOKEN
from relay.local.stack import LocalStack, Totals
from relay.queue import OUT_OF_TIME, DeadLetters, Entry, Parked, delete, release, send_batched
from relay.vendors.meta_capi.client import GraphClient
from tests.fakes import FakeLog, WrappedClient, client_error
from tests.support import recent_lead as lead

PIXEL = "1234567890"
NOW = datetime.now(UTC)
EVENTS = 5
ALWAYS = 10_000


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with GraphEmulator(access_tokens={PIXEL: THROWAWAY_TOKEN}, trickle_interval_s=0.2) as emulator:
        yield emulator


def _deps(local: LocalStack, settings: Any, **clients: Any) -> Any:
    """Delivery's Deps over the stack's (or the given, wrapped) clients; no backoff sleeps, a fake log."""
    chosen = {"dynamodb": local.dynamodb, "sqs": local.sqs, "secretsmanager": local.secretsmanager, **clients}
    deps = build_deps(settings, clients=lambda service: chosen[service])
    deps.default_source = "local"
    deps.sleep = lambda seconds: None
    deps.log = FakeLog()
    return deps


def _drain(local: LocalStack, deps: Any, count: int = EVENTS) -> Totals:
    totals = Totals(accepted=local.enqueue([lead(i) for i in range(count)], local.events_queue_url))
    local.drain(local.events_queue_url, deps, totals)
    return totals


def _dlq(local: LocalStack) -> list[tuple[str, str, str | None, str]]:
    """(messageId of the event, reason, integration_id, detail) of every DLQ message, sorted."""
    found = []
    for message in local.queue_messages(local.dlq_url):
        attributes = message.get("MessageAttributes") or {}

        def value(name: str, attributes: dict[str, Any] = attributes) -> str | None:
            return attributes[name]["StringValue"] if name in attributes else None

        reason = value("reason")
        assert reason is not None, "a message reached the DLQ without a reason"
        found.append(
            (json.loads(message["Body"])["messageId"], reason, value("integration_id"), value("detail") or "")
        )
    return sorted(found)


# ---- answers that are not Meta's -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "what"),
    [
        ("redirect_302", 302, "redirect not followed"),
        ("html_403", 403, "no Graph error object"),
        ("html_404", 404, "no Graph error object"),
        ("html_502", 502, "no Graph error object"),
        ("html_200", 200, "no events_received in a success"),
    ],
)
def test_a_proxy_answer_is_retried_never_bisected_and_parked_transport_on_the_last_receive(
    stack, graph, kind, status, what
):
    # GIVEN something in front of Meta answering every call with a redirect or an HTML page
    local, settings = stack
    graph.inject(Fault(kind, times=ALWAYS))
    deps = _deps(local, settings)
    # WHEN five events flow through the queue until it is empty
    totals = _drain(local, deps)
    # THEN each receive sent the one 5-event request exactly GRAPH_ATTEMPTS times (bisection would have
    # made 2n-1 = 9 calls, down to single events), for all MaxReceiveCount receives
    assert [r.event_count for r in graph.requests] == [EVENTS] * (GRAPH_ATTEMPTS * deps.max_receive_count)
    assert totals.graph_requests == GRAPH_ATTEMPTS * deps.max_receive_count == 15
    # AND every event is parked `transport` (none `invalid`), none delivered, nothing accepted
    detail = f"http {status}, not a Graph answer: {what} (text/html)"
    assert _dlq(local) == [(f"m-{i}", "transport", "local-meta", detail) for i in range(EVENTS)]
    assert (totals.delivered, dict(totals.dead_lettered)) == (0, {"transport": EVENTS})
    assert graph.accepted == []


def test_a_redirect_never_carries_the_token_to_its_location(stack, graph):
    # GIVEN a redirect to another loopback server that records whatever reaches it
    local, settings = stack
    with GraphEmulator() as elsewhere:
        graph.redirect_location = f"{elsewhere.url}/v25.0/{PIXEL}/events"
        graph.inject(Fault("redirect_302", times=ALWAYS))
        # WHEN one event is delivered until it is parked
        totals = _drain(local, _deps(local, settings), count=1)
        # THEN the redirect target never got a request (so never the Authorization header)
        assert elsewhere.requests == []
    assert dict(totals.dead_lettered) == {"transport": 1}


# ---- a trickled answer -----------------------------------------------------------------------------


def test_an_answer_trickled_forever_ends_each_call_at_its_deadline(stack, graph):
    # GIVEN Meta's 200 trickled one byte every 0.2 s forever, and calls capped at 1 s
    local, settings = stack
    graph.inject(Fault("trickle", times=ALWAYS))
    deps = _deps(local, settings)
    deps.sender = GraphClient(graph.url, call_timeout=1.0)
    local.enqueue([lead(1)], local.events_queue_url)
    records = local.receive_records(local.events_queue_url)
    # WHEN the batch is delivered
    started = time.monotonic()
    outcome = deliver_batch(records, deps)
    elapsed = time.monotonic() - started
    # THEN GRAPH_ATTEMPTS calls of about 1 s each, then the record goes back to SQS (retryable)
    assert len(graph.requests) == GRAPH_ATTEMPTS
    assert GRAPH_ATTEMPTS * 1.0 <= elapsed < GRAPH_ATTEMPTS * 1.0 + 1.0
    assert outcome.failures == [records[0].message_id]
    assert (outcome.delivered, sum(outcome.dead_lettered.values())) == (0, 0)


# ---- a success that counts fewer events ------------------------------------------------------------


def test_a_success_counting_no_event_is_not_delivered_and_ends_unconfirmed(stack, graph):
    # GIVEN Meta answering 200 with events_received: 0 to every call
    local, settings = stack
    graph.inject(Fault("received_none", times=ALWAYS))
    deps = _deps(local, settings)
    # WHEN five events flow through the queue until it is empty
    totals = _drain(local, deps)
    # THEN one call per receive (no in-invocation retry), nothing counted delivered or in the ledger,
    # every event parked `unconfirmed` with both counts
    assert [r.event_count for r in graph.requests] == [EVENTS] * deps.max_receive_count
    assert totals.delivered == 0
    assert local.dynamodb.scan(TableName=settings.ledger_table)["Items"] == []
    parked = _dlq(local)
    assert [(m, r) for m, r, _, _ in parked] == [(f"m-{i}", "unconfirmed") for i in range(EVENTS)]
    assert all(d.startswith("vendor confirmed 0 of 5 events, fbtrace ") for _, _, _, d in parked)
    warnings = [extra for level, _, extra in deps.log.lines if level == "warning" and "sent" in extra]
    assert [(w["sent"], w["events_received"]) for w in warnings] == [(EVENTS, 0)] * deps.max_receive_count


# ---- AWS dependencies that cannot be read ----------------------------------------------------------


def test_a_ledger_answering_unprocessed_keys_forever_sends_nothing_and_ends_unavailable(stack, graph):
    # GIVEN a LedgerTable whose BatchGetItem processes no key, ever
    local, settings = stack

    def nothing_processed(call, kwargs):
        return {"Responses": {}, "UnprocessedKeys": kwargs["RequestItems"]}

    dynamodb = WrappedClient(local.dynamodb, batch_get_item=nothing_processed)
    deps = _deps(local, settings, dynamodb=dynamodb)
    deps.ledger = Ledger(dynamodb, settings.ledger_table, sleep=lambda seconds: None)
    # WHEN five events flow through the queue until it is empty
    totals = _drain(local, deps)
    # THEN each receive made READ_ATTEMPTS reads then gave up: Meta never called (sending blind could
    # duplicate); on the last receive every event is parked `unavailable`
    ledger_reads = [
        r for r in dynamodb.requests("batch_get_item") if settings.ledger_table in r["RequestItems"]
    ]
    assert len(ledger_reads) == READ_ATTEMPTS * deps.max_receive_count == 25
    assert graph.requests == []
    assert _dlq(local) == [
        (f"m-{i}", "unavailable", "local-meta", "ledger unreadable (LedgerUnavailable)")
        for i in range(EVENTS)
    ]
    assert dict(totals.dead_lettered) == {"unavailable": EVENTS}


def test_an_integrations_query_that_always_fails_goes_back_to_sqs_then_ends_unavailable(
    stack, graph, monkeypatch
):
    # GIVEN an IntegrationsTable whose Query is always throttled
    local, settings = stack

    def throttled(call, kwargs):
        raise client_error("ProvisionedThroughputExceededException", "Query")

    dynamodb = WrappedClient(local.dynamodb, query=throttled)
    deps = _deps(local, settings, dynamodb=dynamodb)
    receives: Counter[int] = Counter()
    real = deliver_batch

    def counting(records, d):
        outcome = real(records, d)
        receives.update(r.receive_count for r in records if r.message_id in outcome.failures)
        return outcome

    monkeypatch.setattr(relay.local.stack, "deliver_batch", counting)
    # WHEN five events flow through the queue until it is empty
    totals = _drain(local, deps)
    # THEN on receives 1-4 every record went back to SQS; on the 5th each is parked `unavailable`
    # naming the integrations and DynamoDB's code; a warning with that code for each receive
    assert receives == {1: EVENTS, 2: EVENTS, 3: EVENTS, 4: EVENTS}
    detail = "integrations unreadable (ProvisionedThroughputExceededException)"
    assert _dlq(local) == [(f"m-{i}", "unavailable", None, detail) for i in range(EVENTS)]
    assert dict(totals.dead_lettered) == {"unavailable": EVENTS}
    assert graph.requests == []
    assert (
        deps.log.lines
        == [
            (
                "warning",
                "integrations unreadable; the source's records go back to SQS",
                {
                    "source_id": "local",
                    "error": "ClientError",
                    "code": "ProvisionedThroughputExceededException",
                },
            )
        ]
        * deps.max_receive_count
    )


def test_a_throttled_token_secret_is_logged_with_its_code_and_ends_unavailable(stack, graph):
    # GIVEN Secrets Manager throttling every GetSecretValue
    local, settings = stack

    def throttled(call, kwargs):
        raise client_error("ThrottlingException", "GetSecretValue")

    deps = _deps(
        local, settings, secretsmanager=WrappedClient(local.secretsmanager, get_secret_value=throttled)
    )
    # WHEN five events flow through the queue until it is empty
    totals = _drain(local, deps)
    # THEN Meta is never called; one warning per receive with the code (never the token or its name);
    # on the last receive each event is parked `unavailable` naming the token
    assert graph.requests == []
    assert (
        deps.log.lines
        == [
            (
                "warning",
                "token unavailable; the integration's records go back to SQS",
                {"integration_id": "local-meta", "error": "TokenUnavailable", "code": "ThrottlingException"},
            )
        ]
        * deps.max_receive_count
    )
    detail = "token secret unreadable (ThrottlingException)"
    assert _dlq(local) == [(f"m-{i}", "unavailable", "local-meta", detail) for i in range(EVENTS)]
    assert dict(totals.dead_lettered) == {"unavailable": EVENTS}


# ---- the retry loops' caps and time checks, one by one ---------------------------------------------

LEDGER = "LedgerTable"
KEYS = [f"{PIXEL}#Lead#m-{i}" for i in range(3)]


def test_ledger_reads_stop_after_read_attempts_rounds_of_unprocessed_keys(local):
    # GIVEN a BatchGetItem that never processes a key
    spy = WrappedClient(
        local.dynamodb, batch_get_item=lambda call, kwargs: {"UnprocessedKeys": kwargs["RequestItems"]}
    )
    sleeps: list[float] = []
    ledger = Ledger(spy, LEDGER, sleep=sleeps.append)
    # WHEN three keys are looked up / THEN LedgerUnavailable after READ_ATTEMPTS calls, capped backoff
    with pytest.raises(LedgerUnavailable, match="keys still unprocessed after 5 reads"):
        ledger.delivered(KEYS)
    assert len(spy.requests("batch_get_item")) == READ_ATTEMPTS == 5
    assert sleeps == [0.05, 0.1, 0.2, 0.4]


def test_ledger_reads_wait_for_no_round_the_invocation_has_no_time_for(local):
    # GIVEN unprocessed keys and 1.0 s left (a round needs TIME_MARGIN_S after its wait)
    spy = WrappedClient(
        local.dynamodb, batch_get_item=lambda call, kwargs: {"UnprocessedKeys": kwargs["RequestItems"]}
    )
    sleeps: list[float] = []
    ledger = Ledger(spy, LEDGER, sleep=sleeps.append)
    # WHEN looked up / THEN one call, no wait, LedgerUnavailable saying why
    with pytest.raises(LedgerUnavailable, match="no time left for another read"):
        ledger.delivered(KEYS, remaining_s=lambda: 1.0)
    assert (len(spy.requests("batch_get_item")), sleeps) == (1, [])


def test_a_failed_ledger_write_round_is_logged_with_its_code_and_retried(local):
    # GIVEN a BatchWriteItem throttled once, then working
    def throttled_once(call, kwargs):
        if len(spy.requests("batch_write_item")) == 1:
            raise client_error("ProvisionedThroughputExceededException", "BatchWriteItem")
        return call(**kwargs)

    spy = WrappedClient(local.dynamodb, batch_write_item=throttled_once)
    log = FakeLog()
    ledger = Ledger(spy, LEDGER, sleep=lambda seconds: None, log=log)
    # WHEN keys are recorded
    ledger.record(KEYS, now=NOW)
    # THEN the second round wrote them, and the first failure left a warning with the code
    assert set(ledger.delivered(KEYS)) == set(KEYS)
    assert log.lines == [
        (
            "warning",
            "ledger write failed; retrying",
            {"error": "ClientError", "code": "ProvisionedThroughputExceededException", "attempt": 1},
        )
    ]


def test_a_ledger_write_without_time_for_another_round_raises_unavailable_with_the_code(local):
    # GIVEN a throttled BatchWriteItem and 1.0 s left
    def throttled(call, kwargs):
        raise client_error("ProvisionedThroughputExceededException", "BatchWriteItem")

    spy = WrappedClient(local.dynamodb, batch_write_item=throttled)
    ledger = Ledger(spy, LEDGER, sleep=lambda seconds: None, log=FakeLog())
    # WHEN keys are recorded / THEN one call, then LedgerUnavailable carrying DynamoDB's code
    with pytest.raises(LedgerUnavailable, match="no time left for another write") as raised:
        ledger.record(KEYS, now=NOW, remaining_s=lambda: 1.0)
    assert raised.value.aws_code == "ProvisionedThroughputExceededException"
    assert len(spy.requests("batch_write_item")) == 1


def test_a_batched_send_stops_when_the_invocation_runs_out_of_time(local):
    # GIVEN 25 entries (three groups) and time for the first group only
    left = iter([5.0, 0.5, 0.5])
    spy = WrappedClient(local.sqs)
    entries = [Entry(f"k-{i}", f"body-{i}") for i in range(25)]
    # WHEN sent
    result = send_batched(spy, local.events_queue_url, entries, remaining_s=lambda: next(left))
    # THEN one call of ten; the other fifteen are failed as out of time, never sent
    assert [len(r["Entries"]) for r in spy.requests("send_message_batch")] == [10]
    assert result.sent == {f"k-{i}" for i in range(10)}
    assert result.failed == {f"k-{i}": OUT_OF_TIME for i in range(10, 25)}


def test_a_batched_send_retries_only_while_time_is_left(local):
    # GIVEN SQS failing every entry on its side, and time for the first call only
    def server_fault(call, kwargs):
        failed = [{"Id": e["Id"], "Code": "InternalError", "SenderFault": False} for e in kwargs["Entries"]]
        return {"Successful": [], "Failed": failed}

    left = iter([5.0, 1.0])
    sleeps: list[float] = []
    spy = WrappedClient(local.sqs, send_message_batch=server_fault)
    # WHEN two entries are sent
    result = send_batched(
        spy,
        local.events_queue_url,
        [Entry("a", "1"), Entry("b", "2")],
        sleep=sleeps.append,
        remaining_s=lambda: next(left),
    )
    # THEN no retry (1.0 s minus the 0.05 s wait is under SEND_TIME_MARGIN_S), no wait
    assert (len(spy.requests("send_message_batch")), sleeps) == (1, [])
    assert result.failed == {"a": OUT_OF_TIME, "b": OUT_OF_TIME}


def test_a_dlq_send_that_fails_is_logged_with_sqss_codes(local):
    # GIVEN a DLQ that does not exist
    log = FakeLog()
    sink = DeadLetters(local.sqs, local.dlq_url + "-gone", sleep=lambda seconds: None, log=log)
    # WHEN two records are parked / THEN both come back failed, and one warning counts the codes
    assert sink.park([Parked("r-1", "{}", "invalid"), Parked("r-2", "{}", "invalid")]) == {0, 1}
    assert log.lines == [
        ("warning", "DLQ send failed", {"codes": {"AWS.SimpleQueueService.NonExistentQueue": 2}})
    ]


def test_failed_visibility_changes_and_deletes_are_logged_with_their_code(local):
    # GIVEN SQS refusing ChangeMessageVisibilityBatch and DeleteMessageBatch outright
    def refused(call, kwargs):
        raise client_error("AccessDenied", "Batch")

    spy = WrappedClient(local.sqs, change_message_visibility_batch=refused, delete_message_batch=refused)
    log = FakeLog()
    # WHEN two handles are released and deleted
    missed_release = release(spy, local.events_queue_url, ["h-1", "h-2"], log=log)
    missed_delete = delete(spy, local.events_queue_url, ["h-1", "h-2"], log=log)
    # THEN both count as missed, and each failure left a warning with the code
    assert (missed_release, missed_delete) == (2, [0, 1])
    assert log.lines == [
        ("warning", "SQS visibility change failed", {"error": "ClientError", "code": "AccessDenied"}),
        ("warning", "SQS delete failed", {"error": "ClientError", "code": "AccessDenied"}),
    ]
