"""/v1/admin/integrations/{id}/test and /health: one test event through the production client, and the
token + pixel check with the last delivery outcome and the integration's DLQ count.

Both answer 200 with what Meta said (ok or its refusal classified): the API call itself succeeded.
The access token is read from the vault for the call and never returned or logged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from relay.api.integrations import PREFIX, IntegrationId, answers
from relay.errors import BadRequest
from relay.redrive import COMPLETE, RedriveRequest
from relay.secrets import MissingToken
from relay.vendors import VENDORS

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

    from relay.api.deps import AdminDeps

# One test call and one health read get at most this long (API Gateway gives up after 30 s).
CALL_BUDGET_S = 8.0
# How many DLQ messages a health check reads to count the integration's (a dry run of the redrive).
DLQ_COUNT_MAX = 1000
NOTHING_STORED_ADVICE = "no access token is stored for this integration: PATCH config.access_token"


class TestRequest(BaseModel):
    """Optional body of /test: a code for this call instead of the integration's own."""

    model_config = ConfigDict(extra="forbid")

    test_event_code: str | None = Field(default=None, min_length=1, max_length=64)


class MetaRefusal(BaseModel):
    """Meta's refusal, classified by code and subcode; Meta's own message is not repeated."""

    problem: str
    advice: str
    http_status: int | None = None
    code: int | None = None
    subcode: int | None = None
    fbtrace_id: str | None = None
    retryable: bool = False


class TestResult(BaseModel):
    ok: bool
    test_event_code: str
    event_name: str | None = None
    event_id: str | None = None
    events_received: int | None = None
    messages: list[str] = []
    fbtrace_id: str | None = None
    error: MetaRefusal | None = None


class DlqCount(BaseModel):
    """This integration's DLQ messages (a bounded dry-run read); `complete` False when it stopped early."""

    messages: int
    expired: int
    complete: bool


class HealthResult(BaseModel):
    status: str
    advice: str
    pixel_id: str
    pixel_name: str | None = None
    api_version: str
    error: MetaRefusal | None = None
    last_delivery: dict[str, str] | None = None
    dlq: DlqCount | None = None


def _refusal(diagnosis: Any) -> MetaRefusal:
    """The vendor's Diagnosis (a dataclass with these attributes) as the API's model."""
    return MetaRefusal.model_validate(diagnosis, from_attributes=True)


def _token(deps: AdminDeps, integration_id: str) -> str | None:
    try:
        return deps.vault.get(integration_id)
    except MissingToken:
        return None


def routes(router: APIGatewayHttpRouter, deps: AdminDeps) -> None:
    """Add /test and /health to `router`, closing over `deps`."""
    from relay.outbound import SendError

    @router.post(
        f"{PREFIX}/<integration_id>/test", summary="Send one test event to Meta", responses=answers()
    )
    def send_test(
        integration_id: IntegrationId, body: Annotated[TestRequest | None, Body()] = None
    ) -> TestResult:
        stored = deps.store.get(integration_id)
        integration = stored.view()
        code = (body.test_event_code if body else None) or integration.config.test_event_code
        if not code:
            raise BadRequest(
                "test_event_code",
                'the integration has none: send {"test_event_code": "TEST..."} (Events Manager → Test events)',
            )
        vendor = VENDORS[integration.vendor]
        request, event = vendor.test_request(integration, code, datetime.now(UTC))
        base: dict[str, Any] = {
            "test_event_code": code,
            "event_name": event.event_name,
            "event_id": event.event_id,
        }
        token = _token(deps, integration_id)
        if token is None:
            refusal = MetaRefusal(problem="token_missing", advice=NOTHING_STORED_ADVICE)
            return TestResult(ok=False, error=refusal, **base)
        try:
            receipt = deps.client(integration.vendor).send(request, token=token, budget_s=CALL_BUDGET_S)
        except SendError as error:
            return TestResult(ok=False, error=_refusal(vendor.diagnose(error)), **base)
        return TestResult(
            ok=receipt.events_received == 1,
            events_received=receipt.events_received,
            messages=list(receipt.messages),
            fbtrace_id=receipt.fbtrace_id,
            **base,
        )

    @router.get(
        f"{PREFIX}/<integration_id>/health", summary="Check the token and the pixel", responses=answers()
    )
    def health(integration_id: IntegrationId) -> HealthResult:
        integration = deps.store.get(integration_id).view()
        config = integration.config
        token = _token(deps, integration_id)
        common: dict[str, Any] = {
            "pixel_id": config.pixel_id,
            "api_version": config.api_version,
            "last_delivery": deps.debugger.latest(integration_id),
            "dlq": _dlq_count(deps, integration_id),
        }
        if token is None:
            refusal = MetaRefusal(problem="token_missing", advice=NOTHING_STORED_ADVICE)
            return HealthResult(
                status="token_invalid_or_expired", advice=NOTHING_STORED_ADVICE, error=refusal, **common
            )
        found = VENDORS[integration.vendor].check_health(
            deps.client(integration.vendor),
            pixel_id=config.pixel_id,
            api_version=config.api_version,
            token=token,
            budget_s=CALL_BUDGET_S,
        )
        return HealthResult(
            status=found.status,
            advice=found.advice,
            pixel_name=found.pixel_name,
            error=_refusal(found.diagnosis) if found.diagnosis is not None else None,
            **common,
        )


def _dlq_count(deps: AdminDeps, integration_id: str) -> DlqCount | None:
    """A dry run of the redrive filtered on the integration; None when the DLQ cannot be read now."""
    try:
        report = deps.redrive(
            RedriveRequest(integration_id=integration_id, dry_run=True, max_messages=DLQ_COUNT_MAX)
        )
    except Exception as exc:  # health still answers about the token; the log says why the count is missing
        from relay.aws import error_fields

        deps.log().warning("health: DLQ count unavailable", extra=error_fields(exc))
        return None
    return DlqCount(
        messages=report.eligible + report.kept_expired,
        expired=report.kept_expired,
        complete=report.stopped in COMPLETE,
    )
