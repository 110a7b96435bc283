"""Transform throughput: SQS message body bytes → Meta request bytes, Relay vs the facebook-business SDK.

Both sides do the same work per event: decode the body, map the Segment-spec event to a Meta server
event (user_data normalised + hashed, custom_data with contents), and serialise the request bodies.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from relay.events import parse_event_json
from relay.integrations import Integration
from relay.vendors.meta_capi.limits import MAX_EVENTS_PER_REQUEST
from relay.vendors.meta_capi.mapping import ServerEvent, map_event
from relay.vendors.meta_capi.request import build_requests
from relay.vendors.meta_capi.user_data import clear_caches

NOW = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
PIXEL = "1234567890"
SDK_EVENT_NAMES = {
    "Order Completed": "Purchase",
    "Product Purchased": "Purchase",
    "Product Added": "AddToCart",
    "Checkout Started": "InitiateCheckout",
    "Product Viewed": "ViewContent",
    "Lead Generated": "Lead",
    "Signed Up": "CompleteRegistration",
    "Products Searched": "Search",
    "Product Added to Wishlist": "AddToWishlist",
}


def relay_transform(bodies: list[bytes]) -> list[bytes]:
    integration = Integration.model_validate({"id": "b", "source_id": "s", "config": {"pixel_id": PIXEL}})
    events = []
    for body in bodies:
        outcome = map_event(parse_event_json(body), integration, now=NOW)
        if isinstance(outcome, ServerEvent):
            events.append(outcome)
    requests, _ = build_requests(events)
    return [r.body for r in requests]


def sdk_transform(bodies: list[bytes]) -> list[bytes]:
    from facebook_business.adobjects.serverside.action_source import ActionSource
    from facebook_business.adobjects.serverside.content import Content
    from facebook_business.adobjects.serverside.custom_data import CustomData
    from facebook_business.adobjects.serverside.event import Event
    from facebook_business.adobjects.serverside.event_request import EventRequest
    from facebook_business.adobjects.serverside.user_data import UserData

    events = []
    for body in bodies:
        e = json.loads(body)
        ctx, props = e.get("context", {}), e.get("properties", {})
        t = ctx.get("traits", {})
        user = UserData(
            email=t.get("email"),
            phone=t.get("phone"),
            first_name=t.get("firstName"),
            last_name=t.get("lastName"),
            city=t.get("city"),
            zip_code=t.get("postalCode"),
            country_code=t.get("country"),
            external_id=e.get("anonymousId"),
            client_ip_address=ctx.get("ip"),
            client_user_agent=ctx.get("userAgent"),
            fbp=ctx.get("fbp"),
            fbc=ctx.get("fbc"),
        )
        products = props.get("products") or ([props] if "product_id" in props else [])
        contents = [
            Content(
                product_id=p.get("product_id") or p.get("sku"),
                quantity=p.get("quantity", 1),
                item_price=p.get("price"),
            )
            for p in products
        ]
        value = props.get("total", props.get("revenue", props.get("value")))
        if value is None and products:
            value = sum(p.get("price", 0) * p.get("quantity", 1) for p in products)
        custom = CustomData(
            value=value,
            currency=props.get("currency"),
            order_id=props.get("order_id"),
            contents=contents or None,
            content_ids=[c.product_id for c in contents] or None,
            num_items=sum(c.quantity for c in contents) or None,
            search_string=props.get("query"),
        )
        name = "PageView" if e["type"] == "page" else SDK_EVENT_NAMES.get(e.get("event", ""), e.get("event"))
        when = datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
        events.append(
            Event(
                event_name=name,
                event_time=int(when.timestamp()),
                event_id=e.get("messageId"),
                event_source_url=ctx.get("page", {}).get("url"),
                action_source=ActionSource.WEBSITE,
                user_data=user,
                custom_data=custom,
            )
        )
    out = []
    for i in range(0, len(events), MAX_EVENTS_PER_REQUEST):
        params = EventRequest(pixel_id=PIXEL, events=events[i : i + MAX_EVENTS_PER_REQUEST]).get_params()
        out.append(json.dumps(params).encode())
    return out


def _time(fn: Callable[[list[bytes]], list[bytes]], bodies: list[bytes], repeats: int) -> list[float]:
    fn(bodies[:50])  # warm caches and imports outside the measurement
    runs = []
    for _ in range(repeats):
        clear_caches()  # every run starts cold: no hash survives from the previous run
        start = time.perf_counter()
        fn(bodies)
        runs.append(time.perf_counter() - start)
    return runs


def run(bodies: list[bytes], repeats: int = 5) -> dict[str, Any]:
    """Median events/second of both transforms over the same bodies, and their ratio."""
    relay_runs = _time(relay_transform, bodies, repeats)
    sdk_runs = _time(sdk_transform, bodies, repeats)
    relay_eps = len(bodies) / statistics.median(relay_runs)
    sdk_eps = len(bodies) / statistics.median(sdk_runs)
    return {
        "events": len(bodies),
        "repeats": repeats,
        "relay_events_per_s": relay_eps,
        "sdk_events_per_s": sdk_eps,
        "ratio": relay_eps / sdk_eps,
        "relay_us_per_event": 1e6 / relay_eps,
        "sdk_us_per_event": 1e6 / sdk_eps,
    }
