"""/v1/admin/integrations: create, list, read, patch (JSON merge), delete; conditional on ETags.

Routes are thin: validation is Powertools' (pydantic models), the work is relay.integrations', and
errors are mapped in relay.api.problems. The access token goes in on create / patch and never comes out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

# Imported at module level, not under TYPE_CHECKING: Powertools reads the routes' annotations at run time.
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from pydantic import BaseModel

from relay.api.audit import record
from relay.api.problems import JSON, ProblemBody
from relay.errors import PreconditionFailed
from relay.integrations import (
    BrokenIntegration,
    IntegrationInput,
    IntegrationPatch,
    StoredIntegration,
    register,
    remove,
    update,
)
from relay.redrive import RedriveRequest

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
    from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

    from relay.api.deps import AdminDeps

PREFIX = "/v1/admin/integrations"
MAX_PAGE = 100
DEFAULT_PAGE = 50
# What a token change redrives in one request (the rest: POST /v1/admin/dlq/redrive, or the next change).
TOKEN_CHANGE_REDRIVE_MAX = 1000
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,18})"?$')
ERRORS: dict[int, OpenAPIResponse] = {
    status: {"description": text, "content": {JSON: {"model": ProblemBody}}}
    for status, text in (
        (400, "the body is not JSON"),
        (401, "missing or wrong admin token"),
        (404, "no such integration"),
        (409, "the id exists"),
        (412, "If-Match names a stale version"),
        (413, "the body is over 64 KB"),
        (415, "the body is not application/json"),
        (422, "invalid fields, each named by its path"),
    )
}


def answers(status: int = 200, text: str = "done", *, empty: bool = False) -> dict[int, OpenAPIResponse]:
    """A route's documented answers: its success (schema from its return annotation; `empty`: no body)
    and every refusal of the error contract."""
    success: OpenAPIResponse = {"description": text, "content": {}} if empty else {"description": text}
    return {status: success, **ERRORS}


class IntegrationView(BaseModel):
    """An integration as the API shows it: never the access token, only its last four characters."""

    id: str
    source_id: str
    vendor: str
    name: str
    enabled: bool
    variant: str
    consent_categories: list[str]
    require_consent: bool
    debug: bool
    config: dict[str, Any]
    token_last4: str
    debug_until: str | None = None
    version: int
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, stored: StoredIntegration) -> IntegrationView:
        data = stored.model_dump(mode="json", exclude={"secret_version"})
        data["config"].pop("access_token", None)
        return cls.model_validate(data)


class RedriveSummary(BaseModel):
    """What a token change moved back from the DLQ (this integration's `reason=auth` messages)."""

    moved: int = 0
    examined: int = 0
    failed: int = 0
    kept_expired: int = 0
    error: str | None = None


class PatchedIntegration(IntegrationView):
    redrive: RedriveSummary | None = None


class IntegrationPage(BaseModel):
    items: list[IntegrationView]
    broken: list[BrokenIntegration] = []
    next_cursor: str | None = None


IntegrationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_version(header: str | None) -> int | None:
    """The version an If-Match header names; None when absent or `*`. Raises PreconditionFailed for a
    value that is not an ETag this API gave (it can match no version)."""
    if header is None or header.strip() in ("", "*"):
        return None
    match = _ETAG.match(header.strip())
    if match is None:
        raise PreconditionFailed("If-Match is not an ETag of this API")
    return int(match.group(1))


def routes(router: APIGatewayHttpRouter, deps: AdminDeps) -> None:
    """Add the integrations routes to `router`, closing over `deps`."""

    def audit(action: str, integration_id: str, **extra: Any) -> None:
        record(deps, router.current_event.headers, action, integration_id, **extra)

    def view(stored: StoredIntegration, status: int = 200, **headers: str) -> Response[IntegrationView]:
        return Response(
            status,
            JSON,
            IntegrationView.of(stored),
            headers={"ETag": etag(stored.version), **headers},
        )

    @router.post(PREFIX, summary="Create an integration", responses=answers(201, "created"))
    def create(body: IntegrationInput) -> Response[IntegrationView]:
        stored = register(body, store=deps.store, vault=deps.vault)
        audit("integration.create", stored.id, source_id=stored.source_id)
        return view(stored, 201, Location=f"{PREFIX}/{stored.id}")

    @router.get(PREFIX, summary="List integrations", responses=answers())
    def list_integrations(
        source_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
        cursor: Annotated[str | None, Query(max_length=2048)] = None,
    ) -> IntegrationPage:
        items, next_cursor = deps.store.page(source_id=source_id, limit=limit, cursor=cursor)
        return IntegrationPage(
            items=[IntegrationView.of(i) for i in items if isinstance(i, StoredIntegration)],
            broken=[i for i in items if isinstance(i, BrokenIntegration)],
            next_cursor=next_cursor,
        )

    @router.get(f"{PREFIX}/<integration_id>", summary="Read an integration", responses=answers())
    def read(integration_id: IntegrationId) -> Response[IntegrationView]:
        return view(deps.store.get(integration_id))

    @router.patch(
        f"{PREFIX}/<integration_id>", summary="Change an integration (JSON merge patch)", responses=answers()
    )
    def patch(
        integration_id: IntegrationId, body: IntegrationPatch, if_match: IfMatch = None
    ) -> Response[PatchedIntegration]:
        changed = update(
            integration_id,
            body.model_dump(exclude_unset=True),
            store=deps.store,
            vault=deps.vault,
            expected_version=if_match_version(if_match),
        )
        summary = _redrive_after_token_change(deps, integration_id) if changed.token_changed else None
        audit(
            "integration.update",
            integration_id,
            fields=sorted(body.model_fields_set),
            token_changed=changed.token_changed,
        )
        data = PatchedIntegration(**IntegrationView.of(changed.stored).model_dump(), redrive=summary)
        return Response(200, JSON, data, headers={"ETag": etag(changed.stored.version)})

    @router.delete(
        f"{PREFIX}/<integration_id>",
        summary="Delete an integration (its token secret is scheduled for deletion)",
        responses=answers(204, "deleted", empty=True),
    )
    def delete(integration_id: IntegrationId, if_match: IfMatch = None) -> Response[None]:
        remove(
            integration_id, store=deps.store, vault=deps.vault, expected_version=if_match_version(if_match)
        )
        audit("integration.delete", integration_id)
        return Response(204, None, None)


def _redrive_after_token_change(deps: AdminDeps, integration_id: str) -> RedriveSummary:
    """Move the integration's `reason=auth` DLQ messages back to the queue; a failure is reported, not
    raised (the token change itself has been stored)."""
    from relay.aws import error_fields

    try:
        report = deps.redrive(
            RedriveRequest(
                integration_id=integration_id, reason="auth", max_messages=TOKEN_CHANGE_REDRIVE_MAX
            )
        )
    except Exception as exc:  # the change is stored: say the redrive did not run, and how to run it
        deps.log().warning("redrive after token change failed", extra=error_fields(exc))
        return RedriveSummary(
            error="the redrive did not run; invoke RedriveFunction with this integration_id and reason auth"
        )
    return RedriveSummary(
        moved=report.moved, examined=report.examined, failed=report.failed, kept_expired=report.kept_expired
    )
