"""schemathesis against the admin API's own OpenAPI document, served by `relay local serve`'s server:
no input makes it answer 5xx, and every answer fits the document (status, content type, schema)."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from relay.local.serve import LocalServer

ADMIN_TOKEN = "schemathesis-admin-token"
EXAMPLES = int(os.environ.get("RELAY_API_EXAMPLES", "15"))


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(port=0, admin_token=ADMIN_TOKEN, worker_idle_s=0.2) as served:
        yield served


@pytest.fixture(scope="module")
def api_schema(server: LocalServer) -> schemathesis.BaseSchema:
    with urllib.request.urlopen(f"{server.url}/v1/admin/openapi.json", timeout=10) as answer:
        document = json.load(answer)
    return schemathesis.openapi.from_dict(document)


def test_no_input_makes_the_admin_api_fail_or_answer_outside_its_document(server, api_schema):
    # GIVEN every operation of the document, and requests it allows (and some it does not), with the token
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 17
    checks = [status_code_conformance, content_type_conformance, response_schema_conformance]
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def exercise(case: Any) -> None:
            # WHEN it is sent
            response = case.call(base_url=server.url, headers=headers, timeout=30)
            # THEN no 5xx, and the status, content type and body are the ones the document declares
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
            case.validate_response(response, checks=checks)

        exercise()
