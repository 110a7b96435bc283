"""The reference: Meta's facebook-business SDK building the same request fields from the same bodies.

The SDK normalises and hashes user_data itself (lower-case + strip, digits-only phone, ...) and builds
`custom_data` with contents; it neither validates the event nor applies Relay's normalisation rules, so
its bytes differ from Relay's (lists for match keys, key order) while the fields are the same. It does not
hash `external_id`, so this adapter hashes it (lower-cased, white space removed) as an SDK user has to.

Nothing here imports Relay: the SDK's CLI (`python -m bench.sdk_cli`) pays only for the SDK.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.content import Content
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.user_data import UserData

PIXEL = "1234567890"
MAX_EVENTS_PER_REQUEST = 1_000
EVENT_NAMES = {
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


def _external_id(value: str | None) -> str | None:
    if not value:
        return None
    return hashlib.sha256("".join(value.lower().split()).encode()).hexdigest()


def _event(e: dict[str, Any], now_s: int) -> Event | None:
    ctx, props = e.get("context", {}), e.get("properties", {})
    prefs = (ctx.get("consent") or {}).get("categoryPreferences") or {}
    if prefs.get("advertising") is not True:
        return None
    t = ctx.get("traits", {})
    user = UserData(
        email=t.get("email"),
        phone=t.get("phone"),
        first_name=t.get("firstName"),
        last_name=t.get("lastName"),
        city=t.get("city"),
        zip_code=t.get("postalCode"),
        country_code=t.get("country"),
        external_id=_external_id(e.get("anonymousId")),
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
        content_type="product" if contents else None,
        num_items=sum(c.quantity for c in contents) or None,
        search_string=props.get("query"),
    )
    name = "PageView" if e["type"] == "page" else EVENT_NAMES.get(e.get("event", ""), e.get("event"))
    when = datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
    return Event(
        event_name=name,
        event_time=min(int(when.timestamp()), now_s),
        event_id=e.get("messageId"),
        event_source_url=ctx.get("page", {}).get("url"),
        action_source=ActionSource.WEBSITE,
        user_data=user,
        custom_data=custom,
    )


def transform(bodies: list[bytes], now_s: int) -> list[bytes]:
    """Compact UTF-8 JSON request bodies ({"data": [...]}, ≤ 1,000 events each) built by the SDK.

    `EventRequest.get_params()` would give each event as a JSON string (the SDK form-encodes its
    requests); the body here holds the same `Event.normalize()` dicts as objects instead, one JSON
    encoding less for the SDK and the same kind of body as Relay's.
    """
    events = [ev for body in bodies if (ev := _event(json.loads(body), now_s)) is not None]
    out = []
    for i in range(0, len(events), MAX_EVENTS_PER_REQUEST):
        request = EventRequest(pixel_id=PIXEL, events=events[i : i + MAX_EVENTS_PER_REQUEST])
        params = request.get_request_params() | {"data": [event.normalize() for event in request.events]}
        out.append(json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode())
    return out


def preview_document(bodies: list[bytes], pixel_id: str = PIXEL) -> bytes:
    """The SDK's bodies in `relay preview --compact`'s document shape, with the trailing newline."""
    head = b'{"pixel_id":' + json.dumps(pixel_id).encode() + b',"body":'
    return b'{"requests":[' + b",".join(head + b + b"}" for b in bodies) + b'],"rejected":[],"skipped":[]}\n'
