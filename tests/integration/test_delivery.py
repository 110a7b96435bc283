"""Delivery end to end, in-process: moto queues/tables/secrets from template.yaml + the Graph emulator."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.delivery import SqsRecord, deliver_batch
from relay.local.graph import Fault, GraphEmulator
from relay.local.runner import THROWAWAY_TOKEN, _integration, rebase
from relay.local.stack import LocalStack, Totals
from relay.queue import lambda_record
from relay.redrive import RedriveRequest, redrive
from tests.support import load_sample
from tests.support import recent_lead as lead

PIXEL = "1234567890"
NOW = datetime.now(UTC)


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with GraphEmulator(access_tokens={PIXEL: THROWAWAY_TOKEN}, timeout_sleep_s=0.3) as emulator:
        yield emulator


def _drain(local: LocalStack, settings: Any, bodies: list[str], **deps: Any) -> Totals:
    totals = Totals(accepted=local.enqueue(bodies, local.events_queue_url))
    local.drain(
        local.events_queue_url,
        local.deps(settings, default_source="local", sleep=lambda s: None, **deps),
        totals,
    )
    return totals


def _dlq(local: LocalStack, settings: Any) -> list[dict[str, Any]]:
    return local.queue_messages(local.dlq_url)


def _accounted(t: Totals) -> bool:
    return t.accepted == t.delivered + sum(t.skipped.values()) + sum(t.dead_lettered.values())


def test_samples_are_delivered_in_one_graph_call_without_token_in_url(stack, graph):
    # GIVEN the default samples, fresh
    local, settings = stack
    bodies = rebase([json.dumps(e) for e in load_sample("default.json")], NOW - timedelta(minutes=1))
    # WHEN they flow through the queue and delivery
    totals = _drain(local, settings, bodies)
    # THEN every mappable event reaches Meta once, in one batch call, token only in the header
    assert totals.delivered == 13
    assert dict(totals.skipped) == {"identify": 1, "consent": 1}
    assert _accounted(totals)
    assert len(graph.requests) == 1
    assert graph.requests[0].event_count == 13
    assert "access_token" not in graph.requests[0].path + json.dumps(graph.requests[0].query)
    assert graph.requests[0].headers["authorization"] == f"Bearer {THROWAWAY_TOKEN}"
    assert graph.duplicates() == []


def test_malformed_body_is_parked_and_never_fails_the_batch(stack, graph):
    # GIVEN a batch with a body that is not JSON and one without a type
    local, settings = stack
    bodies = [lead(1), "{not json", json.dumps({"event": "x"}), lead(2)]
    # WHEN delivered
    totals = _drain(local, settings, bodies)
    # THEN the good ones are delivered and the bad ones sit in the DLQ with reason malformed
    assert totals.delivered == 2
    assert dict(totals.dead_lettered) == {"malformed": 2}
    reasons = [m["MessageAttributes"]["reason"]["StringValue"] for m in _dlq(local, settings)]
    assert reasons == ["malformed", "malformed"]
    assert _accounted(totals)


def test_bisection_isolates_exactly_the_poison_events(stack, graph):
    # GIVEN 40 events of which Meta rejects two (code 100 fails the whole request)
    local, settings = stack
    graph.poison("m-7", "m-31")
    # WHEN delivered
    totals = _drain(local, settings, [lead(i) for i in range(40)])
    # THEN exactly those two are parked as invalid, the other 38 delivered once
    assert totals.delivered == 38
    assert dict(totals.dead_lettered) == {"invalid": 2}
    parked = sorted(json.loads(m["Body"])["messageId"] for m in _dlq(local, settings))
    assert parked == ["m-31", "m-7"]
    assert sorted(k[2] for k in graph.accepted_keys()) == sorted(
        f"m-{i}" for i in range(40) if i not in (7, 31)
    )
    assert graph.duplicates() == []


def test_transient_errors_are_retried_in_the_invocation(stack, graph):
    # GIVEN Meta answering 503, then 429, then OK
    local, settings = stack
    graph.inject(Fault("http_503"))
    graph.inject(Fault("http_429"))
    # WHEN delivered
    totals = _drain(local, settings, [lead(i) for i in range(5)])
    # THEN everything is delivered after three calls
    assert totals.delivered == 5
    assert [r.status for r in graph.requests] == [503, 429, 200]


def test_persistent_transient_errors_end_in_the_dlq_after_max_receives(stack, graph):
    # GIVEN Meta failing every call with code 2 (transient)
    local, settings = stack
    graph.inject(Fault("transient", times=10_000))
    # WHEN delivered (each SQS receive retries 3 times, up to maxReceiveCount receives)
    totals = _drain(local, settings, [lead(1)])
    # THEN the event is parked as retries_exhausted, nothing delivered, nothing lost
    assert totals.delivered == 0
    assert dict(totals.dead_lettered) == {"retries_exhausted": 1}
    assert _accounted(totals)


def test_auth_errors_park_with_integration_id_and_redrive_delivers_after_token_fix(stack, graph):
    # GIVEN a revoked token
    local, settings = stack
    graph.set_token(PIXEL, "rotated-token")
    totals = _drain(local, settings, [lead(i) for i in range(3)])
    parked = _dlq(local, settings)
    # THEN all three are parked with reason auth and the integration id
    assert dict(totals.dead_lettered) == {"auth": 3}
    assert {
        (
            m["MessageAttributes"]["reason"]["StringValue"],
            m["MessageAttributes"]["integration_id"]["StringValue"],
        )
        for m in parked
    } == {("auth", "local-meta")}
    # WHEN the token is fixed and the DLQ redriven (reason auth)
    local.put_token("local-meta", "rotated-token", settings)
    report = redrive(
        RedriveRequest(reason="auth"),
        sqs=local.sqs,
        dlq_url=local.dlq_url,
        queue_url=local.events_queue_url,
        now=lambda: datetime.now(UTC),
    )
    again = Totals()
    local.drain(local.events_queue_url, local.deps(settings, default_source="local"), again)
    # THEN they are delivered, once each, and the DLQ is empty
    assert report.moved == 3
    assert again.delivered == 3
    assert _dlq(local, settings) == []
    assert graph.duplicates() == []


def test_crash_after_graph_success_sends_nothing_twice(stack, graph):
    # GIVEN a batch delivered to Meta but whose Lambda "crashed" before returning (messages not deleted)
    local, settings = stack
    local.enqueue([lead(i) for i in range(10)], local.events_queue_url)
    deps = local.deps(settings, default_source="local")
    got = local.sqs.receive_message(
        QueueUrl=local.events_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    )["Messages"]
    deliver_batch([SqsRecord.from_lambda(lambda_record(m)) for m in got], deps)
    for m in got:  # the crash: SQS makes them visible again
        local.sqs.change_message_visibility(
            QueueUrl=local.events_queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
        )
    # WHEN SQS redelivers and the queue drains
    totals = Totals()
    local.drain(local.events_queue_url, deps, totals)
    # THEN Meta saw each event exactly once
    assert len(graph.accepted) == 10
    assert graph.duplicates() == []
    assert totals.delivered == 0


class _Flaky:
    """Wraps a boto3 client: each call fails with a throttling error at `rate` (seeded)."""

    def __init__(self, client: Any, rate: float, rng: random.Random) -> None:
        self._client, self._rate, self._rng = client, rate, rng
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._rng.random() < self._rate:
                from botocore.exceptions import ClientError

                raise ClientError(
                    {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, name
                )
            return method(*args, **kwargs)

        return call


def test_fault_injection_5000_events_accounting_and_no_duplicates():
    # GIVEN 5,000 events, 1% of them poison, and Meta + AWS failing at random
    rng = random.Random(1234)
    count = int(os.environ.get("RELAY_FAULT_EVENTS", "5000"))
    bodies = [lead(i, value=i % 50, currency="USD") for i in range(count)]
    poison = [f"m-{i}" for i in rng.sample(range(count), count // 100)]
    bodies += ["{broken"] * 10
    rates = {"http_500": 0.05, "http_429": 0.03, "throttle_17": 0.02, "timeout": 0.01}
    with GraphEmulator(
        access_tokens={PIXEL: THROWAWAY_TOKEN}, failure_rates=rates, timeout_sleep_s=1.2, seed=7
    ) as graph:
        graph.poison(*poison)
        with LocalStack() as local:
            settings = local.settings(graph.url)
            local.add_integration(_integration(PIXEL, "default"), settings)
            clients = {
                s: _Flaky(c, 0.02, rng)
                for s, c in (
                    ("dynamodb", local.dynamodb),
                    ("sqs", local.sqs),
                    ("secretsmanager", local.secretsmanager),
                )
            }
            from relay.apps.deliver import build_deps
            from relay.vendors.meta_capi.client import GraphClient

            deps = build_deps(settings, clients=lambda s: clients[s])
            # A read timeout well above a loaded machine's answer time: only injected timeouts time out (a
            # slow real answer that timed out would be a true double send, which no ledger can stop).
            deps.sender = GraphClient(graph.url, read_timeout=1.0)
            deps.default_source = "local"
            deps.sleep = lambda s: None
            totals = Totals()
            # WHEN the events flow through the queue until it drains (redeliveries included)
            # Batches of 100: moto's SQS is quadratic in the queue's length (production batches are 1,000).
            local.pump(bodies, local.events_queue_url, deps, totals, batch_size=100)
            dlq = local.queue_messages(local.dlq_url)
    # THEN every event is accounted for exactly once, and Meta saw no event twice
    assert _accounted(totals), totals.summary()
    assert graph.duplicates() == []
    assert totals.delivered == len(set(graph.accepted_keys()))
    assert totals.dead_lettered["invalid"] == len(poison)
    assert totals.dead_lettered["malformed"] == 10
    assert sum(totals.dead_lettered.values()) == len(dlq)
    assert totals.delivered >= count * 0.98


def test_a_refused_token_stops_further_calls_for_the_batch(stack, graph):
    # GIVEN a revoked token and a batch that needs three Graph calls
    local, settings = stack
    graph.set_token(PIXEL, "someone-elses-token")
    # WHEN delivered with at most 2 events per call
    totals = _drain(local, settings, [lead(i) for i in range(6)], max_events_per_request=2)
    # THEN Meta is asked once; all six are parked with reason auth
    assert len(graph.requests) == 1
    assert dict(totals.dead_lettered) == {"auth": 6}


def test_events_past_metas_age_limit_are_parked_as_expired(stack, graph):
    # GIVEN an event of 8 days ago (e.g. redriven too late)
    local, settings = stack
    old = json.loads(lead(1))
    old["timestamp"] = (NOW - timedelta(days=8)).isoformat()
    # WHEN delivered
    totals = _drain(local, settings, [json.dumps(old), lead(2)])
    # THEN it is parked as expired and never sent; the other one is delivered
    assert dict(totals.dead_lettered) == {"expired": 1}
    assert totals.delivered == 1
    assert [k[2] for k in graph.accepted_keys()] == ["m-2"]


def test_debugger_records_the_isolated_event_with_a_masked_ip(stack, graph):
    # GIVEN a batch with one poison event
    local, settings = stack
    graph.poison("m-3")
    # WHEN delivered
    _drain(local, settings, [lead(i) for i in range(8)])
    items = local.dynamodb.scan(TableName=settings.debugger_table)["Items"]
    # THEN the debugger holds exactly that event, its payload hashed and its IP cut to the network
    assert [(i["event_id"]["S"], i["outcome"]["S"]) for i in items] == [("m-3", "invalid")]
    payload = json.loads(items[0]["payload"]["S"])
    assert payload["user_data"]["client_ip_address"] == "198.51.100.0/24"
    assert items[0]["detail"]["S"].startswith("http 400, code 100/")


def test_fan_out_to_several_pixels_counts_each_once_and_never_resends(graph):
    # GIVEN one source with three integrations: A healthy, B needing a consent the events lack,
    # C whose pixel keeps failing transiently
    a, b, c = "1111", "2222", "3333"
    graph.set_token(a, THROWAWAY_TOKEN)
    graph.set_token(c, THROWAWAY_TOKEN)
    graph.inject(Fault("transient", pixel_id=c, times=10_000))
    with LocalStack() as local:
        settings = local.settings(graph.url)
        for ident, pixel, consent in (("int-a", a, []), ("int-b", b, ["marketing"]), ("int-c", c, [])):
            integration = _integration(pixel, "default").model_copy(
                update={"id": ident, "consent_categories": consent}
            )
            local.add_integration(integration, settings)
        bodies = [json.loads(lead(i)) for i in range(4)]
        for body in bodies:
            body["context"]["consent"] = {"categoryPreferences": {"advertising": True, "marketing": False}}
        # WHEN the queue drains (C's records come back until maxReceiveCount)
        totals = _drain(local, settings, [json.dumps(body) for body in bodies])
        dlq = _dlq(local, settings)
    # THEN per integration each event ends once: A delivered once (despite the redeliveries caused by C),
    # B skipped for consent, C parked as retries_exhausted
    assert totals.delivered == 4
    assert dict(totals.skipped) == {"consent": 4}
    assert dict(totals.dead_lettered) == {"retries_exhausted": 4}
    assert 3 * totals.accepted == totals.delivered + sum(totals.skipped.values()) + sum(
        totals.dead_lettered.values()
    )
    assert sorted(k[0] for k in graph.accepted_keys()) == [a] * 4
    assert graph.duplicates() == []
    assert {m["MessageAttributes"]["integration_id"]["StringValue"] for m in dlq} == {"int-c"}


def test_no_call_starts_without_time_left_in_the_invocation(stack, graph):
    # GIVEN an invocation with 5 s left (less than one Graph call's budget)
    local, settings = stack
    local.enqueue([lead(i) for i in range(3)], local.events_queue_url)
    records = local.receive_records(local.events_queue_url)
    # WHEN the batch is delivered
    outcome = deliver_batch(records, local.deps(settings, default_source="local", remaining_s=lambda: 5.0))
    # THEN Meta is not called and every record goes back to SQS, nothing parked
    assert graph.requests == []
    assert sorted(outcome.failures) == sorted(r.message_id for r in records)
    assert sum(outcome.dead_lettered.values()) == 0


def test_calls_to_different_pixels_run_concurrently(graph):
    # GIVEN two integrations on two pixels and a Graph answering after 0.5 s
    graph.latency_s = 0.5
    with LocalStack() as local:
        settings = local.settings(graph.url)
        for ident, pixel in (("int-a", "1111"), ("int-b", "2222")):
            graph.set_token(pixel, THROWAWAY_TOKEN)
            local.add_integration(_integration(pixel, "default").model_copy(update={"id": ident}), settings)
        local.enqueue([lead(i) for i in range(4)], local.events_queue_url)
        records = local.receive_records(local.events_queue_url)
        deps = local.deps(settings, default_source="local")
        # WHEN the batch is delivered
        started = time.perf_counter()
        outcome = deliver_batch(records, deps)
        elapsed = time.perf_counter() - started
    # THEN both pixels got their one call, side by side rather than one after the other
    assert outcome.delivered == 8
    assert sorted(r.pixel_id for r in graph.requests) == ["1111", "2222"]
    assert elapsed < 0.9  # one after the other would take at least 1.0 s


def test_version_warning_and_deprecated_version_are_counted(stack, graph):
    # GIVEN Meta flagging v25.0 as deprecated, then refusing it (code 2635)
    local, settings = stack
    graph.deprecated_versions = {"v25.0"}
    local.enqueue([lead(1)], local.events_queue_url)
    deps = local.deps(settings, default_source="local")
    # WHEN one batch is accepted with the warning header and the next refused
    warned = deliver_batch(local.receive_records(local.events_queue_url), deps)
    local.enqueue([lead(2)], local.events_queue_url)
    graph.inject(Fault("version_2635"))
    refused = deliver_batch(local.receive_records(local.events_queue_url), deps)
    # THEN the warning is counted, and the refusal parks the event as auth with a "version" detail
    assert (warned.delivered, warned.version_warnings) == (1, 1)
    assert (refused.version_errors, dict(refused.dead_lettered)) == (1, {"auth": 1})
    parked = _dlq(local, settings)
    assert parked[0]["MessageAttributes"]["detail"]["StringValue"].startswith("version: http 400, code 2635")


def test_an_integration_without_a_token_secret_parks_its_events_as_auth(graph):
    # GIVEN an integration stored without its Secrets Manager secret
    with LocalStack() as local:
        settings = local.settings(graph.url)
        local.add_integration(_integration(PIXEL, "default"), settings)
        from relay.secrets import secret_name

        local.secretsmanager.delete_secret(
            SecretId=secret_name(settings.token_secret_prefix, "local-meta"), ForceDeleteWithoutRecovery=True
        )
        # WHEN its events are delivered
        totals = _drain(local, settings, [lead(1), lead(2)])
        parked = _dlq(local, settings)
    # THEN Meta is never called; both wait in the DLQ as auth, naming the missing secret (no retries)
    assert graph.requests == []
    assert dict(totals.dead_lettered) == {"auth": 2}
    assert {m["MessageAttributes"]["detail"]["StringValue"] for m in parked} == {
        f"no readable secret {settings.token_secret_prefix}local-meta/access-token (ResourceNotFoundException)"
    }
