"""/v1/admin/info (what the console needs to know of this deployment) and /v1/admin/vendors (each
destination with its variants and the events each maps, from the tables the mapper uses)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from relay.api.integrations import answers
from relay.vendors import VENDORS

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

    from relay.api.deps import AdminDeps

PREFIX = "/v1/admin"
TAG_PATH = "/v1/df.js"
# The consent categories offered as chips (any other may be typed): the product description's.
CONSENT_CATEGORIES = ("advertising", "marketing", "analytics")


class Info(BaseModel):
    """`collector_url` None: this deployment was not told its collector's address."""

    collector_url: str | None
    tag_url: str | None


class MappedEvent(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event: str
    meta_event: str
    fields: list[str]


class VariantView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    title: str
    summary: str
    events: list[MappedEvent]


class MatchKeyView(BaseModel):
    key: str
    label: str
    low_below: float
    advice: str


class VendorView(BaseModel):
    name: str
    title: str
    consent_categories: list[str]
    variants: list[VariantView]
    match_keys: list[MatchKeyView]


class VendorPage(BaseModel):
    items: list[VendorView]


def routes(router: APIGatewayHttpRouter, deps: AdminDeps) -> None:
    """Add /info and /vendors to `router`, closing over `deps`."""

    @router.get(
        f"{PREFIX}/info", summary="This deployment: the collector's URL and its tag", responses=answers()
    )
    def info() -> Info:
        base = deps.collector_url.rstrip("/") if deps.collector_url else None
        return Info(collector_url=base, tag_url=f"{base}{TAG_PATH}" if base else None)

    @router.get(
        f"{PREFIX}/vendors",
        summary="Destinations, their variants and the events each maps",
        responses=answers(),
    )
    def vendors() -> VendorPage:
        return VendorPage(
            items=[
                VendorView(
                    name=name,
                    title=vendor.TITLE,
                    consent_categories=list(CONSENT_CATEGORIES),
                    variants=[VariantView.model_validate(v) for v in vendor.variant_catalogue()],
                    match_keys=[
                        MatchKeyView(key=key, label=g.label, low_below=g.low_below, advice=g.advice)
                        for key, g in vendor.MATCH_KEY_GUIDE.items()
                    ],
                )
                for name, vendor in VENDORS.items()
            ]
        )
