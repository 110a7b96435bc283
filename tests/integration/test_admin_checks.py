"""POST /v1/admin/integrations/{id}/test and GET .../health against the Graph emulator (relay.api.checks,
relay.vendors.meta_capi.health), over moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.apps.admin import build_deps
from relay.local.graph import Fault, GraphEmulator
from relay.local.stack import LocalStack
from relay.vendors import VENDORS
from tests.admin_support import PREFIX, PRODUCT_BODY, Admin, Lines, admin_settings, clients

PIXEL = "1234567890"
GOOD = "good-token"


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with GraphEmulator(access_tokens={PIXEL: GOOD}) as emulator:
        yield emulator


@pytest.fixture
def admin(graph: GraphEmulator) -> Iterator[Admin]:
    with LocalStack() as local:
        settings = admin_settings(local, graph_url=graph.url)
        log = Lines()
        deps = replace(build_deps(settings, clients=clients(local)), log=lambda: log)
        yield Admin(local, settings, deps, log)


def create(admin: Admin, token: str = GOOD, **config: Any) -> str:
    body = admin.create(id="meta-1", config={"pixel_id": PIXEL, "access_token": token, **config})
    return str(body["id"])


# ---- /test ---------------------------------------------------------------------------------------------


def test_a_test_event_reaches_meta_with_the_integrations_code_and_no_personal_data(admin, graph):
    # GIVEN an integration with a test event code
    create(admin, test_event_code="TEST12345")
    # WHEN /test is called without a body
    status, _, body = admin.call("POST", f"{PREFIX}/meta-1/test")
    # THEN Meta's answer: one event received, its trace id; the event is a PageView under that code
    assert status == 200, body
    assert body["ok"] is True
    assert (body["events_received"], body["test_event_code"], body["event_name"]) == (
        1,
        "TEST12345",
        "PageView",
    )
    assert body["fbtrace_id"]
    (accepted,) = graph.accepted
    assert (accepted.pixel_id, accepted.test_event_code) == (PIXEL, "TEST12345")
    assert accepted.event["event_id"] == body["event_id"]
    assert set(accepted.event["user_data"]) == {"external_id", "client_user_agent"}
    # AND the token went in the header only, and is in no answer or log
    (sent,) = graph.requests
    assert sent.headers["authorization"] == f"Bearer {GOOD}"
    assert GOOD not in json.dumps(body) + json.dumps(admin.log.lines)


def test_the_bodys_code_wins_and_a_disabled_integration_with_consent_rules_can_still_be_tested(admin, graph):
    create(admin, test_event_code="TEST1")
    assert admin.call("PATCH", f"{PREFIX}/meta-1", {"enabled": False, "require_consent": True})[0] == 200
    status, _, body = admin.call("POST", f"{PREFIX}/meta-1/test", {"test_event_code": "TEST2"})
    assert (status, body["ok"], body["test_event_code"]) == (200, True, "TEST2")
    assert graph.accepted[0].test_event_code == "TEST2"


def test_without_any_test_event_code_the_call_is_refused_with_400_and_nothing_is_sent(admin, graph):
    create(admin)
    status, _, body = admin.call("POST", f"{PREFIX}/meta-1/test")
    assert status == 400
    assert [f["path"] for f in body["error"]["fields"]] == ["test_event_code"]
    assert graph.requests == []


def test_a_refused_token_is_classified_with_what_to_do(admin, graph):
    # GIVEN an integration whose token Meta refuses
    create(admin, token="revoked-token", test_event_code="TEST1")
    # WHEN tested
    status, _, body = admin.call("POST", f"{PREFIX}/meta-1/test")
    # THEN 200 with ok false and the refusal classified (code 190), never Meta's message
    assert status == 200
    assert body["ok"] is False
    error = body["error"]
    assert (error["problem"], error["code"], error["http_status"]) == ("token_invalid_or_expired", 190, 400)
    assert "access_token" in error["advice"]
    assert "session has been invalidated" not in json.dumps(body).lower()


def test_an_invalid_test_body_or_an_unknown_integration(admin):
    create(admin, test_event_code="T")
    assert admin.call("POST", f"{PREFIX}/meta-1/test", {"code": "x"})[0] == 422
    assert admin.call("POST", f"{PREFIX}/meta-1/test", {"test_event_code": ""})[0] == 422
    assert admin.call("POST", f"{PREFIX}/nope/test", {"test_event_code": "T"})[0] == 404


def test_a_test_without_a_stored_token_says_so_without_calling_meta(admin, graph):
    create(admin, test_event_code="T")
    admin.local.secretsmanager.delete_secret(
        SecretId=f"{admin.settings.token_secret_prefix}meta-1/access-token", ForceDeleteWithoutRecovery=True
    )
    status, _, body = admin.call("POST", f"{PREFIX}/meta-1/test")
    assert (status, body["ok"], body["error"]["problem"]) == (200, False, "token_missing")
    assert graph.requests == []


# ---- /health -------------------------------------------------------------------------------------------


def test_health_is_ok_for_a_valid_token_and_reads_the_pixel_with_the_token_in_the_header(admin, graph):
    create(admin)
    status, _, body = admin.call("GET", f"{PREFIX}/meta-1/health")
    assert status == 200, body
    assert (body["status"], body["pixel_id"], body["api_version"]) == ("ok", PIXEL, "v25.0")
    assert body["pixel_name"] == f"Emulated pixel {PIXEL}"
    assert body["error"] is None
    assert body["dlq"] == {"messages": 0, "expired": 0, "complete": True}
    assert body["last_delivery"] is None
    (read,) = graph.requests
    assert (read.path, read.query, read.headers["authorization"]) == (f"/v25.0/{PIXEL}", {}, f"Bearer {GOOD}")


@pytest.mark.parametrize(
    ("setup", "status", "code"),
    [
        ({"token": "expired-token"}, "token_invalid_or_expired", 190),
        ({"fault": "auth_190"}, "token_invalid_or_expired", 190),
        ({"fault": "permission_200"}, "missing_permission", 200),
        ({"pixel": "99999"}, "unknown_pixel_or_no_access", 100),
        ({"fault": "version_2635"}, "api_version_unsupported", 2635),
        ({"fault": "http_503"}, "unreachable", 2),
        ({"fault": "html_502"}, "unreachable", None),
    ],
)
def test_health_says_plainly_what_is_wrong(admin, graph, setup, status, code):
    # GIVEN an integration and the Graph answer under test
    pixel = setup.get("pixel", PIXEL)
    admin.create(id="meta-1", config={"pixel_id": pixel, "access_token": setup.get("token", GOOD)})
    if "fault" in setup:
        graph.inject(Fault(setup["fault"]))
    # WHEN its health is read
    answer_status, _, body = admin.call("GET", f"{PREFIX}/meta-1/health")
    # THEN one plain status with advice, and the code that shows it
    assert answer_status == 200, body
    assert body["status"] == status
    assert body["advice"]
    assert body["error"]["code"] == code
    assert GOOD not in json.dumps(body)


def test_health_names_an_unsupported_api_version(graph):
    with (
        LocalStack() as local,
        GraphEmulator(access_tokens={PIXEL: GOOD}, unsupported_versions={"v21.0"}) as old,
    ):
        settings = admin_settings(local, graph_url=old.url)
        deps = replace(build_deps(settings, clients=clients(local)), log=Lines)
        admin = Admin(local, settings, deps, Lines())
        admin.create(id="meta-1", config={"pixel_id": PIXEL, "access_token": GOOD, "api_version": "v21.0"})
        body = admin.call("GET", f"{PREFIX}/meta-1/health")[2]
        assert (body["status"], body["error"]["code"], body["api_version"]) == (
            "api_version_unsupported",
            2635,
            "v21.0",
        )


def test_health_is_unreachable_when_nothing_answers():
    with LocalStack() as local:
        with GraphEmulator() as gone:
            url = gone.url
        settings = admin_settings(local, graph_url=url)
        deps = replace(build_deps(settings, clients=clients(local)), log=Lines)
        admin = Admin(local, settings, deps, Lines())
        admin.create(id="meta-1", config={"pixel_id": PIXEL, "access_token": GOOD})
        body = admin.call("GET", f"{PREFIX}/meta-1/health")[2]
        assert (body["status"], body["error"]["retryable"]) == ("unreachable", True)


def test_health_counts_the_integrations_dlq_messages_and_leaves_them_there(admin):
    # GIVEN two parked messages of meta-1 (one past Meta's age limit) and one of another integration
    create(admin)
    recent = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    old = (datetime.now(UTC) - timedelta(days=9)).isoformat()
    for message_id, integration_id, when in (
        ("a", "meta-1", recent),
        ("b", "meta-1", old),
        ("c", "meta-2", recent),
    ):
        admin.local.sqs.send_message(
            QueueUrl=admin.local.dlq_url,
            MessageBody=json.dumps(
                {"type": "track", "event": "X", "messageId": message_id, "timestamp": when}
            ),
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": "auth"},
                "integration_id": {"DataType": "String", "StringValue": integration_id},
            },
        )
    # WHEN its health is read
    body = admin.call("GET", f"{PREFIX}/meta-1/health")[2]
    # THEN two messages, one of them expired; all three are still in the DLQ, visible again
    assert body["dlq"] == {"messages": 2, "expired": 1, "complete": True}
    attributes = admin.local.sqs.get_queue_attributes(
        QueueUrl=admin.local.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "3"


def test_health_gives_the_newest_debugger_record_without_its_payload(admin):
    # GIVEN two debugger records of meta-1
    create(admin)
    table = admin.local.settings(None).debugger_table
    for n, outcome in ((1, "auth"), (2, "delivered")):
        admin.local.dynamodb.put_item(
            TableName=table,
            Item={
                "integration_id": {"S": "meta-1"},
                "recorded_at": {"S": f"2026-12-03T10:0{n}:00+00:00#0000#e-{n}"},
                "event_name": {"S": "Purchase"},
                "event_id": {"S": f"e-{n}"},
                "outcome": {"S": outcome},
                "detail": {"S": "ok" if n == 2 else "auth: http 400, code 190"},
                "payload": {"S": '{"user_data": {"em": "hashed"}}'},
                "expires_at": {"N": "9999999999"},
            },
        )
    # WHEN its health is read
    body = admin.call("GET", f"{PREFIX}/meta-1/health")[2]
    # THEN the newest record, without the payload
    assert body["last_delivery"] == {
        "recorded_at": "2026-12-03T10:02:00+00:00",
        "event_name": "Purchase",
        "event_id": "e-2",
        "outcome": "delivered",
        "detail": "ok",
    }


def test_health_of_an_unknown_integration_is_404(admin):
    assert admin.call("GET", f"{PREFIX}/nope/health")[0] == 404


def test_health_and_test_need_the_admin_token(admin, graph):
    create(admin, test_event_code="T")
    assert admin.call("GET", f"{PREFIX}/meta-1/health", token=None)[0] == 401
    assert admin.call("POST", f"{PREFIX}/meta-1/test", token="wrong")[0] == 401
    assert graph.requests == []


def test_the_product_curl_integration_tests_through_the_emulator_and_is_healthy_then_not(admin, graph):
    # GIVEN the product description's integration, and an emulator that accepts its token
    graph_tokens = {PIXEL: "your_access_token"}
    with GraphEmulator(access_tokens=graph_tokens) as meta:
        admin.deps = replace(admin.deps, client=lambda vendor: VENDORS[vendor].new_client(meta.url))
        created = admin.create(**{k: v for k, v in PRODUCT_BODY.items() if k != "config"})
        path = f"{PREFIX}/{created['id']}"
        # WHEN it is tested (with a code) and its health read; then its token is one Meta refuses
        tested = admin.call("POST", f"{path}/test", {"test_event_code": "TEST12345"})[2]
        healthy = admin.call("GET", f"{path}/health")[2]
        assert admin.call("PATCH", path, {"config": {"access_token": "revoked"}})[0] == 200
        refused = admin.call("GET", f"{path}/health")[2]
    # THEN the test reached Meta, health was ok, and then token_invalid_or_expired
    assert (tested["ok"], meta.accepted[0].test_event_code) == (True, "TEST12345")
    assert healthy["status"] == "ok"
    assert refused["status"] == "token_invalid_or_expired"
