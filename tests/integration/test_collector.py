"""The collector over moto: write keys from the SourcesTable, the events queue, the ProfilesTable, and
delivery reading the profiles back (identify, then a Purchase that carries the identify's hashes)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any

import pytest

from relay.apps.collect import build_deps, origins_reader, source_reader
from relay.collector.app import handle
from relay.local.graph import GraphEmulator
from relay.local.runner import LOCAL_SOURCE, THROWAWAY_TOKEN
from relay.local.serve import http_api_event
from relay.local.stack import LocalStack, Totals
from relay.profiles import Profile, ProfileStore, profile_key
from relay.sources import SourceInput, SourceStore
from tests.integration.conftest import PIXEL

SHOP = "https://shop.example.com"
EM = sha256(b"jane@example.com").hexdigest()
PH = sha256(b"16169547888").hexdigest()


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with GraphEmulator(access_tokens={PIXEL: THROWAWAY_TOKEN}) as emulator:
        yield emulator


def _key(local: LocalStack, source_id: str = LOCAL_SOURCE, **fields: Any) -> str:
    store = SourceStore(local.dynamodb, local.collect_settings().sources_table)
    return store.create(SourceInput(id=source_id, allowed_origins=[SHOP], **fields)).write_key


def _post(deps: Any, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    event = http_api_event(
        "POST", path, headers, json.dumps(body).encode(), source_ip="198.51.100.4", request_id="r"
    )
    return handle(event, deps)


def test_identify_then_purchase_reaches_meta_with_the_identifys_hashes(stack, graph):
    # GIVEN the collector over the template's resources, and a source whose write key a browser uses
    local, settings = stack
    key = _key(local)
    deps = build_deps(local.collect_settings(), clients=local.clients)
    browser = {"origin": SHOP, "user-agent": "Mozilla/5.0 Test", "content-type": "text/plain"}
    page = f"{SHOP}/checkout?fbclid=AbC-123_x"
    # WHEN the browser identifies, then (a later request, cookies carried) completes an order with no traits
    first = _post(
        deps,
        "/v1/identify",
        {
            "writeKey": key,
            "userId": "user-42",
            "traits": {"email": "Jane@Example.com", "phone": "+1 (616) 954-7888"},
            "context": {"page": {"url": page}},
        },
        browser,
    )
    cookies = "; ".join(c.split(";")[0] for c in first["cookies"])
    second = _post(
        deps,
        "/v1/track",
        {
            "writeKey": key,
            "event": "Order Completed",
            "properties": {"order_id": "o-1", "total": 20, "currency": "USD"},
            "context": {"page": {"url": f"{SHOP}/done"}},
        },
        {**browser, "cookie": cookies},
    )
    totals = Totals()
    local.drain(local.events_queue_url, local.deps(settings, default_source=LOCAL_SOURCE), totals)
    # THEN both were answered like Segment, and Meta got a Purchase with the profile's em / ph and the
    # browser's own cookies, IP and user agent
    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    (purchase,) = [a.event for a in graph.accepted if a.event["event_name"] == "Purchase"]
    jar = dict(c.split(";")[0].split("=", 1) for c in first["cookies"])
    users = purchase["user_data"]
    assert users["em"] == EM
    assert users["ph"] == PH
    assert users["fbp"] == jar["_fbp"]
    assert users["fbc"] == jar["_fbc"]
    assert users["fbc"].endswith(".AbC-123_x")
    assert users["client_ip_address"] == "198.51.100.4"
    assert users["client_user_agent"] == "Mozilla/5.0 Test"
    assert totals.skipped == {"identify": 1}
    # AND the ProfilesTable holds hashes only, under hashed keys, with a TTL
    items = local.dynamodb.scan(TableName=local.collect_settings().profiles_table)["Items"]
    dumped = json.dumps(items)
    assert "jane" not in dumped.lower()
    assert "user-42" not in dumped
    assert {i["pk"]["S"][:2] for i in items} == {"a#", "u#"}
    assert all(int(i["expires_at"]["N"]) > datetime.now(UTC).timestamp() + 89 * 86400 for i in items)


def test_profile_store_merges_identifies_and_links_ids(local):
    # GIVEN the ProfilesTable
    store = ProfileStore(local.dynamodb, local.collect_settings().profiles_table, ttl=timedelta(days=90))
    now = datetime(2026, 12, 4, tzinfo=UTC)
    # WHEN a user identifies anonymously on one browser, then with an email on another device with a phone
    store.remember(
        "web", anonymous_id="a-1", user_id="u-1", hashed={"em": EM}, fbp="fb.1.1.1", fbc=None, now=now
    )
    store.remember("web", anonymous_id="a-2", user_id="u-1", hashed={"ph": PH}, fbp=None, fbc=None, now=now)
    # THEN the user's profile merges both, and the first browser's profile links to it
    found = store.lookup([profile_key("web", "a", "a-1")])
    user = profile_key("web", "u", "u-1")
    assert found[profile_key("web", "a", "a-1")] == Profile({"em": EM}, fbp="fb.1.1.1", user_key=user)
    assert found[user] == Profile({"em": EM, "ph": PH}, fbp="fb.1.1.1")
    assert store.lookup([profile_key("web", "a", "nobody")]) == {}


def test_profile_lookup_reads_more_than_one_batch_get(local):
    store = ProfileStore(local.dynamodb, local.collect_settings().profiles_table)
    now = datetime(2026, 12, 4, tzinfo=UTC)
    for n in range(130):
        store.remember(
            "web", anonymous_id=f"a-{n}", user_id=None, hashed={"em": EM}, fbp=None, fbc=None, now=now
        )
    found = store.lookup([profile_key("web", "a", f"a-{n}") for n in range(130)])
    assert len(found) == 130


def test_write_keys_are_cached_and_a_rotated_key_stops_after_the_cache(local):
    # GIVEN a source and a reader caching answers 60 s on a fake clock
    store = SourceStore(local.dynamodb, local.collect_settings().sources_table)
    issued = store.create(SourceInput(id="web", allowed_origins=[SHOP]))
    clock = [0.0]
    reader = source_reader(store, 60, clock=lambda: clock[0])
    calls: list[str] = []
    real = store.by_write_key

    def counting(key: str) -> Any:
        calls.append(key)
        return real(key)

    store.by_write_key = counting  # type: ignore[method-assign,assignment]
    # WHEN the key is used twice, then rotated, then used after the cache expires
    assert reader(issued.write_key) is not None
    assert reader(issued.write_key) is not None
    store.rotate_key("web")
    still = reader(issued.write_key)
    clock[0] = 61
    gone = reader(issued.write_key)
    # THEN one read per minute, and the old key is refused once its cache entry expires
    assert still is not None
    assert gone is None
    assert len(calls) == 2


def test_preflight_origins_come_from_every_enabled_source(local):
    store = SourceStore(local.dynamodb, local.collect_settings().sources_table)
    store.create(SourceInput(id="a", allowed_origins=[SHOP]))
    store.create(SourceInput(id="b", allowed_origins=["https://b.example.net"], enabled=False))
    assert origins_reader(store, 0)() == frozenset({SHOP})


def test_basic_auth_batch_from_a_backend(local):
    # GIVEN a backend sending a batch with Basic auth
    key = _key(local)
    deps = build_deps(local.collect_settings(), clients=local.clients)
    auth = {"authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    batch = [{"type": "track", "event": f"E{n}", "userId": "u", "messageId": f"m-{n}"} for n in range(23)]
    # WHEN it is collected
    answer = _post(deps, "/v1/batch", {"batch": batch, "sentAt": "2026-12-04T00:00:00Z"}, auth)
    # THEN every event is one message on the events queue, stamped with the source
    assert answer["statusCode"] == 200
    bodies = [json.loads(m["Body"]) for m in local.queue_messages(local.events_queue_url)]
    assert sorted(b["messageId"] for b in bodies) == sorted(f"m-{n}" for n in range(23))
    assert {b["context"]["source_id"] for b in bodies} == {LOCAL_SOURCE}


def test_the_handler_answers_the_sample_browser_event(local, monkeypatch):
    # GIVEN CollectFunction's environment over moto (as the template wires it), a source owning the
    # sample's write key, and the sample event (events/collect/track_from_browser.json)
    from tests.support import EVENTS, LambdaContext, load_handler_module

    event = json.loads((EVENTS / "collect" / "track_from_browser.json").read_text())
    key = json.loads(event["body"])["writeKey"]
    settings = local.collect_settings().model_copy(update={"cookie_secure": True})  # deployed: https
    SourceStore(local.dynamodb, settings.sources_table, new_key=lambda: key).create(
        SourceInput(id="shop", allowed_origins=[SHOP], cookie_domain="example.com")
    )
    for name, value in settings.model_dump(exclude_none=True).items():
        monkeypatch.setenv(name.upper(), str(value))
    handler = load_handler_module("collect").handler
    # WHEN the handler runs
    answer = handler(event, LambdaContext())
    # THEN Segment's answer, the CORS grant, the three cookies on example.com, and the event queued with
    # what the collector added
    assert (answer["statusCode"], json.loads(answer["body"])) == (200, {"success": True})
    assert answer["headers"]["Access-Control-Allow-Origin"] == SHOP
    assert sorted(c.split("=", 1)[0] for c in answer["cookies"]) == ["_df_aid", "_fbc", "_fbp"]
    assert all("; Domain=example.com; Secure; SameSite=Lax" in c for c in answer["cookies"])
    (message,) = local.queue_messages(local.events_queue_url)
    queued = json.loads(message["Body"])
    assert queued["anonymousId"] == "6f0d3c1e-2b4a-4c8d-9e7f-0a1b2c3d4e5f"
    assert queued["context"]["source_id"] == "shop"
    assert queued["context"]["ip"] == "203.0.113.50"
    assert queued["context"]["fbp"] == "fb.1.1733300000000.1234567890"
    assert queued["context"]["fbc"].endswith(".IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk")
    assert "writeKey" not in queued
