"""GET /v1/admin/dlq and POST /v1/admin/dlq/redrive (relay.api.dlq) over moto's SQS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from relay.api.auth import fingerprint
from tests.admin_support import ADMIN_TOKEN, Admin

DLQ = "/v1/admin/dlq"
EMAIL = "jane.doe@example.com"


def park(admin: Admin, message_id: str, reason: str | None, integration_id: str | None, **event: Any) -> None:
    body = {
        "type": "track",
        "event": "Order Completed",
        "messageId": message_id,
        "timestamp": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "context": {"traits": {"email": EMAIL}, "ip": "198.51.100.7"},
        **event,
    }
    attributes = {}
    if reason is not None:
        attributes["reason"] = {"DataType": "String", "StringValue": reason}
        attributes["detail"] = {"DataType": "String", "StringValue": f"{reason}: http 400, code 190"}
    if integration_id is not None:
        attributes["integration_id"] = {"DataType": "String", "StringValue": integration_id}
    admin.local.sqs.send_message(
        QueueUrl=admin.local.dlq_url, MessageBody=json.dumps(body), MessageAttributes=attributes
    )


def visible(admin: Admin, url: str) -> int:
    attributes = admin.local.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_inspection_counts_by_reason_and_integration_with_samples_and_no_personal_data(admin):
    # GIVEN parked messages of two integrations and one SQS moved by itself (no reason attribute)
    park(admin, "a", "auth", "meta-1")
    park(admin, "b", "auth", "meta-1")
    park(admin, "c", "invalid", "meta-2", event="Product Viewed")
    park(admin, "d", None, None, type="page", event=None, name="Home")
    # WHEN inspected
    status, _, body = admin.call("GET", DLQ)
    # THEN the counts, the oldest age, and samples with ids, reasons and event names only
    assert status == 200, body
    assert body["messages"] == 4
    assert body["by_reason"] == {"auth": 2, "invalid": 1, "max_receive_count": 1}
    assert body["by_integration"] == {"meta-1": 2, "meta-2": 1, "": 1}
    assert body["complete"] is True
    assert body["oldest_age_s"] is not None
    assert body["oldest_age_s"] >= 0
    assert sorted((s["reason"], s["event_name"]) for s in body["samples"]) == [
        ("auth", "Order Completed"),
        ("auth", "Order Completed"),
        ("invalid", "Product Viewed"),
        ("max_receive_count", "Home"),
    ]
    text = json.dumps(body)
    assert EMAIL not in text
    assert "198.51.100.7" not in text
    # AND nothing moved: every message is still in the DLQ, visible again
    assert visible(admin, admin.local.dlq_url) == 4
    assert visible(admin, admin.local.events_queue_url) == 0


def test_inspection_shows_at_most_ten_samples_and_stops_at_max_messages(admin):
    for n in range(12):
        park(admin, f"m-{n}", "auth", "meta-1")
    body = admin.call("GET", DLQ)[2]
    assert (body["messages"], len(body["samples"])) == (12, 10)
    part = admin.call("GET", DLQ, query={"max_messages": "5"})[2]
    assert (part["messages"], part["complete"]) == (5, False)
    assert admin.call("GET", DLQ, query={"max_messages": "0"})[0] == 422


def test_an_empty_dlq_is_described_as_empty(admin):
    body = admin.call("GET", DLQ)[2]
    assert body == {
        "messages": 0,
        "by_reason": {},
        "by_integration": {},
        "oldest_sent_at": None,
        "oldest_age_s": None,
        "samples": [],
        "complete": True,
    }


def test_redrive_moves_only_what_its_filters_name_and_is_audited(admin):
    # GIVEN auth messages of two integrations and an invalid one
    park(admin, "a", "auth", "meta-1")
    park(admin, "b", "auth", "meta-2")
    park(admin, "c", "invalid", "meta-1")
    # WHEN meta-1's auth messages are redriven (after a dry run that moves nothing)
    request = {"integration_id": "meta-1", "reason": "auth"}
    dry = admin.call("POST", f"{DLQ}/redrive", {**request, "dry_run": True})[2]
    status, _, report = admin.call("POST", f"{DLQ}/redrive", request)
    # THEN the dry run counted one eligible, the run moved it; the other two stay
    assert (dry["eligible"], dry["moved"]) == (1, 0)
    assert status == 200
    assert (report["moved"], report["kept_filtered"]) == (1, 2)
    assert visible(admin, admin.local.events_queue_url) == 1
    assert visible(admin, admin.local.dlq_url) == 2
    assert admin.log.audits()[-1] == {
        "who": fingerprint(ADMIN_TOKEN),
        "action": "dlq.redrive",
        "id": "meta-1",
        "request": {"integration_id": "meta-1", "reason": "auth", "max_messages": 1000, "dry_run": False},
        "moved": 1,
    }


def test_a_bad_redrive_request_is_422_naming_the_field(admin):
    for body, path in (
        ({"reason": "nope"}, "reason"),
        ({"max_messages": 0}, "max_messages"),
        ({"extra": 1}, "extra"),
        ({"dry_run": "perhaps"}, "dry_run"),
    ):
        status, _, answer = admin.call("POST", f"{DLQ}/redrive", body)
        assert status == 422, answer
        assert [f["path"] for f in answer["error"]["fields"]] == [path]
