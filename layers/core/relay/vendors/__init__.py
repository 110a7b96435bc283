"""Vendor modules, selected by an integration's `vendor`: core reaches a vendor only through `VENDORS`.

No abstract base class until a second vendor exists; `Vendor` only names what core uses of a module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from relay.vendors import meta_capi

if TYPE_CHECKING:
    from relay.events import Event
    from relay.integrations import Integration
    from relay.outbound import Outcome, Rejected, ServerEvent
    from relay.stats import KeyGuide
    from relay.vendors.meta_capi.variants import VariantSummary

VendorName = Literal["meta_capi"]
# The integration `config` model of each vendor (a discriminated union once there are two).
VendorConfig = meta_capi.Config


class Vendor(Protocol):
    NAME: str
    MAX_EVENT_AGE: timedelta
    MAX_EVENTS_PER_REQUEST: int
    CALL_TIMEOUT_S: float
    TITLE: str
    MATCH_KEYS: tuple[str, ...]
    MATCH_KEY_GUIDE: Mapping[str, KeyGuide]

    def variant_catalogue(self) -> tuple[VariantSummary, ...]: ...

    def map_event(self, event: Event, integration: Integration, *, now: datetime) -> Outcome: ...

    def build_requests(
        self, events: Iterable[ServerEvent], integration: Integration, *, max_events: int = ...
    ) -> tuple[list[Any], list[Rejected]]: ...

    def new_client(self, base_url: str | None = None) -> Any: ...

    def check_health(
        self, client: Any, *, pixel_id: str, api_version: str, token: str, budget_s: float = ...
    ) -> Any: ...

    def test_request(
        self, integration: Integration, test_event_code: str, now: datetime
    ) -> tuple[Any, ServerEvent]: ...

    def diagnose(self, error: Any) -> Any: ...

    def clear_caches(self) -> None: ...


VENDORS: dict[str, Vendor] = {meta_capi.NAME: meta_capi}


def max_event_age() -> timedelta:
    """The longest age any vendor accepts: older events can never be sent anywhere."""
    return max(v.MAX_EVENT_AGE for v in VENDORS.values())


def clear_caches() -> None:
    for vendor in VENDORS.values():
        vendor.clear_caches()
