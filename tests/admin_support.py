"""Helpers of the admin API tests: HTTP API v2 requests, the admin deps over the local stack, a log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from relay.api.deps import AdminDeps
from relay.local.serve import http_api_event
from relay.local.stack import LocalStack
from relay.secrets import secret_name
from relay.settings import AdminSettings

ADMIN_TOKEN = "YOUR_TOKEN"  # the product description's curl, verbatim
META_TOKEN = "your_access_token"
PRODUCT_BODY = {
    "source_id": "src_abc123",
    "vendor": "meta_capi",
    "name": "Meta CAPI Production",
    "enabled": True,
    "config": {"pixel_id": "1234567890", "access_token": META_TOKEN},
    "consent_categories": ["advertising"],
}
PREFIX = "/v1/admin/integrations"


class Lines:
    """A logger that keeps every line (message and extra) as JSON text."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _keep(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.lines.append(json.dumps({"msg": msg, **kwargs.get("extra", {})}, default=str))

    info = warning = error = _keep

    def audits(self) -> list[dict[str, Any]]:
        return [json.loads(line)["audit"] for line in self.lines if '"audit"' in line]


@dataclass
class Admin:
    local: LocalStack
    settings: AdminSettings
    deps: AdminDeps
    log: Lines

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = ADMIN_TOKEN,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        from relay.api.app import handle

        answer = handle(
            request(method, path, body, token=token, headers=headers, query=query), None, deps=self.deps
        )
        text = answer.get("body")
        return answer["statusCode"], answer.get("headers") or {}, json.loads(text) if text else None

    def create(self, **overrides: Any) -> dict[str, Any]:
        status, _, body = self.call("POST", PREFIX, {**PRODUCT_BODY, **overrides})
        assert status == 201, body
        return dict(body)

    def secret(self, integration_id: str) -> str:
        name = secret_name(self.settings.token_secret_prefix, integration_id)
        value: str = self.local.secretsmanager.get_secret_value(SecretId=name)["SecretString"]
        return value

    def items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.local.dynamodb.scan(TableName=self.settings.integrations_table)[
            "Items"
        ]
        return items


def request(
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = ADMIN_TOKEN,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event, as the HTTP API hands AdminFunction."""
    sent = {"content-type": "application/json"}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    sent.update(headers or {})
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    target = path + (f"?{urlencode(query)}" if query else "")
    data = text.encode("utf-8", "surrogatepass") if text is not None else b""
    return http_api_event(method, target, sent, data, source_ip="127.0.0.1", request_id="req-1")


def admin_settings(local: LocalStack, **overrides: Any) -> AdminSettings:
    """AdminFunction's settings as the template wires them over `local` (token ADMIN_TOKEN), changed by
    `overrides` (an admin_token_secret, a graph_url...)."""
    settings = local.admin_settings(None, ADMIN_TOKEN)
    return AdminSettings.model_validate({**settings.model_dump(), **overrides})


def clients(local: LocalStack) -> Any:
    return local.clients
