"""DeliverFunction: SQS batch → Meta Conversions API, with a partial batch response."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from relay.services import handle_sqs_event

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_sqs_event(
        event, metrics=metrics, logger=logger, remaining_ms=context.get_remaining_time_in_millis
    )
