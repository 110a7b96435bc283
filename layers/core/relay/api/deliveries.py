"""/v1/admin/integrations/{id}/deliveries (the event debugger) and /debug (record successes for N minutes).

Records hold the payload as it was sent: hashed match keys, the client IP cut to its network prefix.
Failures are always recorded, successes while `debug` is on or before `debug_until`; records expire.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from relay.api.audit import record
from relay.api.integrations import PREFIX, IntegrationId, IntegrationView, answers, etag
from relay.api.problems import JSON
from relay.errors import BadRequest
from relay.integrations import debug_until, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

    from relay.api.deps import AdminDeps

# What delivery records: a success, or the kind of failure (relay.delivery.send).
Status = Literal["delivered", "auth", "invalid", "retry", "transport", "unconfirmed"]
MAX_DEBUG_MINUTES = 1440


class Delivery(BaseModel):
    recorded_at: str
    event_name: str | None = None
    event_id: str | None = None
    status: str | None = None
    detail: str | None = None
    fbtrace_id: str | None = None
    payload: Any = None


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None = None


class DebugRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: int = Field(ge=1, le=MAX_DEBUG_MINUTES)


def routes(router: APIGatewayHttpRouter, deps: AdminDeps) -> None:
    """Add the debugger routes to `router`, closing over `deps`."""

    @router.get(
        f"{PREFIX}/<integration_id>/deliveries",
        summary="Recent deliveries (the event debugger)",
        responses=answers(),
    )
    def deliveries(
        integration_id: IntegrationId,
        status: Annotated[Status | None, Query()] = None,
        event_name: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
        since: Annotated[datetime | None, Query()] = None,
        until: Annotated[datetime | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(max_length=2048)] = None,
    ) -> DeliveryPage:
        deps.store.get(integration_id)  # 404 for an unknown integration, not an empty page
        since_at, until_at = _aware(since), _aware(until)
        if since_at and until_at and since_at > until_at:
            raise BadRequest("since", "must not be later than until")
        found, last = deps.debugger.query(
            integration_id,
            since=since_at,
            until=until_at,
            outcome=status,
            event_name=event_name,
            limit=limit,
            start=decode_cursor(cursor) if cursor else None,
        )
        return DeliveryPage(
            items=[Delivery(**r) for r in found], next_cursor=encode_cursor(last) if last else None
        )

    @router.post(
        f"{PREFIX}/<integration_id>/debug", summary="Record successes too, for N minutes", responses=answers()
    )
    def debug(integration_id: IntegrationId, body: DebugRequest) -> Response[IntegrationView]:
        until = datetime.now(UTC) + timedelta(minutes=body.minutes)
        stored = debug_until(integration_id, until, store=deps.store)
        record(deps, router.current_event.headers, "integration.debug", integration_id, minutes=body.minutes)
        return Response(200, JSON, IntegrationView.of(stored), headers={"ETag": etag(stored.version)})


def _aware(value: datetime | None) -> datetime | None:
    """A time filter as UTC; one without an offset is read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
