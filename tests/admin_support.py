"""Helpers of the admin API tests: HTTP API v2 requests, the admin deps over the local stack, a log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from relay.api.deps import AdminDeps
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
    raw_query = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    return {
        "version": "2.0",
        "routeKey": "ANY /v1/admin/{proxy+}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": sent,
        "queryStringParameters": query,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "t",
            },
            "requestId": "req-1",
            "routeKey": "ANY /v1/admin/{proxy+}",
            "stage": "$default",
            "time": "03/Dec/2026:19:00:00 +0000",
            "timeEpoch": 0,
        },
        "body": text,
        "isBase64Encoded": False,
    }


def admin_settings(local: LocalStack, **overrides: Any) -> AdminSettings:
    deliver = local.settings(None)
    values: dict[str, Any] = {
        "integrations_table": deliver.integrations_table,
        "sources_table": local.tables["SourcesTable"],
        "debugger_table": deliver.debugger_table,
        "token_secret_prefix": deliver.token_secret_prefix,
        "dlq_url": local.dlq_url,
        "events_queue_url": local.events_queue_url,
        "relay_admin_token": ADMIN_TOKEN,
    }
    return AdminSettings(**{**values, **overrides})


def clients(local: LocalStack) -> Any:
    by_name = {"dynamodb": local.dynamodb, "sqs": local.sqs, "secretsmanager": local.secretsmanager}
    return lambda service: by_name[service]
