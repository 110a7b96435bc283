"""GET /v1/admin/integrations/{id}/deliveries and POST .../debug (relay.api.deliveries, relay.debugger)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from relay.debugger import Debugger
from relay.integrations import StoredIntegration
from relay.outbound import ServerEvent
from tests.admin_support import PREFIX, Admin


def event(n: int, name: str = "Purchase", ip: str = "198.51.100.7") -> ServerEvent:
    payload = {
        "event_name": name,
        "event_time": 1_796_000_000,
        "event_id": f"e-{n}",
        "user_data": {"em": "a" * 64, "client_ip_address": ip},
    }
    return ServerEvent("1234567890", name, f"e-{n}", 1_796_000_000, f"m-{n}", payload)


def record(
    admin: Admin, integration_id: str, events: list[ServerEvent], outcome: str, trace: str | None
) -> None:
    view = StoredIntegration.model_validate(
        {"id": integration_id, "source_id": "s", "config": {"pixel_id": "1234567890"}}
    ).view()
    table = admin.local.settings(None).debugger_table
    Debugger(admin.local.dynamodb, table).record(
        view, events, outcome, f"{outcome}: detail", fbtrace_id=trace
    )


def test_deliveries_are_listed_newest_first_with_the_payload_as_sent_and_the_ip_masked(admin):
    # GIVEN an integration with a failure recorded, then a success
    admin.create(id="meta-1")
    record(admin, "meta-1", [event(1)], "auth", "trace-1")
    record(admin, "meta-1", [event(2, "Lead")], "delivered", "trace-2")
    record(admin, "other", [event(3)], "invalid", None)
    # WHEN listed
    status, _, page = admin.call("GET", f"{PREFIX}/meta-1/deliveries")
    # THEN both of meta-1's records, newest first, with status, trace id and the stored payload
    assert status == 200, page
    assert [(d["event_id"], d["status"], d["fbtrace_id"]) for d in page["items"]] == [
        ("e-2", "delivered", "trace-2"),
        ("e-1", "auth", "trace-1"),
    ]
    first = page["items"][0]
    assert first["payload"]["user_data"]["em"] == "a" * 64
    assert first["payload"]["user_data"]["client_ip_address"] == "198.51.100.0/24"
    assert page["next_cursor"] is None


def test_deliveries_filter_by_status_event_name_and_time_and_page_with_a_cursor(admin):
    admin.create(id="meta-1")
    for n in range(3):
        record(admin, "meta-1", [event(n)], "invalid" if n % 2 else "delivered", None)
    by_status = admin.call("GET", f"{PREFIX}/meta-1/deliveries", query={"status": "invalid"})[2]
    assert [d["event_id"] for d in by_status["items"]] == ["e-1"]
    by_name = admin.call("GET", f"{PREFIX}/meta-1/deliveries", query={"event_name": "Lead"})[2]
    assert by_name["items"] == []
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert admin.call("GET", f"{PREFIX}/meta-1/deliveries", query={"since": later})[2]["items"] == []
    seen, cursor = [], None
    for _ in range(5):
        query = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = admin.call("GET", f"{PREFIX}/meta-1/deliveries", query=query)[2]
        seen += [d["event_id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["e-0", "e-1", "e-2"]


def test_bad_filters_are_refused_and_an_unknown_integration_is_404(admin):
    admin.create(id="meta-1")
    path = f"{PREFIX}/meta-1/deliveries"
    assert admin.call("GET", path, query={"status": "great"})[0] == 422
    assert admin.call("GET", path, query={"since": "yesterday"})[0] == 422
    assert admin.call("GET", path, query={"limit": "500"})[0] == 422
    early, late = "2026-12-01T00:00:00Z", "2026-11-01T00:00:00Z"
    status, _, body = admin.call("GET", path, query={"since": early, "until": late})
    assert (status, [f["path"] for f in body["error"]["fields"]]) == (400, ["since"])
    assert admin.call("GET", f"{PREFIX}/nope/deliveries")[0] == 404


def test_debug_for_n_minutes_stores_an_expiry_and_refuses_out_of_range_minutes(admin):
    # GIVEN an integration
    admin.create(id="meta-1")
    # WHEN successes are recorded for 30 minutes
    before = datetime.now(UTC)
    status, headers, body = admin.call("POST", f"{PREFIX}/meta-1/debug", {"minutes": 30})
    # THEN the integration carries an expiry 30 minutes out (no flag to clear), a new version
    assert status == 200, body
    until = datetime.fromisoformat(body["debug_until"])
    assert before + timedelta(minutes=29) < until <= datetime.now(UTC) + timedelta(minutes=30)
    assert body["debug"] is False
    assert (body["version"], headers["ETag"]) == (2, '"2"')
    view = admin.deps.store.get("meta-1").view()
    assert view.debugging(datetime.now(UTC))
    assert not view.debugging(until + timedelta(seconds=1))
    assert admin.log.audits()[-1]["action"] == "integration.debug"
    for minutes in (0, 1441, "ten"):
        assert admin.call("POST", f"{PREFIX}/meta-1/debug", {"minutes": minutes})[0] == 422
    assert admin.call("POST", f"{PREFIX}/nope/debug", {"minutes": 5})[0] == 404
