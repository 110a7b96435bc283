"""relay.debugger.Debugger against the template's DebuggerTable in moto."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from relay.debugger import MAX_ID_CHARS, Debugger, DebuggerIncomplete
from relay.outbound import ServerEvent
from tests.fakes import WrappedClient
from tests.support import integration

TABLE = "DebuggerTable"


def _event(n: int, ip: str | None = "198.51.100.7") -> ServerEvent:
    user: dict[str, object] = {"em": "a" * 64, "client_user_agent": "UA/1"}
    if ip is not None:
        user["client_ip_address"] = ip
    payload = {"event_name": "Lead", "event_time": 1795694400, "event_id": f"m-{n}", "user_data": user}
    return ServerEvent("1234567890", "Lead", f"m-{n}", 1795694400, f"m-{n}", payload)


def _items(local) -> list[dict[str, Any]]:
    return sorted(local.dynamodb.scan(TableName=TABLE)["Items"], key=lambda i: i["recorded_at"]["S"])


def test_each_event_is_one_item_with_the_masked_payload_and_a_ttl(local):
    # GIVEN two events, one with an IPv4 and one with an IPv6 client address
    events = [_event(1), _event(2, ip="2001:db8:1234:5678::1")]
    # WHEN recorded as invalid
    Debugger(local.dynamodb, TABLE).record(integration(), events, "invalid", "http 400, code 100")
    items = _items(local)
    # THEN each is an item of int-1 with its outcome, detail and payload; the IP cut to its network
    assert [(i["integration_id"]["S"], i["event_id"]["S"], i["event_name"]["S"]) for i in items] == [
        ("int-1", "m-1", "Lead"),
        ("int-1", "m-2", "Lead"),
    ]
    assert {(i["outcome"]["S"], i["detail"]["S"]) for i in items} == {("invalid", "http 400, code 100")}
    assert json.loads(items[0]["payload"]["S"]) == {
        "event_name": "Lead",
        "event_time": 1795694400,
        "event_id": "m-1",
        "user_data": {"em": "a" * 64, "client_user_agent": "UA/1", "client_ip_address": "198.51.100.0/24"},
    }
    assert json.loads(items[1]["payload"]["S"])["user_data"]["client_ip_address"] == "2001:db8:1234::/48"
    assert "198.51.100.7" not in json.dumps(items)
    # ... and recorded_at is "<time>#<n>#<event id>", expiring 7 days after that time
    for n, item in enumerate(items):
        moment, position, event_id = item["recorded_at"]["S"].split("#")
        assert (position, event_id) == (f"{n:04d}", f"m-{n + 1}")
        assert item["expires_at"]["N"] == str(
            int((datetime.fromisoformat(moment) + timedelta(days=7)).timestamp())
        )


def test_a_payload_without_an_ip_is_stored_as_it_is_and_long_details_are_cut(local):
    # GIVEN an event without a client IP and a 600-character detail
    # WHEN recorded
    Debugger(local.dynamodb, TABLE).record(integration(), [_event(1, ip=None)], "retry", "x" * 600)
    [item] = _items(local)
    # THEN the payload is unchanged and the detail keeps its first 500 characters
    assert json.loads(item["payload"]["S"]) == _event(1, ip=None).payload
    assert item["detail"]["S"] == "x" * 500


def test_a_large_failure_is_summarised_by_its_first_100_events_in_batches_of_25(local):
    # GIVEN 130 events
    spy = WrappedClient(local.dynamodb)
    # WHEN recorded
    Debugger(spy, TABLE).record(integration(), [_event(n) for n in range(130)], "invalid", "http 400")
    # THEN the first 100 are stored, written 25 at a time
    items = local.dynamodb.scan(TableName=TABLE)["Items"]
    assert sorted(int(i["event_id"]["S"][2:]) for i in items) == list(range(100))
    assert [len(r["RequestItems"][TABLE]) for r in spy.requests("batch_write_item")] == [25, 25, 25, 25]


def test_a_long_event_id_and_a_large_payload_are_bounded_and_still_recorded(local):
    # GIVEN an event with a 3,000-character id and a payload over 64 KiB
    big = _event(1)
    big = big._replace(event_id="e" * 3000, payload={**big.payload, "custom_data": {"note": "n" * 70_000}})
    # WHEN recorded (DynamoDB caps a sort key at 1,024 bytes: an unbounded key would fail the write)
    Debugger(local.dynamodb, TABLE).record(integration(), [big], "invalid", "http 400")
    [item] = _items(local)
    # THEN the id is cut to MAX_ID_CHARS in the key and the attribute, and the payload is a note
    assert item["event_id"]["S"] == "e" * MAX_ID_CHARS
    assert len(item["recorded_at"]["S"].encode()) < 1024
    assert json.loads(item["payload"]["S"]) == {"omitted": "payload larger than 65,536 bytes"}


def test_records_dynamodb_leaves_unwritten_are_reported_not_dropped_silently(local):
    # GIVEN a table answering every write with all its items unprocessed (throttling)
    def throttled(call: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"UnprocessedItems": kwargs["RequestItems"]}

    spy = WrappedClient(local.dynamodb, batch_write_item=throttled)
    # WHEN 30 events are recorded / THEN the caller is told how many were not written
    with pytest.raises(DebuggerIncomplete, match=r"^debugger: 30 of 30 records not written$"):
        Debugger(spy, TABLE).record(integration(), [_event(n) for n in range(30)], "invalid", "http 400")
