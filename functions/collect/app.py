"""CollectFunction: Segment's HTTP Tracking API and the df.js tag (HTTP API payload v2 events)."""

from typing import Any

from relay.apps.collect import handle
from relay.observability import lambda_handler


@lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context)
