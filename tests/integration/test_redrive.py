"""DLQ → events queue redrive (relay.redrive and functions/redrive/app.py) against moto's SQS."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

import relay.aws
import relay.settings
from relay.redrive import NO_REASON, RedriveReport, RedriveRequest, redrive
from tests.support import EVENTS, LambdaContext, load_handler_module

NOW = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
RECENT = "2026-11-26T12:00:00Z"
OLD = "2026-11-10T12:00:00Z"  # past Meta's 7-day limit at NOW
REGION = "eu-west-1"


@dataclass
class Queues:
    sqs: Any
    dlq_url: str
    queue_url: str


@pytest.fixture
def queues(aws: None) -> Queues:
    import boto3

    sqs = boto3.client("sqs", region_name=REGION)
    dlq_url = sqs.create_queue(QueueName="relay-test-events-dlq")["QueueUrl"]
    queue_url = sqs.create_queue(QueueName="relay-test-events")["QueueUrl"]
    return Queues(sqs, dlq_url, queue_url)


def body(message_id: str, timestamp: str | None = RECENT, **extra: Any) -> str:
    event: dict[str, Any] = {"type": "track", "event": "Lead Generated", "messageId": message_id, **extra}
    if timestamp is not None:
        event["timestamp"] = timestamp
    return json.dumps(event)


def park(q: Queues, text: str, **attributes: str | int | bytes) -> None:
    """A dead-lettered message as DeliverFunction (or SQS's RedrivePolicy, with no attributes) leaves it."""
    attrs: dict[str, Any] = {}
    for name, value in attributes.items():
        if isinstance(value, bytes):
            attrs[name] = {"DataType": "Binary", "BinaryValue": value}
        elif isinstance(value, int):
            attrs[name] = {"DataType": "Number", "StringValue": str(value)}
        else:
            attrs[name] = {"DataType": "String", "StringValue": value}
    kwargs: dict[str, Any] = {"MessageAttributes": attrs} if attrs else {}
    q.sqs.send_message(QueueUrl=q.dlq_url, MessageBody=text, **kwargs)


def drain(q: Queues, url: str) -> list[dict[str, Any]]:
    """Every message now visible in `url` (received and hidden: call once per check)."""
    out: list[dict[str, Any]] = []
    while True:
        got = q.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=600
        ).get("Messages", [])
        if not got:
            return out
        out.extend(got)


def attrs(message: dict[str, Any]) -> dict[str, str]:
    return {
        k: v.get("StringValue", v.get("BinaryValue")) for k, v in message.get("MessageAttributes", {}).items()
    }


def run(
    q: Queues, request: RedriveRequest, *, sqs: Any = None, queue_url: str | None = None, **kw: Any
) -> RedriveReport:
    return redrive(
        request,
        sqs=sqs or q.sqs,
        dlq_url=q.dlq_url,
        queue_url=queue_url or q.queue_url,
        now=lambda: NOW,
        wait_seconds=0,
        **kw,
    )


def test_moves_matching_messages_keeping_body_and_attributes(queues: Queues) -> None:
    # GIVEN three parked events: one already redriven twice, one with a binary attribute, one without any
    park(queues, body("m-1"), reason="auth", integration_id="int-1", detail="code 190", redrive_count=2)
    park(queues, body("m-2"), reason="invalid", blob=b"\x00\x01")
    park(queues, body("m-3"))
    # WHEN everything is redriven
    report = run(queues, RedriveRequest())
    # THEN all three moved with the same body, every attribute kept and redrive_count + 1
    assert (report.examined, report.moved, report.failed, report.eligible) == (3, 3, 0, 3)
    assert report.by_reason == {"auth": 1, "invalid": 1, NO_REASON: 1}
    assert report.stopped == "empty"
    moved = {json.loads(m["Body"])["messageId"]: m for m in drain(queues, queues.queue_url)}
    assert moved["m-1"]["Body"] == body("m-1")
    assert attrs(moved["m-1"]) == {
        "reason": "auth",
        "integration_id": "int-1",
        "detail": "code 190",
        "redrive_count": "3",
    }
    assert attrs(moved["m-2"]) == {"reason": "invalid", "blob": b"\x00\x01", "redrive_count": "1"}
    assert moved["m-2"]["MessageAttributes"]["redrive_count"]["DataType"] == "Number"
    assert attrs(moved["m-3"]) == {"redrive_count": "1"}
    # AND the DLQ is empty
    assert drain(queues, queues.dlq_url) == []


