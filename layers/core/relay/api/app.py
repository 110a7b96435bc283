"""The admin API: a gate (bearer auth, body size, media type) in front of Powertools' HTTP API resolver.

The gate runs before the resolver, so a request without the admin token is answered 401 before any
route, validation or body parsing sees it; only `GET /v1/admin/openapi.json` and the console's static
files (/console) are open.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

# At module level: Powertools reads the OpenAPI route's return annotation at run time.
from aws_lambda_powertools.event_handler import Response

from relay import console
from relay.api import auth, problems

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from relay.api.deps import AdminDeps

OPENAPI_PATH = "/v1/admin/openapi.json"
TITLE = "Relay admin API"
API_VERSION = "1.0.0"
# Largest request body the admin API reads (the product's limit for every admin write).
MAX_BODY_BYTES = 64 * 1024
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
# application/json and any +json type (application/merge-patch+json for PATCH).
_JSON_TYPES = ("application/json",)


def build(deps: AdminDeps) -> APIGatewayHttpResolver:
    """The resolver with every admin route, its error mapping and the OpenAPI route, over `deps`."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

    from relay.api import checks, deliveries, dlq, info, integrations, sources, stats

    app = APIGatewayHttpResolver(enable_validation=True)
    router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
    integrations.routes(router, deps)
    checks.routes(router, deps)
    dlq.routes(router, deps)
    sources.routes(router, deps)
    deliveries.routes(router, deps)
    stats.routes(router, deps)
    info.routes(router, deps)
    app.include_router(router)
    problems.install(app, log=deps.log, correlation=lambda: _correlation_id(app.current_event.raw_event))

    @app.get(OPENAPI_PATH, include_in_schema=False)
    def openapi() -> Response[str]:
        return Response(200, problems.JSON, openapi_document(app))

    return app


def openapi_document(app: APIGatewayHttpResolver) -> str:
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    return app.get_openapi_json_schema(
        title=TITLE,
        version=API_VERSION,
        description="Relay's control plane: integrations (Meta pixels) and their tokens.",
        security_schemes={"bearer": HTTPBearer(description="the admin token")},
        security=[{"bearer": []}],
    )


def handle(
    event: Mapping[str, Any], context: Any, *, deps: AdminDeps, app: APIGatewayHttpResolver | None = None
) -> dict[str, Any]:
    """Answer one API Gateway HTTP API (payload v2) event; never raises for client input.

    The console's static files (relay.console, under /console) are answered without the admin token: they
    hold no data, and the page asks for the token before it calls the API."""
    method, path = _route_of(event)
    if console.is_console(path):
        return console.answer(method, path, _headers(event))
    refusal = gate(event, deps)
    if refusal is not None:
        return refusal
    resolver = app if app is not None else _cached_app(deps)
    answer: dict[str, Any] = resolver.resolve(_as_json(event), context)
    return answer


def _as_json(event: Mapping[str, Any]) -> dict[str, Any]:
    """`event` with its JSON media type (checked by the gate) spelled as the resolver reads it: any case,
    parameters and +json suffixes become `application/json`."""
    out = dict(event)
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    if event.get("body") and "content-type" in headers:
        headers["content-type"] = "application/json"
    out["headers"] = headers
    return out


@cache
def _cached_app(deps: AdminDeps) -> APIGatewayHttpResolver:
    return build(deps)


def gate(event: Mapping[str, Any], deps: AdminDeps) -> dict[str, Any] | None:
    """The answer for a request refused before routing (401, 413, 415), else None."""
    method, path = _route_of(event)
    headers = _headers(event)
    if not (method == "GET" and path == OPENAPI_PATH):
        try:
            expected = deps.admin_token()
        except Exception as exc:  # no token to compare with: refuse everything, say why in the log only
            from relay.aws import error_fields

            cid = _correlation_id(event)
            deps.log().error("admin token unavailable", extra={**error_fields(exc), "correlation_id": cid})
            return _v2(
                problems.problem(503, "unavailable", "the admin token cannot be read", correlation_id=cid)
            )
        if not auth.matches(auth.presented(headers), expected):
            return _v2(problems.unauthorized())
    body = event.get("body")
    if body is not None and not isinstance(body, str):
        return _v2(problems.problem(400, "invalid_json", "the body is not a JSON document"))
    if body:
        size = _body_size(body, bool(event.get("isBase64Encoded")))
        if size is None:
            return _v2(problems.problem(400, "invalid_body", "the body is not valid base64"))
        if size > MAX_BODY_BYTES:
            return _v2(
                problems.problem(413, "payload_too_large", f"the body is over {MAX_BODY_BYTES:,} bytes")
            )
        if method in WRITE_METHODS and not _is_json(headers.get("content-type")):
            return _v2(problems.problem(415, "unsupported_media_type", "send the body as application/json"))
    return None


def _route_of(event: Mapping[str, Any]) -> tuple[str, str]:
    http = (event.get("requestContext") or {}).get("http") or {}
    return str(http.get("method", "")).upper(), str(event.get("rawPath") or http.get("path") or "")


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    raw = event.get("headers") or {}
    return {str(k).lower(): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}


def _body_size(body: str, encoded: bool) -> int | None:
    if not encoded:
        return len(body.encode("utf-8", "surrogatepass"))
    if len(body) > 2 * MAX_BODY_BYTES:  # base64 is 4/3 of the bytes: over the cap without decoding
        return len(body)
    try:
        return len(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError):
        return None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media in _JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def _correlation_id(event: Mapping[str, Any]) -> str:
    request_id = (event.get("requestContext") or {}).get("requestId")
    return request_id if isinstance(request_id, str) and request_id else problems.new_correlation_id()


def _v2(response: Any) -> dict[str, Any]:
    """A Powertools Response as the HTTP API v2 answer dict."""
    headers = {"Content-Type": response.content_type or problems.JSON, **(response.headers or {})}
    return {
        "statusCode": response.status_code,
        "headers": headers,
        "body": response.body,
        "isBase64Encoded": False,
    }
