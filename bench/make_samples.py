"""Writes events/*.json (Segment-spec samples) and events/sqs/*.json (the same wrapped as SQS events).

Run once by hand when samples change: `.venv/bin/python bench/make_samples.py`. A test checks that the
SQS files still wrap exactly the Segment files.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15"
T0 = "2026-11-26T12:00:00.000Z"


def web(
    n: int,
    type_: str,
    event: str | None = None,
    props: dict[str, Any] | None = None,
    url: str = "https://shop.example.com/",
    **extra: Any,
) -> dict[str, Any]:
    e: dict[str, Any] = {
        "type": type_,
        "messageId": f"msg-{n:04d}",
        "anonymousId": "anon-7d3c1f0e-9b2a-4c55-8a61-2f4b7e9c1d20",
        "timestamp": f"2026-11-26T12:{n % 60:02d}:00.000Z",
        "receivedAt": f"2026-11-26T12:{n % 60:02d}:01.000Z",
        "context": {
            "ip": "203.0.113.50",
            "userAgent": UA,
            "page": {"url": url, "referrer": "https://www.google.com/", "path": "/", "title": "Shop"},
            "fbp": "fb.1.1795694400000.1234567890",
            "consent": {"categoryPreferences": {"advertising": True, "analytics": True}},
            "traits": {
                "email": "Jane.Doe@Example.com",
                "phone": "+44 7700 900123",
                "firstName": "Jane",
                "lastName": "Doe",
                "city": "London",
                "country": "GB",
            },
        },
    }
    if event is not None:
        e["event"] = event
    if props is not None:
        e["properties"] = props
    for k, v in extra.items():
        e[k] = v
    return e


PRODUCTS = [
    {"product_id": "SKU-A", "name": "Widget", "price": 49.99, "quantity": 2},
    {"product_id": "SKU-B", "name": "Gadget", "price": 30.01, "quantity": 1},
]


def default_events() -> list[dict[str, Any]]:
    seed = web(
        1,
        "track",
        "Order Completed",
        {"order_id": "ORD-001", "total": 129.99, "currency": "USD", "products": PRODUCTS},
        url="https://example.com/checkout/confirmation?fbclid=AbCdEfGhIjKl",
    )
    seed["messageId"] = "evt_abc123def456"
    seed["context"]["fbc"] = "fb.1.1706539000000.AbCdEfGhIjKl"
    seed["context"].pop("traits")
    seed["context"]["page"].pop("referrer")
    evs = [
        seed,
        web(
            2,
            "page",
            name="Home",
            url="https://shop.example.com/?utm_source=meta&fbclid=IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk",
        ),
        web(
            3,
            "track",
            "Product Purchased",
            {
                "order_id": "ORD-002",
                "revenue": 25,
                "currency": "eur",
                "products": [{"sku": "SKU-C", "price": 25}],
            },
        ),
        web(
            4,
            "track",
            "Product Added",
            {"product_id": "SKU-A", "name": "Widget", "price": 49.99, "quantity": 3, "currency": "USD"},
        ),
        web(
            5,
            "track",
            "Checkout Started",
            {"order_id": "ORD-003", "value": 80, "currency": "USD", "products": PRODUCTS},
        ),
        web(
            6,
            "track",
            "Product Viewed",
            {
                "product_id": "SKU-B",
                "name": "Gadget",
                "category": "Gizmos",
                "price": 30.01,
                "currency": "USD",
            },
        ),
        web(7, "track", "Lead Generated", {"value": 10, "currency": "USD"}),
        web(8, "track", "Signed Up", {"status": "registered", "content_name": "Newsletter"}),
        web(9, "track", "Products Searched", {"query": "blue widget"}),
        web(10, "track", "Product Added to Wishlist", {"product_id": "SKU-A", "price": 49.99}),
        web(
            11,
            "identify",
            userId="user-123",
            traits={
                "email": "jane.doe@example.com",
                "phone": "+44 7700 900123",
                "firstName": "Jane",
                "lastName": "Doe",
                "address": {"city": "London", "postalCode": "SW1A 1AA", "country": "United Kingdom"},
                "birthday": "1990-04-21",
                "gender": "female",
            },
        ),
        web(
            12,
            "track",
            "Video Played",
            {
                "video_id": "v-42",
                "position": 12.5,
                "email": "jane.doe@example.com",
                "autoplay": False,
                "nested": {"a": 1},
            },
        ),
        web(13, "track", "Order Completed", {"order_id": "ORD-004", "total": 10, "currency": "USD"}),
        web(14, "page", url="https://shop.example.com/pricing"),
    ]
    # consent denied: skipped for an integration that needs "advertising"
    evs[-1]["context"]["consent"] = {"categoryPreferences": {"advertising": False, "analytics": True}}
    # a userId on a logged-in purchase: external_id carries both ids
    evs[12]["userId"] = "user-123"
    # a mobile app screen (action_source app + app_data)
    app = web(15, "screen", name="Home")
    app["context"] = {
        "ip": "2001:db8::1",
        "app": {"name": "Shop", "version": "4.2.0", "build": "420", "namespace": "com.example.shop"},
        "device": {
            "id": "dev-1",
            "advertisingId": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
            "adTrackingEnabled": True,
            "manufacturer": "Apple",
            "model": "iPhone15,2",
            "type": "ios",
        },
        "os": {"name": "iOS", "version": "18.1"},
        "screen": {"width": 1179, "height": 2556, "density": 3},
        "network": {"carrier": "EE"},
        "locale": "en-GB",
        "timezone": "Europe/London",
        "traits": {"email": "jane.doe@example.com"},
    }
    evs.append(app)
    return evs


def retail_events() -> list[dict[str, Any]]:
    return [
        web(
            20,
            "track",
            "Product List Viewed",
            {"list_id": "summer", "category": "Deals", "products": PRODUCTS},
        ),
        web(21, "track", "Product List Viewed", {"category": "Deals"}),
        web(
            22,
            "track",
            "Payment Info Entered",
            {"order_id": "ORD-010", "total": 129.99, "currency": "USD", "products": PRODUCTS},
        ),
        web(23, "track", "Order Refunded", {"order_id": "ORD-001", "total": 129.99, "currency": "USD"}),
        web(
            24,
            "track",
            "Order Completed",
            {
                "order_id": "ORD-011",
                "total": 59.5,
                "currency": "GBP",
                "products": [{"product_id": "SKU-D", "price": 59.5}],
            },
        ),
    ]


TRIP = {
    "checkin_date": "2026-12-20",
    "checkout_date": "2026-12-27",
    "destination": "Lisbon",
    "num_adults": 2,
    "num_children": 1,
}
FLIGHT = {
    "origin_airport": "LHR",
    "destination_airport": "LIS",
    "departing_departure_date": "2026-12-20",
    "returning_departure_date": "2026-12-27",
    "num_adults": 2,
}


def travel_events() -> list[dict[str, Any]]:
    return [
        web(30, "track", "Hotel Searched", {"query": "Lisbon hotels", **TRIP}),
        web(31, "track", "Flight Searched", {"query": "LHR-LIS", **FLIGHT}),
        web(32, "track", "Products Searched", {"query": "Lisbon", "content_type": "hotel", **TRIP}),
        web(33, "track", "Booking Started", {"value": 840, "currency": "EUR", **TRIP}),
        web(
            34,
            "track",
            "Booking Completed",
            {"booking_id": "BK-9001", "total": 840, "currency": "EUR", **TRIP},
        ),
        web(35, "track", "Booking Cancelled", {"booking_id": "BK-9001", "value": 840, "currency": "EUR"}),
    ]


def b2b_events() -> list[dict[str, Any]]:
    return [
        web(
            40,
            "track",
            "Trial Started",
            {"value": 0, "currency": "USD", "predicted_ltv": 1200, "plan": "pro"},
        ),
        web(
            41,
            "track",
            "Subscription Started",
            {"value": 99, "currency": "USD", "predicted_ltv": 2376, "subscription_id": "sub_8f2a"},
        ),
        web(42, "track", "Demo Requested", {"value": 50, "currency": "USD"}),
        web(43, "track", "Form Submitted", {"form_id": "contact-sales"}),
        web(44, "track", "Meeting Scheduled", {"meeting_type": "demo"}),
        web(45, "track", "Application Submitted", {"role": "admin"}),
        web(46, "track", "Contact Requested", {"channel": "chat"}),
        web(47, "track", "Subscription Cancelled", {"value": 99, "currency": "USD", "reason": "price"}),
    ]


INVALID_LINES = [
    '{"type": "track", "messageId": "bad-1", "properties": {"total": 5}}',
    "this line is not JSON",
    '["an", "array", "not", "an", "object"]',
    '{"type": "track", "event": "Order Completed", "messageId": "bad-2", "timestamp": "2026-11-26T12:00:00Z", "context": {"page": {"url": 42}, "userAgent": "x"}}',
    '{"type": "track", "event": "Order Completed", "messageId": "bad-3", "timestamp": "2026-11-26T12:00:00Z", "anonymousId": "a1", "context": {"page": {"url": "https://shop.example.com/"}, "userAgent": "Mozilla/5.0"}, "properties": {"total": 10}}',
    '{"type": "track", "event": "Order Completed", "messageId": "bad-4", "timestamp": "2026-10-01T12:00:00Z", "anonymousId": "a1", "context": {"page": {"url": "https://shop.example.com/"}, "userAgent": "Mozilla/5.0"}, "properties": {"total": 10, "currency": "USD"}}',
    '{"type": "track", "event": "Order Completed", "messageId": "bad-5", "timestamp": "2026-11-26T12:00:00Z", "anonymousId": "a1", "context": {"page": {"url": "https://shop.example.com/"}, "userAgent": "Mozilla/5.0"}, "properties": {"total": "lots", "currency": "USD"}}',
    '{"type": "track", "event": "Product Viewed", "messageId": "bad-6", "timestamp": "2026-11-26T12:00:00Z", "anonymousId": "a1", "context": {"page": {"url": "https://shop.example.com/"}}}',
    '{"type": "track", "event": "Product Added", "messageId": "good-1", "timestamp": "2026-11-26T12:00:00Z", "anonymousId": "a1", "context": {"page": {"url": "https://shop.example.com/"}, "userAgent": "Mozilla/5.0"}, "properties": {"product_id": "SKU-A", "price": 5, "currency": "USD"}}',
]


def sqs_event(events: list[dict[str, Any]]) -> dict[str, Any]:
    records = []
    for i, e in enumerate(events):
        records.append(
            {
                "messageId": f"00000000-0000-4000-8000-{i:012d}",
                "receiptHandle": f"AQEB-sample-{i}",
                "body": json.dumps(e, separators=(",", ":")),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795694400000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1764158400001",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:relay-events",
                "awsRegion": "eu-west-1",
            }
        )
    return {"Records": records}


def main() -> None:
    sets = {
        "default": default_events(),
        "retail": retail_events(),
        "travel": travel_events(),
        "b2b_saas": b2b_events(),
    }
    for name, evs in sets.items():
        (ROOT / "events" / f"{name}.json").write_text(json.dumps(evs, indent=2, ensure_ascii=False) + "\n")
        (ROOT / "events" / "sqs" / f"{name}.json").write_text(
            json.dumps(sqs_event(copy.deepcopy(evs)), indent=2) + "\n"
        )
    (ROOT / "events" / "invalid.jsonl").write_text("\n".join(INVALID_LINES) + "\n")


if __name__ == "__main__":
    main()
