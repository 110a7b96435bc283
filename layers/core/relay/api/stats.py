"""/v1/admin/integrations/{id}/stats: the integration's last hours from its hourly rollup (relay.stats):
delivered, dead-lettered by reason, the last outcome, and each match key's share of delivered events with
what to do when it is low."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict

from relay.api.integrations import PREFIX, IntegrationId, answers
from relay.stats import MAX_WINDOW_HOURS, coverage
from relay.vendors import VENDORS

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

    from relay.api.deps import AdminDeps

DEFAULT_HOURS = 24


class KeyShare(BaseModel):
    """relay.stats.Coverage: `share` = events carrying the key / events delivered; `advice` only when low."""

    model_config = ConfigDict(from_attributes=True)

    key: str
    label: str
    events: int
    share: float
    low: bool
    advice: str | None = None


class HourCount(BaseModel):
    hour: str
    delivered: int


class IntegrationStats(BaseModel):
    integration_id: str
    hours: int
    since: str
    until: str
    delivered: int
    dead_lettered: dict[str, int]
    retrying: int
    last_outcome: str | None
    last_at: str | None
    match_keys: list[KeyShare]
    by_hour: list[HourCount]


def routes(router: APIGatewayHttpRouter, deps: AdminDeps) -> None:
    """Add /stats to `router`, closing over `deps`."""

    @router.get(
        f"{PREFIX}/<integration_id>/stats",
        summary="Deliveries and match-key coverage of the last hours",
        responses=answers(),
    )
    def stats(
        integration_id: IntegrationId,
        hours: Annotated[int, Query(ge=1, le=MAX_WINDOW_HOURS)] = DEFAULT_HOURS,
    ) -> IntegrationStats:
        integration = deps.store.get(integration_id)  # 404 for an unknown integration
        found = deps.stats.window(integration_id, now=datetime.now(UTC), hours=hours)
        shares = coverage(found, VENDORS[integration.vendor].MATCH_KEY_GUIDE)
        return IntegrationStats(
            integration_id=integration_id,
            hours=hours,
            since=found.since.isoformat(),
            until=found.until.isoformat(timespec="seconds"),
            delivered=found.delivered,
            dead_lettered=dict(found.dead_lettered),
            retrying=found.retrying,
            last_outcome=found.last_outcome,
            last_at=found.last_at,
            match_keys=[KeyShare.model_validate(c) for c in shares],
            by_hour=[HourCount(hour=h, delivered=n) for h, n in sorted(found.by_hour.items())],
        )
