"""Meta Conversions API: what core reaches through `relay.vendors.VENDORS["meta_capi"]`.

The names below are this vendor's whole interface; core never imports the submodules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from relay.outbound import Rejected, ServerEvent
from relay.vendors.meta_capi.config import MetaConfig as Config
from relay.vendors.meta_capi.health import check as check_health
from relay.vendors.meta_capi.health import diagnose, test_request
from relay.vendors.meta_capi.limits import (
    CALL_TIMEOUT_S,
    GRAPH_URL,
    MAX_EVENT_AGE,
    MAX_EVENTS_PER_REQUEST,
)
from relay.vendors.meta_capi.mapping import map_event
from relay.vendors.meta_capi.match import MATCH_KEY_GUIDE, MATCH_KEYS
from relay.vendors.meta_capi.request import GraphRequest
from relay.vendors.meta_capi.request import build_requests as _build_requests
from relay.vendors.meta_capi.user_data import clear_caches
from relay.vendors.meta_capi.variants import catalogue as variant_catalogue

if TYPE_CHECKING:
    from relay.integrations import Integration
    from relay.vendors.meta_capi.client import GraphClient

NAME = "meta_capi"
TITLE = "Meta Conversions API"

__all__ = [
    "CALL_TIMEOUT_S",
    "GRAPH_URL",
    "MATCH_KEYS",
    "MATCH_KEY_GUIDE",
    "MAX_EVENTS_PER_REQUEST",
    "MAX_EVENT_AGE",
    "NAME",
    "TITLE",
    "Config",
    "GraphRequest",
    "build_requests",
    "check_health",
    "clear_caches",
    "diagnose",
    "map_event",
    "new_client",
    "test_request",
    "variant_catalogue",
]


def build_requests(
    events: Iterable[ServerEvent], integration: Integration, *, max_events: int = MAX_EVENTS_PER_REQUEST
) -> tuple[list[GraphRequest], list[Rejected]]:
    """Request bodies for `integration` (its test_event_code and API version), ≤ `max_events` each."""
    config = integration.config
    return _build_requests(
        events, test_event_code=config.test_event_code, api_version=config.api_version, max_events=max_events
    )


def new_client(base_url: str | None = None) -> GraphClient:
    """The Graph API client (urllib3 is imported here, on first use, not when the vendor is loaded)."""
    from relay.vendors.meta_capi.client import GraphClient

    return GraphClient(base_url or GRAPH_URL)
