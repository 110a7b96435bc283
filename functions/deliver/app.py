"""DeliverFunction: SQS batch → vendor APIs, with a partial batch response."""

from typing import Any

from relay.apps.deliver import handle
from relay.observability import lambda_handler


@lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context)
