"""RedriveFunction: DLQ → events queue on demand; the event is a RedriveRequest (events/redrive.json)."""

from typing import Any

from relay.apps.redrive import handle
from relay.observability import lambda_handler


@lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context)
