"""DeliverFunction: SQS batch → Meta Conversions API, with a partial batch response."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from relay.delivery import SqsRecord, deliver_batch
from relay.observability import publish
from relay.services import deliver_deps

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = deliver_batch([SqsRecord.from_lambda(r) for r in event.get("Records", [])], deliver_deps())
    logger.info("batch delivered", extra={"summary": publish(outcome, metrics)})
    return outcome.response()