def test_integration_id_filter_leaves_other_messages_in_the_dlq(queues: Queues) -> None:
    # GIVEN parked events of two integrations and one without an integration
    for i in range(3):
        park(queues, body(f"a-{i}"), reason="auth", integration_id="int-1")
    for i in range(2):
        park(queues, body(f"b-{i}"), reason="auth", integration_id="int-2")
    park(queues, body("c-0"))
    # WHEN int-1 is redriven
    report = run(queues, RedriveRequest(integration_id="int-1"))
    # THEN only int-1's events moved; the others stay, untouched, and are visible again
    assert (report.examined, report.moved, report.kept_filtered) == (6, 3, 3)
    queued = drain(queues, queues.queue_url)
    kept = drain(queues, queues.dlq_url)
    assert sorted(json.loads(m["Body"])["messageId"] for m in queued) == ["a-0", "a-1", "a-2"]
    assert sorted(json.loads(m["Body"])["messageId"] for m in kept) == ["b-0", "b-1", "c-0"]
    assert all("redrive_count" not in attrs(m) for m in kept)
    # AND nothing was lost
    assert len(queued) + len(kept) == 6


def test_reason_filter_moves_only_that_reason(queues: Queues) -> None:
    # GIVEN events parked for auth, invalid, and by SQS's own RedrivePolicy (no reason)
    park(queues, body("auth-1"), reason="auth", integration_id="int-1")
    park(queues, body("auth-2"), reason="auth", integration_id="int-2")
    park(queues, body("invalid-1"), reason="invalid")
    park(queues, body("sqs-1"))
    # WHEN reason auth is redriven, then the messages SQS moved
    first = run(queues, RedriveRequest(reason="auth"))
    second = run(queues, RedriveRequest(reason=NO_REASON))
    # THEN each run moved its reason only
    assert (first.moved, first.kept_filtered) == (2, 2)
    assert first.by_reason == {"auth": 2, "invalid": 1, NO_REASON: 1}
    assert (second.moved, second.kept_filtered) == (1, 1)
    queued = sorted(json.loads(m["Body"])["messageId"] for m in drain(queues, queues.queue_url))
    kept = [json.loads(m["Body"])["messageId"] for m in drain(queues, queues.dlq_url)]
    assert queued == ["auth-1", "auth-2", "sqs-1"]
    assert kept == ["invalid-1"]


def test_filters_combine(queues: Queues) -> None:
    # GIVEN int-1 parked for auth and for invalid
    park(queues, body("a"), reason="auth", integration_id="int-1")
    park(queues, body("b"), reason="invalid", integration_id="int-1")
    park(queues, body("c"), reason="auth", integration_id="int-2")
    # WHEN int-1's auth failures are redriven
    report = run(queues, RedriveRequest(integration_id="int-1", reason="auth"))
    # THEN only the one matching both moved
    assert (report.moved, report.kept_filtered) == (1, 2)
    assert [json.loads(m["Body"])["messageId"] for m in drain(queues, queues.queue_url)] == ["a"]


def test_expired_events_stay_in_the_dlq_and_are_reported(queues: Queues) -> None:
    # GIVEN events past Meta's age limit (timestamp, or receivedAt when there is no timestamp), a recent
    # one, and bodies the redrive cannot read
    park(queues, body("old-ts", OLD), reason="auth")
    park(queues, body("old-received", None, receivedAt=OLD), reason="auth")
    park(queues, body("old-ts-recent-received", OLD, receivedAt=RECENT), reason="auth")
    park(queues, body("recent"), reason="auth")
    park(queues, "not json {", reason="malformed")
    park(queues, body("bad-time", "yesterday"), reason="invalid")
    # WHEN everything is redriven
    report = run(queues, RedriveRequest())
    # THEN the expired events stay, reported by message id; the rest moved
    kept = {json.loads(m["Body"])["messageId"]: m["MessageId"] for m in drain(queues, queues.dlq_url)}
    assert set(kept) == {"old-ts", "old-received", "old-ts-recent-received"}
    assert sorted(report.expired_message_ids) == sorted(kept.values())
    assert (report.examined, report.kept_expired, report.moved) == (6, 3, 3)
    queued = [m["Body"] for m in drain(queues, queues.queue_url)]
    assert len(queued) == 3
    assert "not json {" in queued


