"""RedriveFunction's composition root: RedriveSettings → SQS client → redrive → report and metrics."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from relay.aws import aws_client
from relay.redrive import RECEIVE_VISIBILITY_SECONDS, RedriveRequest, redrive
from relay.settings import redrive_settings


def handle(
    event: Mapping[str, Any],
    context: Any = None,
    *,
    sqs: Any = None,
    clock: Callable[[], datetime] | None = None,
) -> dict[str, Any]:
    """Validate the invoke event (a RedriveRequest), run the redrive, return the report as JSON data.

    Raises pydantic.ValidationError naming the offending field of a malformed request.
    """
    from relay.observability import logger, metrics

    request = RedriveRequest.model_validate(event)
    config = redrive_settings()
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    # Keep kept messages hidden for the whole invocation: they are released when the run ends, and a
    # message that came back early would end the run as "seen again".
    visibility = RECEIVE_VISIBILITY_SECONDS
    if remaining_ms is not None:
        visibility = max(visibility, remaining_ms() // 1000 + RECEIVE_VISIBILITY_SECONDS)
    report = redrive(
        request,
        sqs=sqs or aws_client("sqs"),
        dlq_url=config.dlq_url,
        queue_url=config.events_queue_url,
        now=clock or (lambda: datetime.now(UTC)),
        remaining_ms=remaining_ms,
        visibility_timeout=visibility,
    )
    m = metrics()
    m.add_metric(name="RedriveExamined", unit="Count", value=report.examined)
    if not request.dry_run:
        m.add_metric(name="Redriven", unit="Count", value=report.moved)
        m.add_metric(name="RedriveKeptExpired", unit="Count", value=report.kept_expired)
        m.add_metric(name="RedriveFailed", unit="Count", value=report.failed)
    logger().info("redrive finished", extra={"request": request.model_dump(), "report": report.model_dump()})
    return report.model_dump(mode="json")
