"""The admin API (relay.api, relay.apps.admin, functions/admin/app.py) over moto: integrations CRUD, auth,
the error contract, conditional writes, the token change → redrive flow, and no token anywhere."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.api.app import MAX_BODY_BYTES, OPENAPI_PATH
from relay.api.auth import fingerprint
from relay.apps.admin import AdminTokenUnavailable, admin_token_reader, build_deps
from relay.local.stack import LocalStack
from relay.secrets import secret_name
from tests.admin_support import (
    ADMIN_TOKEN,
    META_TOKEN,
    PREFIX,
    PRODUCT_BODY,
    Admin,
    Lines,
    admin_settings,
    clients,
    request,
)
from tests.fakes import WrappedClient, client_error
from tests.support import EVENTS, LambdaContext, load_handler_module

# ---- create ---------------------------------------------------------------------------------------


def test_the_product_descriptions_body_creates_an_integration_whose_token_is_only_in_its_secret(admin):
    # GIVEN the product description's curl body, verbatim
    # WHEN it is posted with the admin token
    status, headers, body = admin.call("POST", PREFIX, PRODUCT_BODY)
    # THEN 201 with the integration (defaults filled in), its ETag and Location, and no token
    assert status == 201
    assert body["source_id"] == "src_abc123"
    assert (body["vendor"], body["name"], body["enabled"], body["variant"]) == (
        "meta_capi",
        "Meta CAPI Production",
        True,
        "default",
    )
    assert body["config"]["pixel_id"] == "1234567890"
    assert body["consent_categories"] == ["advertising"]
    assert (body["token_last4"], body["version"]) == ("oken", 1)
    assert headers["ETag"] == '"1"'
    assert headers["Location"] == f"{PREFIX}/{body['id']}"
    assert "access_token" not in body["config"]
    # AND the token is the secret delivery reads; the table item holds only its last four characters
    assert admin.secret(body["id"]) == META_TOKEN
    (item,) = admin.items()
    assert META_TOKEN not in json.dumps(item)
    assert item["token_last4"] == {"S": "oken"}
    assert item["secret_version"]["S"]
    # AND one audit line names the caller by fingerprint, the action and the id
    assert admin.log.audits() == [
        {
            "who": fingerprint(ADMIN_TOKEN),
            "action": "integration.create",
            "id": body["id"],
            "source_id": "src_abc123",
        }
    ]


def test_the_handler_answers_the_sample_event_of_the_product_curl():
    # GIVEN AdminFunction's environment over moto and the sample event (events/admin/create_integration.json)
    event = json.loads((EVENTS / "admin" / "create_integration.json").read_text())
    with LocalStack() as local:
        settings = admin_settings(local)
        env = {k.upper(): str(v) for k, v in settings.model_dump(exclude_none=True).items()}
        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, value)
            mp.delenv("ADMIN_TOKEN_SECRET", raising=False)
            import relay.apps.admin
            import relay.aws
            import relay.settings

            relay.settings.clear()
            relay.aws.aws_client.cache_clear()
            relay.apps.admin.deps.cache_clear()
            handler = load_handler_module("admin").handler
            # WHEN the handler runs
            answer = handler(event, LambdaContext())
            relay.apps.admin.deps.cache_clear()
        # THEN the integration is created
        assert answer["statusCode"] == 201, answer
        created = json.loads(answer["body"])
        assert created["name"] == "Meta CAPI Production"
        name = secret_name(settings.token_secret_prefix, created["id"])
        assert local.secretsmanager.get_secret_value(SecretId=name)["SecretString"] == META_TOKEN


def test_every_optional_field_and_config_key_delivery_understands_is_accepted(admin):
    # GIVEN a body with variant, require_consent, debug and every config key
    config = {
        "pixel_id": "42",
        "access_token": "EAAB-token-9876",
        "test_event_code": "TEST12345",
        "event_mappings": {"Order Completed": "Purchase", "Product Viewed": None},
        "value_field": "revenue",
        "default_country": "de",
        "ldu": True,
        "api_version": "v24.0",
    }
    # WHEN created with a client-supplied id
    body = admin.create(
        id="meta-shop",
        variant="retail",
        require_consent=True,
        debug=True,
        config=config,
        consent_categories=[],
    )
    # THEN every value is kept (normalised where the model normalises) and read back the same
    assert body["id"] == "meta-shop"
    assert (body["variant"], body["require_consent"], body["debug"]) == ("retail", True, True)
    assert body["config"] == {
        "pixel_id": "42",
        "test_event_code": "TEST12345",
        "event_mappings": {"Order Completed": "Purchase", "Product Viewed": None},
        "value_field": "revenue",
        "default_country": "DE",
        "ldu": {"country": 0, "state": 0},
        "api_version": "v24.0",
    }
    status, _, again = admin.call("GET", f"{PREFIX}/meta-shop")
    assert (status, again) == (200, body)


def test_a_client_supplied_id_that_exists_is_a_conflict(admin):
    # GIVEN an integration with id meta-1
    admin.create(id="meta-1")
    # WHEN another is created with the same id
    status, _, body = admin.call("POST", PREFIX, {**PRODUCT_BODY, "id": "meta-1"})
    # THEN 409, and the first one is untouched
    assert status == 409
    assert body["error"]["code"] == "conflict"
    assert len(admin.items()) == 1


@pytest.mark.parametrize(
    ("change", "paths"),
    [
        ({"config": {"pixel_id": "pixel-1", "access_token": "t0k3n-abcd"}}, ["config.pixel_id"]),
        ({"vendor": "google_ads"}, ["vendor"]),
        ({"variant": "fashion"}, ["variant"]),
        ({"config": {"pixel_id": "1", "access_token": "t0k3n-abcd", "pixel": "2"}}, ["config.pixel"]),
        (
            {"config": {"pixel_id": "1", "access_token": "t0k3n-abcd", "api_version": "25"}},
            ["config.api_version"],
        ),
        ({"source_id": ""}, ["source_id"]),
        ({"enabled": "maybe"}, ["enabled"]),
        ({"consent_categories": "advertising"}, ["consent_categories"]),
        (
            {"config": {"pixel_id": "1", "access_token": "t0k3n-abcd", "ldu": {"country": "x"}}},
            ["config.ldu.country"],
        ),
        ({"owner": "me"}, ["owner"]),
        ({"id": "has space"}, ["id"]),
    ],
)
def test_invalid_create_bodies_are_422_naming_each_field(admin, change, paths):
    # GIVEN the product body with one thing wrong
    # WHEN it is posted
    status, _, body = admin.call("POST", PREFIX, {**PRODUCT_BODY, **change})
    # THEN 422 naming the field(s) by path, nothing stored, no secret written
    assert status == 422, body
    assert [f["path"] for f in body["error"]["fields"]] == paths
    assert admin.items() == []
    assert admin.local.secretsmanager.list_secrets()["SecretList"] == []


def test_a_missing_or_blank_access_token_on_create_is_422_naming_config_access_token(admin):
    for config in ({"pixel_id": "1"}, {"pixel_id": "1", "access_token": "  "}):
        # WHEN created without a usable token
        status, _, body = admin.call("POST", PREFIX, {**PRODUCT_BODY, "config": config})
        # THEN 422 on config.access_token
        assert status == 422
        assert [f["path"] for f in body["error"]["fields"]] == ["config.access_token"]
    assert admin.items() == []


def test_a_refusal_never_repeats_the_values_sent(admin):
    # GIVEN a body whose token is of the wrong type and whose pixel is wrong
    secret = "EAAB-very-secret-token"
    bad = {**PRODUCT_BODY, "config": {"pixel_id": secret, "access_token": 12345}, "name": secret}
    bad["name"] = ["not", "a", "string", secret]
    # WHEN posted
    status, _, body = admin.call("POST", PREFIX, bad)
    # THEN the fields are named, but no value sent appears in the answer
    assert status == 422
    assert {f["path"] for f in body["error"]["fields"]} >= {"config.pixel_id", "config.access_token", "name"}
    assert secret not in json.dumps(body)
    assert "12345" not in json.dumps(body)


# ---- the gate: auth, size, media type, JSON ------------------------------------------------------------

ROUTES = [
    ("POST", PREFIX),
    ("GET", PREFIX),
    ("GET", f"{PREFIX}/int-1"),
    ("PATCH", f"{PREFIX}/int-1"),
    ("DELETE", f"{PREFIX}/int-1"),
    ("GET", "/v1/admin/no-such-route"),
    ("PUT", f"{PREFIX}/int-1"),
    ("POST", f"{PREFIX}/int-1/test"),
    ("GET", f"{PREFIX}/int-1/health"),
    ("GET", "/v1/admin/dlq"),
    ("GET", f"{PREFIX}/int-1/deliveries"),
    ("POST", f"{PREFIX}/int-1/debug"),
    ("POST", "/v1/admin/dlq/redrive"),
    ("POST", "/v1/admin/sources"),
    ("GET", "/v1/admin/sources/src-1"),
    ("POST", "/v1/admin/sources/src-1/rotate-key"),
    ("DELETE", "/v1/admin/sources/src-1"),
    ("GET", f"{PREFIX}/int-1/stats"),
    ("GET", "/v1/admin/info"),
    ("GET", "/v1/admin/vendors"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    ("token", "headers"),
    [
        (None, {}),
        ("wrong-token", {}),
        (ADMIN_TOKEN + "x", {}),
        (None, {"authorization": f"Basic {ADMIN_TOKEN}"}),
        (None, {"authorization": ADMIN_TOKEN}),
        (None, {"authorization": "Bearer "}),
    ],
)
def test_every_route_refuses_a_missing_or_wrong_token_with_401_before_validation(
    admin, method, path, token, headers
):
    # GIVEN a request without the admin token, whose body would also fail validation
    # WHEN it arrives
    status, answer_headers, body = admin.call(method, path, "{not json", token=token, headers=headers)
    # THEN 401 with the Bearer challenge, whatever the route or the body
    assert status == 401
    assert answer_headers["WWW-Authenticate"].startswith("Bearer")
    assert body["error"]["code"] == "unauthorized"
    assert admin.items() == []


def test_the_bearer_scheme_is_case_insensitive_and_the_header_name_any_case(admin):
    # WHEN the token comes as "bearer" under "Authorization"
    status, _, _ = admin.call("GET", PREFIX, token=None, headers={"Authorization": f"bearer {ADMIN_TOKEN}"})
    # THEN it is accepted
    assert status == 200


def test_the_openapi_document_is_the_one_open_route_and_describes_the_api(admin):
    # WHEN it is read without a token
    status, _, document = admin.call("GET", OPENAPI_PATH, token=None)
    # THEN it is an OpenAPI document with every integrations route, bearer security and the models
    assert status == 200
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        PREFIX,
        f"{PREFIX}/{{integration_id}}",
        f"{PREFIX}/{{integration_id}}/test",
        f"{PREFIX}/{{integration_id}}/health",
        f"{PREFIX}/{{integration_id}}/deliveries",
        f"{PREFIX}/{{integration_id}}/debug",
        "/v1/admin/dlq",
        "/v1/admin/dlq/redrive",
        "/v1/admin/sources",
        "/v1/admin/sources/{source_id}",
        "/v1/admin/sources/{source_id}/rotate-key",
        f"{PREFIX}/{{integration_id}}/stats",
        "/v1/admin/info",
        "/v1/admin/vendors",
    }
    assert set(document["paths"][PREFIX]) == {"get", "post"}
    assert set(document["paths"][f"{PREFIX}/{{integration_id}}"]) == {"get", "patch", "delete"}
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"bearer": []}]
    assert "IntegrationInput" in document["components"]["schemas"]
    # AND another method on it still needs the token
    assert admin.call("POST", OPENAPI_PATH, {}, token=None)[0] == 401


def test_a_body_over_64_kb_is_413_and_not_read(admin):
    # GIVEN a body one byte over the cap
    big = json.dumps({**PRODUCT_BODY, "name": "x" * MAX_BODY_BYTES})
    # WHEN posted (plain, and base64-encoded as API Gateway may pass it)
    status, _, body = admin.call("POST", PREFIX, big)
    event = request("POST", PREFIX, base64.b64encode(big.encode()).decode())
    event["isBase64Encoded"] = True
    from relay.api.app import handle

    encoded = handle(event, None, deps=admin.deps)
    # THEN 413 both ways, nothing stored
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    assert encoded["statusCode"] == 413
    assert admin.items() == []


def test_a_base64_body_is_decoded(admin):
    # GIVEN the product body base64-encoded
    event = request("POST", PREFIX, base64.b64encode(json.dumps(PRODUCT_BODY).encode()).decode())
    event["isBase64Encoded"] = True
    from relay.api.app import handle

    # WHEN posted / THEN created
    assert handle(event, None, deps=admin.deps)["statusCode"] == 201


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_by_its_media_type_is_415(admin, content_type):
    headers = {"content-type": content_type} if content_type else {}
    event = request("POST", PREFIX, PRODUCT_BODY, headers=headers)
    if content_type is None:
        event["headers"].pop("content-type")
    from relay.api.app import handle

    # WHEN posted
    answer = handle(event, None, deps=admin.deps)
    # THEN 415, nothing stored
    assert answer["statusCode"] == 415
    assert admin.items() == []


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/merge-patch+json"])
def test_json_media_types_with_parameters_or_a_json_suffix_are_accepted(admin, content_type):
    status, _, _ = admin.call("POST", PREFIX, PRODUCT_BODY, headers={"content-type": content_type})
    assert status == 201


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", "null", '"text"'])
def test_a_body_that_is_not_a_json_object_is_400_or_422_never_500(admin, text):
    # WHEN such a body is posted
    status, _, body = admin.call("POST", PREFIX, text)
    # THEN a client error in the error format
    assert status in (400, 422), body
    assert body["error"]["status"] == status


def test_an_unknown_route_is_404_in_the_error_format(admin):
    status, _, body = admin.call("GET", "/v1/admin/nothing-here")
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_an_internal_failure_is_500_with_a_correlation_id_and_no_detail(admin):
    # GIVEN a store whose table read fails with a message that quotes a value
    class Broken:
        def page(self, **kwargs: Any) -> Any:
            raise RuntimeError("boom: EAAB-secret-in-message")

    deps = replace(admin.deps, store=Broken())
    from relay.api.app import handle

    # WHEN listed
    answer = handle(request("GET", PREFIX), None, deps=deps)
    body = json.loads(answer["body"])
    # THEN 500, the request's correlation id, no message detail; the log line has the class, not the message
    assert answer["statusCode"] == 500
    assert body["error"] == {
        "status": 500,
        "code": "internal_error",
        "message": "internal error",
        "fields": [],
        "correlation_id": "req-1",
    }
    assert "EAAB" not in json.dumps(admin.log.lines)
    assert any('"RuntimeError"' in line and "req-1" in line for line in admin.log.lines)


# ---- read and list -------------------------------------------------------------------------------------


def test_read_one_gives_its_etag_and_an_unknown_id_is_404(admin):
    created = admin.create()
    status, headers, body = admin.call("GET", f"{PREFIX}/{created['id']}")
    assert (status, headers["ETag"], body) == (200, '"1"', created)
    status, _, body = admin.call("GET", f"{PREFIX}/nope")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, _, body = admin.call("GET", f"{PREFIX}/bad%20id")
    assert status in (404, 422)


def test_list_filters_by_source_and_pages_with_an_opaque_cursor(admin):
    # GIVEN three integrations of src-a and one of src-b
    for n in range(3):
        admin.create(id=f"a-{n}", source_id="src-a")
    admin.create(id="b-0", source_id="src-b")
    # WHEN src-a is listed one at a time
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        query = {"source_id": "src-a", "limit": "1", **({"cursor": cursor} if cursor else {})}
        status, _, page = admin.call("GET", PREFIX, query=query)
        assert status == 200
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # THEN every src-a integration once, none of src-b; the unfiltered list has all four
    assert sorted(seen) == ["a-0", "a-1", "a-2"]
    status, _, everything = admin.call("GET", PREFIX)
    assert sorted(item["id"] for item in everything["items"]) == ["a-0", "a-1", "a-2", "b-0"]
    assert "access_token" not in json.dumps(everything)


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b'{"id": 1}').decode()}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
    ],
)
def test_a_bad_cursor_or_limit_is_422_naming_it(admin, query, path):
    status, _, body = admin.call("GET", PREFIX, query=query)
    assert status == 422, body
    assert [f["path"] for f in body["error"]["fields"]] == [path]


def test_an_unreadable_item_is_listed_as_broken_not_as_an_error(admin):
    # GIVEN a hand-written item with a non-numeric pixel
    admin.create(id="good")
    admin.local.dynamodb.put_item(
        TableName=admin.settings.integrations_table,
        Item={"id": {"S": "bad"}, "source_id": {"S": "src"}, "config": {"M": {"pixel_id": {"S": "x"}}}},
    )
    # WHEN listed
    status, _, page = admin.call("GET", PREFIX)
    # THEN the good one is an item and the bad one is named with its problem
    assert status == 200
    assert [i["id"] for i in page["items"]] == ["good"]
    assert [(b["id"], b["source_id"]) for b in page["broken"]] == [("bad", "src")]


# ---- patch ---------------------------------------------------------------------------------------------


def test_patch_merges_json_null_resets_and_the_version_moves(admin):
    # GIVEN an integration with a test code
    created = admin.create(
        config={"pixel_id": "1234567890", "access_token": META_TOKEN, "test_event_code": "T1"}
    )
    path = f"{PREFIX}/{created['id']}"
    # WHEN a merge patch renames it, drops the name... resets test_event_code and sets a mapping
    status, headers, body = admin.call(
        "PATCH",
        path,
        {
            "name": None,
            "enabled": False,
            "config": {"test_event_code": None, "event_mappings": {"Signed Up": "Lead"}},
        },
        headers={"if-match": '"1"'},
    )
    # THEN the merge applied, the pixel (not in the patch) kept, the version and ETag moved, no redrive
    assert status == 200, body
    assert (body["name"], body["enabled"], body["version"], headers["ETag"]) == ("", False, 2, '"2"')
    assert body["config"]["pixel_id"] == "1234567890"
    assert body["config"]["test_event_code"] is None
    assert body["config"]["event_mappings"] == {"Signed Up": "Lead"}
    assert body["redrive"] is None
    assert body["token_last4"] == "oken"
    assert admin.secret(created["id"]) == META_TOKEN
    assert admin.call("GET", path)[2]["version"] == 2
    assert admin.log.audits()[-1] == {
        "who": fingerprint(ADMIN_TOKEN),
        "action": "integration.update",
        "id": created["id"],
        "fields": ["config", "enabled", "name"],
        "token_changed": False,
    }


@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "1", "garbage", '"99"'])
def test_a_stale_or_foreign_if_match_is_412_and_changes_nothing(admin, if_match):
    # GIVEN an integration patched once (version 2)
    created = admin.create()
    path = f"{PREFIX}/{created['id']}"
    assert admin.call("PATCH", path, {"name": "v2"})[0] == 200
    # WHEN patched or deleted with an If-Match that is not version 2
    patched = admin.call("PATCH", path, {"name": "v3"}, headers={"if-match": if_match})
    deleted = admin.call("DELETE", path, headers={"if-match": if_match})
    # THEN 412 both, and the item is still version 2
    assert (patched[0], deleted[0]) == (412, 412)
    assert patched[2]["error"]["code"] == "precondition_failed"
    assert admin.call("GET", path)[2]["name"] == "v2"


def test_if_match_star_or_the_current_etag_is_accepted(admin):
    created = admin.create()
    path = f"{PREFIX}/{created['id']}"
    assert admin.call("PATCH", path, {"name": "a"}, headers={"if-match": "*"})[0] == 200
    assert admin.call("PATCH", path, {"name": "b"}, headers={"if-match": 'W/"2"'})[0] == 200


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"config": {"pixel_id": None}}, "config.pixel_id"),
        ({"config": {"pixel_id": "abc"}}, "config.pixel_id"),
        ({"config": {"access_token": None}}, "config.access_token"),
        ({"config": {"access_token": ""}}, "config.access_token"),
        ({"config": {"colour": "red"}}, "config.colour"),
        ({"variant": "fashion"}, "variant"),
        ({"version": 7}, "version"),
        ({"token_last4": "abcd"}, "token_last4"),
        ({"id": "other"}, "id"),
    ],
)
def test_an_invalid_patch_is_422_naming_the_field_and_changes_nothing(admin, patch, path):
    created = admin.create()
    status, _, body = admin.call("PATCH", f"{PREFIX}/{created['id']}", patch)
    assert status == 422, body
    assert path in [f["path"] for f in body["error"]["fields"]]
    status, _, again = admin.call("GET", f"{PREFIX}/{created['id']}")
    assert again == created
    assert admin.secret(created["id"]) == META_TOKEN


def test_patching_an_unknown_integration_is_404(admin):
    status, _, body = admin.call("PATCH", f"{PREFIX}/nope", {"name": "x"})
    assert (status, body["error"]["code"]) == (404, "not_found")


def _park(admin: Admin, message_id: str, integration_id: str, reason: str) -> None:
    when = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    event = {"type": "track", "event": "Order Completed", "messageId": message_id, "timestamp": when}
    admin.local.sqs.send_message(
        QueueUrl=admin.local.dlq_url,
        MessageBody=json.dumps(event),
        MessageAttributes={
            "reason": {"DataType": "String", "StringValue": reason},
            "integration_id": {"DataType": "String", "StringValue": integration_id},
        },
    )


def _queued(admin: Admin, url: str) -> list[str]:
    ids: list[str] = []
    while True:
        got = admin.local.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return sorted(ids)
        ids += [json.loads(m["Body"])["messageId"] for m in got]


def test_a_token_change_writes_a_new_version_then_redrives_that_integrations_auth_messages(admin):
    # GIVEN an integration whose events were parked for its refused token, and other parked messages
    created = admin.create(id="meta-1")
    admin.create(id="meta-2")
    for n in range(3):
        _park(admin, f"auth-{n}", "meta-1", "auth")
    _park(admin, "other-integration", "meta-2", "auth")
    _park(admin, "invalid-one", "meta-1", "invalid")
    name = secret_name(admin.settings.token_secret_prefix, "meta-1")
    before = admin.local.secretsmanager.get_secret_value(SecretId=name)["VersionId"]
    # WHEN its token is changed
    new_token = "EAAB-fixed-token-5678"
    status, _, body = admin.call("PATCH", f"{PREFIX}/meta-1", {"config": {"access_token": new_token}})
    # THEN a new secret version holds it, the item says its last four, and the response says 3 were moved
    assert status == 200, body
    after = admin.local.secretsmanager.get_secret_value(SecretId=name)
    assert after["SecretString"] == new_token
    assert after["VersionId"] != before
    assert body["token_last4"] == "5678"
    assert body["redrive"]["moved"] == 3
    assert body["redrive"]["error"] is None
    assert body["version"] == created["version"] + 1
    # AND exactly those three are back on the events queue; the others stay in the DLQ
    assert _queued(admin, admin.local.events_queue_url) == ["auth-0", "auth-1", "auth-2"]
    assert _queued(admin, admin.local.dlq_url) == ["invalid-one", "other-integration"]
    # AND the new token is nowhere in the answer, the table or the log
    assert new_token not in json.dumps(body)
    assert new_token not in json.dumps(admin.items())
    assert new_token not in json.dumps(admin.log.lines)
    assert admin.log.audits()[-1]["token_changed"] is True


def test_a_failed_redrive_after_a_token_change_is_reported_and_the_change_kept(admin):
    # GIVEN a redrive that cannot reach SQS
    admin.create(id="meta-1")

    def broken(request: Any) -> Any:
        raise ConnectionError("sqs unreachable")

    admin.deps = replace(admin.deps, redrive=broken)
    # WHEN the token changes
    status, _, body = admin.call("PATCH", f"{PREFIX}/meta-1", {"config": {"access_token": "EAAB-new-1111"}})
    # THEN 200, the token is stored, and the answer says the redrive did not run and how to run it
    assert status == 200
    assert admin.secret("meta-1") == "EAAB-new-1111"
    assert body["redrive"]["moved"] == 0
    assert "RedriveFunction" in body["redrive"]["error"]


# ---- delete --------------------------------------------------------------------------------------------


def test_delete_removes_the_item_and_schedules_its_secrets_deletion(admin):
    # GIVEN an integration
    created = admin.create(id="meta-1")
    # WHEN deleted with its ETag
    status, _, body = admin.call("DELETE", f"{PREFIX}/meta-1", headers={"if-match": '"1"'})
    # THEN 204; the item is gone, its secret is scheduled for deletion, a second delete is 404
    assert (status, body) == (204, None)
    assert admin.items() == []
    name = secret_name(admin.settings.token_secret_prefix, created["id"])
    assert "DeletedDate" in admin.local.secretsmanager.describe_secret(SecretId=name)
    assert admin.call("DELETE", f"{PREFIX}/meta-1")[0] == 404
    assert admin.call("DELETE", f"{PREFIX}/meta-1", headers={"if-match": '"1"'})[0] == 404
    assert admin.log.audits()[-1]["action"] == "integration.delete"


def _as_aws_does(call: Any, kwargs: dict[str, Any], sm: Any) -> Any:
    """PutSecretValue as AWS answers it for a secret scheduled for deletion (moto accepts the write)."""
    if "DeletedDate" in sm.describe_secret(SecretId=kwargs["SecretId"]):
        raise client_error("InvalidRequestException", "PutSecretValue")
    return call(**kwargs)


def test_an_integration_deleted_and_created_again_gets_its_secret_back_with_the_new_token(admin):
    # GIVEN Secrets Manager refusing writes to a deleted secret, as AWS does
    sm = admin.local.secretsmanager
    wrapped = WrappedClient(sm, put_secret_value=lambda call, kwargs: _as_aws_does(call, kwargs, sm))
    by_name = {"dynamodb": admin.local.dynamodb, "sqs": admin.local.sqs, "secretsmanager": wrapped}
    admin.deps = replace(build_deps(admin.settings, clients=lambda n: by_name[n]), log=admin.deps.log)
    # WHEN an integration is deleted, then created again with the same id
    admin.create(id="meta-1")
    assert admin.call("DELETE", f"{PREFIX}/meta-1")[0] == 204
    again = admin.create(id="meta-1", config={"pixel_id": "1", "access_token": "EAAB-second-2222"})
    # THEN its secret was restored and holds the new token
    assert again["token_last4"] == "2222"
    assert admin.secret("meta-1") == "EAAB-second-2222"
    assert [name for name, _ in wrapped.calls if name == "restore_secret"] == ["restore_secret"]


# ---- the admin token -----------------------------------------------------------------------------------


def test_the_admin_token_is_read_from_its_secret_and_cached():
    with LocalStack() as local:
        arn = local.secretsmanager.create_secret(Name="relay/test/admin-token", SecretString="from-secret\n")[
            "ARN"
        ]
        settings = admin_settings(local, admin_token_secret=arn, admin_token_cache_s=300)
        clock = [0.0]
        read = admin_token_reader(settings, clients(local), clock=lambda: clock[0])
        assert read() == "from-secret"
        local.secretsmanager.put_secret_value(SecretId=arn, SecretString="rotated")
        assert read() == "from-secret"
        clock[0] += 301
        assert read() == "rotated"


def test_without_a_readable_admin_token_every_request_is_503_and_nothing_leaks():
    with LocalStack() as local:
        settings = admin_settings(
            local, admin_token_secret="arn:aws:secretsmanager:eu-west-1:123456789012:secret:none"
        )
        log = Lines()
        deps = replace(build_deps(settings, clients=clients(local)), log=lambda: log)
        from relay.api.app import handle

        answer = handle(request("GET", PREFIX), None, deps=deps)
        assert answer["statusCode"] == 503
        assert json.loads(answer["body"])["error"]["correlation_id"] == "req-1"
        assert any("AdminTokenUnavailable" in line for line in log.lines)
    with pytest.raises(AdminTokenUnavailable):
        admin_token_reader(admin_settings(local, relay_admin_token=None))()