def test_dry_run_moves_nothing(queues: Queues) -> None:
    # GIVEN three parked events, one expired
    park(queues, body("a"), reason="auth", integration_id="int-1")
    park(queues, body("b"), reason="auth", integration_id="int-2")
    park(queues, body("c", OLD), reason="auth", integration_id="int-1")
    # WHEN a dry run for int-1 runs
    report = run(queues, RedriveRequest(integration_id="int-1", dry_run=True))
    # THEN it reports what would move and moves nothing: all three are visible in the DLQ again
    assert report.dry_run
    assert (report.examined, report.eligible, report.moved, report.kept_expired, report.kept_filtered) == (
        3,
        1,
        0,
        1,
        1,
    )
    assert drain(queues, queues.queue_url) == []
    assert len(drain(queues, queues.dlq_url)) == 3


class FailingSends:
    """The real SQS client, except that the events queue refuses the message with `refused_body`."""

    def __init__(self, sqs: Any, refused_body: str) -> None:
        self.sqs = sqs
        self.refused_body = refused_body

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.sqs.receive_message(**kwargs)
        return answer

    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        entries = kwargs["Entries"]
        refused = [e for e in entries if e["MessageBody"] == self.refused_body]
        rest = [e for e in entries if e["MessageBody"] != self.refused_body]
        answer: dict[str, Any] = {"Successful": [], "Failed": []}
        if rest:
            answer = self.sqs.send_message_batch(QueueUrl=kwargs["QueueUrl"], Entries=rest)
        failed = [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"}
            for e in refused
        ]
        return {**answer, "Failed": [*answer.get("Failed", []), *failed]}

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.sqs.delete_message_batch(**kwargs)
        return answer

    def change_message_visibility_batch(self, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.sqs.change_message_visibility_batch(**kwargs)
        return answer


def test_a_refused_message_is_not_deleted_from_the_dlq(queues: Queues) -> None:
    # GIVEN three parked events, and an events queue that refuses one of them
    for i in range(3):
        park(queues, body(f"m-{i}"), reason="auth")
    # WHEN they are redriven
    report = run(queues, RedriveRequest(), sqs=FailingSends(queues.sqs, body("m-1")))
    # THEN the refused one stays in the DLQ (visible again, attributes unchanged); the others moved
    assert (report.moved, report.failed, report.eligible) == (2, 1, 3)
    kept = drain(queues, queues.dlq_url)
    assert [m["Body"] for m in kept] == [body("m-1")]
    assert attrs(kept[0]) == {"reason": "auth"}
    assert sorted(m["Body"] for m in drain(queues, queues.queue_url)) == [body("m-0"), body("m-2")]


def test_a_missing_events_queue_deletes_nothing_and_stops(queues: Queues) -> None:
    # GIVEN parked events, and an events queue URL that does not exist
    for i in range(12):
        park(queues, body(f"m-{i}"), reason="auth")
    missing = queues.queue_url.replace("relay-test-events", "relay-gone")
    # WHEN they are redriven there
    report = run(queues, RedriveRequest(), queue_url=missing)
    # THEN the first batch fails, the run stops, and every message is still in the DLQ
    assert report.stopped == "send_error"
    assert (report.moved, report.failed) == (0, report.eligible)
    assert report.failed >= 1
    assert len(drain(queues, queues.dlq_url)) == 12


def test_max_messages_bounds_the_run(queues: Queues) -> None:
    # GIVEN 25 parked events
    for i in range(25):
        park(queues, body(f"m-{i}"), reason="auth")
    # WHEN at most 12 are examined
    report = run(queues, RedriveRequest(max_messages=12))
    # THEN 12 moved, 13 stay
    assert (report.examined, report.moved, report.stopped) == (12, 12, "max_messages")
    assert len(drain(queues, queues.queue_url)) == 12
    assert len(drain(queues, queues.dlq_url)) == 13


def test_filtered_messages_are_not_spun_on(queues: Queues) -> None:
    # GIVEN messages that do not match, which come back at once (receive visibility 0)
    for i in range(3):
        park(queues, body(f"m-{i}"), reason="invalid")
    # WHEN auth is redriven
    report = run(queues, RedriveRequest(reason="auth"), visibility_timeout=0)
    # THEN the run ends when a message comes back, having examined each message once
    assert report.stopped == "seen_again"
    assert (report.examined, report.kept_filtered, report.moved) == (3, 3, 0)
    assert len(drain(queues, queues.dlq_url)) == 3


def test_the_run_stops_before_the_lambda_times_out(queues: Queues) -> None:
    # GIVEN a parked event and an invocation with 5 s left
    park(queues, body("m-1"), reason="auth")
    # WHEN the redrive runs
    report = run(queues, RedriveRequest(), remaining_ms=lambda: 5_000)
    # THEN it stops without taking anything
    assert (report.stopped, report.examined) == ("time", 0)
    assert len(drain(queues, queues.dlq_url)) == 1


@pytest.mark.parametrize(
    "event",
    [{"max_messages": 0}, {"max_messages": 100_001}, {"queue": "x"}, {"dry_run": "maybe"}],
)
def test_redrive_request_rejects_bad_input(event: dict[str, Any]) -> None:
    # GIVEN / WHEN an invoke event out of bounds or with an unknown key / THEN validation fails
    with pytest.raises(ValidationError):
        RedriveRequest.model_validate(event)


# ---- the Lambda handler ----------------------------------------------------------------------------


def test_handler_redrives_the_sample_event(
    queues: Queues, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the function's environment and the sample invoke event (int-1, reason auth)
    for name, value in {
        "DLQ_URL": queues.dlq_url,
        "EVENTS_QUEUE_URL": queues.queue_url,
    }.items():
        monkeypatch.setenv(name, value)
    event = json.loads((EVENTS / "redrive.json").read_text())
    assert RedriveRequest.model_validate(event).integration_id == "int-1"
    now = datetime.now(UTC).isoformat()
    park(queues, body("match", now), reason="auth", integration_id="int-1")
    park(queues, body("other-reason", now), reason="invalid", integration_id="int-1")
    park(queues, body("other-integration", now), reason="auth", integration_id="int-2")
    # WHEN the handler module is imported (no client, no settings yet) and invoked
    app = load_handler_module("redrive")
    assert relay.aws.aws_client.cache_info().currsize == 0
    assert relay.settings.redrive_settings.cache_info().currsize == 0
    result = app.handler(event, LambdaContext(function_name="relay-redrive"))
    # THEN it returns the report as JSON data and moved the one matching message
    report = RedriveReport.model_validate(result)
    assert json.loads(json.dumps(result)) == result
    assert (report.examined, report.moved, report.kept_filtered) == (3, 1, 2)
    assert [json.loads(m["Body"])["messageId"] for m in drain(queues, queues.queue_url)] == ["match"]
    assert len(drain(queues, queues.dlq_url)) == 2
    # AND it published EMF metrics in namespace Relay
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(doc.get("Redriven") == [1.0] or doc.get("Redriven") == 1.0 for doc in emf)
    assert all(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Relay" for doc in emf)


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_handler_rejects_an_invalid_event(queues: Queues, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the function's environment
    monkeypatch.setenv("DLQ_URL", queues.dlq_url)
    monkeypatch.setenv("EVENTS_QUEUE_URL", queues.queue_url)
    park(queues, body("m"), reason="auth")
    app = load_handler_module("redrive")
    # WHEN it is invoked with an unknown key / THEN it fails before touching the DLQ
    with pytest.raises(ValidationError):
        app.handler({"integration": "int-1"}, LambdaContext(function_name="relay-redrive"))
    assert len(drain(queues, queues.dlq_url)) == 1


def test_a_message_parked_again_during_the_run_is_left_for_the_next_run(queues: Queues) -> None:
    # GIVEN two parked events, and a deliver worker that parks whatever is moved again at once (its cause,
    # a revoked token, is still there) under a new message id
    park(queues, body("m-1"), reason="auth")
    park(queues, body("m-2"), reason="auth")

    class ParksAgain:
        """moto's SQS, with each event moved to the events queue parked straight back in the DLQ."""

        def __getattr__(self, name: str) -> Any:
            return getattr(queues.sqs, name)

        def send_message_batch(self, **kwargs: Any) -> Any:
            answer = queues.sqs.send_message_batch(**kwargs)
            time.sleep(0.01)  # SentTimestamp has millisecond resolution: clearly after the run began
            for entry in kwargs["Entries"]:
                park(queues, entry["MessageBody"], reason="auth")
            return answer

    # WHEN everything is redriven (a moment after the parks)
    time.sleep(0.01)
    report = run(queues, RedriveRequest(), sqs=ParksAgain())
    # THEN each of the two is moved once, and the run stops at the first message parked since it began
    assert (report.examined, report.moved, report.stopped) == (2, 2, "caught_up")
    # AND the re-parked copies wait in the DLQ for a run after the cause is fixed
    assert sorted(json.loads(m["Body"])["messageId"] for m in drain(queues, queues.dlq_url)) == ["m-1", "m-2"]
