"""/v1/admin/dlq: what waits in the dead-letter queue (counts by reason and integration, the oldest, a
few samples without bodies) and a filtered redrive back to the events queue.

Both run relay.redrive (inspection as a dry run: every message examined is made visible again). A run
inside one request is bounded by its `max_messages` and about REDRIVE_BUDGET_S seconds; `complete`
(inspection) or `stopped` (redrive) says whether it saw the whole queue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from relay.api import audit
from relay.api.integrations import answers
from relay.redrive import COMPLETE, DlqSample, RedriveReport, RedriveRequest

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

    from relay.api.deps import AdminDeps

PREFIX = "/v1/admin/dlq"
INSPECT_DEFAULT = 1000
INSPECT_MAX = 10_000


class DlqView(BaseModel):
    messages: int
    by_reason: dict[str, int]
    by_integration: dict[str, int]
    oldest_sent_at: str | None
    oldest_age_s: int | None
    samples: list[DlqSample]
    complete: bool


def routes(router: APIGatewayHttpRouter, deps: AdminDeps) -> None:
    """Add the DLQ routes to `router`, closing over `deps`."""

    @router.get(PREFIX, summary="Inspect the dead-letter queue", responses=answers())
    def inspect(
        max_messages: Annotated[int, Query(ge=1, le=INSPECT_MAX)] = INSPECT_DEFAULT,
    ) -> DlqView:
        report = deps.redrive(RedriveRequest(dry_run=True, max_messages=max_messages))
        oldest = report.oldest_sent_at
        age = None
        if oldest is not None:
            age = max(0, int((datetime.now(UTC) - datetime.fromisoformat(oldest)).total_seconds()))
        return DlqView(
            messages=report.examined,
            by_reason=report.by_reason,
            by_integration=report.by_integration,
            oldest_sent_at=oldest,
            oldest_age_s=age,
            samples=report.samples,
            complete=report.stopped in COMPLETE,
        )

    @router.post(
        f"{PREFIX}/redrive", summary="Move dead-lettered events back to the queue", responses=answers()
    )
    def redrive(body: RedriveRequest) -> RedriveReport:
        report = deps.redrive(body)
        audit.record(
            deps,
            router.current_event.headers,
            "dlq.redrive",
            body.integration_id,
            request=body.model_dump(mode="json"),
            moved=report.moved,
        )
        return report
