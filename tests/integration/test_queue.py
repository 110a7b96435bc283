"""relay.queue against moto's SQS: the batched sender, parking in the DLQ, hold / release / delete."""

from __future__ import annotations

import json
import time
from typing import Any

from relay.queue import (
    DETAIL_MAX,
    SEND_BATCH_MAX_BYTES,
    DeadLetters,
    Entry,
    Parked,
    delete,
    hold,
    release,
    send_batched,
    string_value,
)
from tests.fakes import WrappedClient

KB = 1024


def _receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every visible message (kept hidden for 30 s, so each is returned once)."""
    seen: list[dict[str, Any]] = []
    while got := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
    ).get("Messages", []):
        seen.extend(got)
    return seen


def _sizes(spy: WrappedClient) -> list[int]:
    return [len(r["Entries"]) for r in spy.requests("send_message_batch")]


def test_a_batched_send_is_split_at_ten_entries(local):
    # GIVEN 25 small entries
    spy = WrappedClient(local.sqs)
    entries = [Entry(f"k-{i}", f"body-{i}") for i in range(25)]
    # WHEN sent
    result = send_batched(spy, local.events_queue_url, entries)
    # THEN three calls of 10, 10 and 5 carried them, each received once
    assert _sizes(spy) == [10, 10, 5]
    assert result.sent == {f"k-{i}" for i in range(25)}
    assert (result.failed, result.refused) == ({}, False)
    assert sorted(m["Body"] for m in _receive_all(local.sqs, local.events_queue_url)) == sorted(
        f"body-{i}" for i in range(25)
    )


def test_a_batched_send_is_split_at_the_byte_limit(local):
    # GIVEN three messages of ~200 KB (two would exceed SQS's 256 KB per call), then three of 100 KB
    spy = WrappedClient(local.sqs)
    big = [Entry(f"big-{i}", str(i) * (200 * KB)) for i in range(3)]
    mid = [Entry(f"mid-{i}", str(i) * (100 * KB)) for i in range(3)]
    # WHEN each group is sent
    first = send_batched(spy, local.events_queue_url, big)
    second = send_batched(spy, local.events_queue_url, mid)
    # THEN each 200 KB message travels alone; two 100 KB ones share a call, the third goes next
    assert _sizes(spy) == [1, 1, 1, 2, 1]
    assert all(sum(e.size() for e in group) <= SEND_BATCH_MAX_BYTES for group in [big[:1], mid[:2]])
    assert first.sent | second.sent == {e.key for e in big + mid}
    assert len(_receive_all(local.sqs, local.events_queue_url)) == 6


def _failing(
    code: str, *, sender_fault: bool, times: int = 1, body: str | None = None, reason: str | None = None
):
    """A send_message_batch hook: the entry with `body` (or DLQ `reason`) fails `times` times, unsent."""

    def matches(entry: dict[str, Any]) -> bool:
        if body is not None:
            return bool(entry["MessageBody"] == body)
        return bool(entry.get("MessageAttributes", {}).get("reason", {}).get("StringValue") == reason)

    state = {"left": times}

    def around(call, kwargs):
        entries = kwargs["Entries"]
        hit = [e for e in entries if matches(e)]
        if state["left"] <= 0 or not hit:
            return call(**kwargs)
        state["left"] -= 1
        rest = [e for e in entries if not matches(e)]
        answer = call(QueueUrl=kwargs["QueueUrl"], Entries=rest) if rest else {"Successful": []}
        answer.setdefault("Failed", []).extend(
            {"Id": e["Id"], "SenderFault": sender_fault, "Code": code, "Message": "fake"} for e in hit
        )
        return answer

    return around


def test_an_entry_sqs_failed_on_its_side_is_sent_again_alone(local):
    # GIVEN a queue that fails one entry once with a service-side error
    spy = WrappedClient(
        local.sqs, send_message_batch=_failing("InternalError", sender_fault=False, body="body-b")
    )
    sleeps: list[float] = []
    entries = [Entry(k, f"body-{k}") for k in ("a", "b", "c")]
    # WHEN sent
    result = send_batched(spy, local.events_queue_url, entries, sleep=sleeps.append)
    # THEN that entry alone is sent again after 50 ms; every message arrives once
    assert [[e["MessageBody"] for e in r["Entries"]] for r in spy.requests("send_message_batch")] == [
        ["body-a", "body-b", "body-c"],
        ["body-b"],
    ]
    assert (result.sent, result.failed, sleeps) == ({"a", "b", "c"}, {}, [0.05])
    assert sorted(m["Body"] for m in _receive_all(local.sqs, local.events_queue_url)) == [
        "body-a",
        "body-b",
        "body-c",
    ]


def test_a_service_side_failure_is_retried_three_times_then_reported(local):
    # GIVEN a queue that keeps failing one entry on its side
    spy = WrappedClient(
        local.sqs, send_message_batch=_failing("InternalError", sender_fault=False, times=9, body="y")
    )
    sleeps: list[float] = []
    # WHEN sent
    result = send_batched(
        spy, local.events_queue_url, [Entry("a", "x"), Entry("b", "y")], sleep=sleeps.append
    )
    # THEN three attempts, then the entry is reported failed with SQS's code
    assert _sizes(spy) == [2, 1, 1]
    assert sleeps == [0.05, 0.1]
    assert (result.sent, result.failed, result.refused) == ({"a"}, {"b": "InternalError"}, False)


def test_a_sender_fault_is_not_retried(local):
    # GIVEN a queue rejecting one entry as the sender's fault
    spy = WrappedClient(
        local.sqs, send_message_batch=_failing("InvalidParameterValue", sender_fault=True, body="y")
    )
    # WHEN sent
    result = send_batched(
        spy, local.events_queue_url, [Entry("a", "x"), Entry("b", "y")], sleep=lambda s: None
    )
    # THEN one call only, and the entry is reported failed
    assert _sizes(spy) == [2]
    assert (result.sent, result.failed) == ({"a"}, {"b": "InvalidParameterValue"})


def test_a_queue_that_refuses_the_call_stops_the_send(local):
    # GIVEN a queue URL that does not exist and 25 entries
    spy = WrappedClient(local.sqs)
    missing = local.events_queue_url + "-missing"
    # WHEN sent
    result = send_batched(spy, missing, [Entry(f"k-{i}", "x") for i in range(25)])
    # THEN the first call's refusal ends the send: its 10 entries failed, no further call is made
    assert _sizes(spy) == [10]
    assert result.refused is True
    assert result.sent == set()
    assert sorted(result.failed) == sorted(f"k-{i}" for i in range(10))
    assert set(result.failed.values()) == {"AWS.SimpleQueueService.NonExistentQueue"}


def test_parking_keeps_body_and_attributes_and_sets_reason_integration_and_detail(local):
    # GIVEN a record with its own attributes (an old reason among them) to park as auth
    parked = Parked(
        "r-1",
        json.dumps({"type": "track", "event": "Lead Generated"}),
        "auth",
        "int-1",
        "d" * 300,
        {
            "trace": string_value("t-1"),
            "reason": string_value("retries_exhausted"),
            "redrive_count": {"DataType": "Number", "StringValue": "2"},
        },
    )
    # WHEN parked
    failed = DeadLetters(local.sqs, local.dlq_url).park([parked])
    [message] = _receive_all(local.sqs, local.dlq_url)
    # THEN the DLQ message has the body as it was, the record's attributes, and the new reason
    assert failed == set()
    assert message["Body"] == parked.body
    assert message["MessageAttributes"] == {
        "trace": {"DataType": "String", "StringValue": "t-1"},
        "redrive_count": {"DataType": "Number", "StringValue": "2"},
        "reason": {"DataType": "String", "StringValue": "auth"},
        "integration_id": {"DataType": "String", "StringValue": "int-1"},
        "detail": {"DataType": "String", "StringValue": "d" * DETAIL_MAX},
    }


def test_parking_reports_each_record_whose_message_was_not_sent(local):
    # GIVEN one record parked for two integrations and another record, and a DLQ failing the config one
    spy = WrappedClient(
        local.sqs, send_message_batch=_failing("InvalidParameterValue", sender_fault=True, reason="config")
    )
    items = [
        Parked("r-1", "{}", "auth", "int-1"),
        Parked("r-1", "{}", "config", "int-2"),
        Parked("r-2", "{}", "invalid", "int-1"),
    ]
    # WHEN parked
    failed = DeadLetters(spy, local.dlq_url, sleep=lambda s: None).park(items)
    # THEN only r-1's int-2 message (position 1) is reported; its int-1 message was sent
    assert failed == {1}
    reasons = sorted(
        m["MessageAttributes"]["reason"]["StringValue"] for m in _receive_all(local.sqs, local.dlq_url)
    )
    assert reasons == ["auth", "invalid"]


def test_release_makes_held_messages_visible_at_once_and_hold_keeps_them_hidden(local):
    # GIVEN 12 received messages (hidden for 30 s) and 2 received for 1 s
    url = local.events_queue_url
    send_batched(local.sqs, url, [Entry(str(i), f"m-{i}") for i in range(14)])
    first = local.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    second = local.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    short = [*first, *second][12:]
    handles = [m["ReceiptHandle"] for m in [*first, *second][:12]]
    local.sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 1}
            for i, m in enumerate(short)
        ],
    )
    spy = WrappedClient(local.sqs)
    # WHEN the 12 are released and the 2 held for a minute
    missed_release = release(spy, url, handles)
    missed_hold = hold(spy, url, [m["ReceiptHandle"] for m in short], 60)
    time.sleep(1.2)
    visible = _receive_all(local.sqs, url)
    # THEN exactly the 12 come back (in calls of 10 and 2), the 2 held ones stay hidden
    assert (missed_release, missed_hold) == (0, 0)
    assert sorted(m["Body"] for m in visible) == sorted(m["Body"] for m in [*first, *second][:12])
    assert [len(r["Entries"]) for r in spy.requests("change_message_visibility_batch")] == [10, 2, 2]
    assert [
        r["Entries"][0]["VisibilityTimeout"] for r in spy.requests("change_message_visibility_batch")
    ] == [0, 0, 60]


def test_release_and_hold_count_the_handles_sqs_did_not_change(local):
    # GIVEN one real handle and a bogus one
    url = local.events_queue_url
    send_batched(local.sqs, url, [Entry("1", "m-1")])
    [message] = local.sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    # WHEN released, and held on a missing queue
    missed = release(local.sqs, url, [message["ReceiptHandle"], "bogus"])
    missed_queue = hold(local.sqs, url + "-missing", ["a", "b", "c"], 30)
    # THEN the bogus handle, and every handle on the missing queue, are counted
    assert (missed, missed_queue) == (1, 3)


def test_delete_removes_messages_and_returns_the_positions_it_could_not_delete(local):
    # GIVEN 12 received messages and a bogus handle in the middle
    url = local.events_queue_url
    send_batched(local.sqs, url, [Entry(str(i), f"m-{i}") for i in range(12)])
    received = _receive_all(local.sqs, url)
    handles = [m["ReceiptHandle"] for m in received]
    handles.insert(5, "bogus")
    local.sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(received[:10])
        ],
    )
    local.sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(received[10:])
        ],
    )
    # WHEN deleted
    missed = delete(local.sqs, url, handles)
    # THEN only the bogus handle's position is returned and the queue is empty
    assert len(received) == 12
    assert missed == [5]
    assert _receive_all(local.sqs, url) == []
