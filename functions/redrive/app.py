"""RedriveFunction: DLQ → events queue on demand; the event is a RedriveRequest (events/redrive.json)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from relay.redrive import handle

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, remaining_ms=context.get_remaining_time_in_millis, metrics=metrics)
