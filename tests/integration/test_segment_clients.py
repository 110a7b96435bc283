"""Segment's own Python client (segment-analytics-python) against `relay local serve`: an identify then an
Order Completed reach Meta's emulator as a Purchase carrying the identify's hashed traits; a wrong write
key is refused (401) and nothing is delivered. The client's host is the local collector, never Segment's."""

from __future__ import annotations

import atexit
import base64
import gzip
import hashlib
import json
import logging
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import segment.analytics.request as segment_request  # type: ignore[import-untyped]
from segment.analytics import Client

from relay.local.graph import AcceptedEvent
from relay.local.serve import LocalServer
from relay.normalize import normalize_external_id

PIXEL = "1234567890"
USER_ID = "user-42"
TRAITS = {"email": "Jane.Doe@Example.com", "phone": "+1 (616) 954-7888", "firstName": "Jane"}
ORDER = {
    "order_id": "ORD-1",
    "total": 129.99,
    "currency": "USD",
    "products": [{"product_id": "SKU-A", "price": 49.99, "quantity": 2}],
}
# A server library may send its visitor's page in context.page: the Purchase is then a website event.
CHECKOUT = "https://shop.example/checkout"
WAIT_S = 10.0


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def eventually(check: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"the condition did not hold in {timeout_s:.0f} s")
        time.sleep(0.05)


class Exchange:
    """One HTTP exchange of the client (read from requests' response hook on its module session)."""

    def __init__(self, response: Any) -> None:
        sent = response.request
        body = sent.body if isinstance(sent.body, bytes) else str(sent.body).encode()
        self.url: str = sent.url
        self.headers: dict[str, str] = dict(sent.headers)
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.body: dict[str, Any] = json.loads(body)
        self.status: int = response.status_code
        self.answer: str = response.text


@pytest.fixture
def exchanges(monkeypatch: pytest.MonkeyPatch) -> list[Exchange]:
    """Every request the Segment client sends, with the collector's answer (the hook is removed after)."""
    seen: list[Exchange] = []

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(Exchange(response))

    monkeypatch.setitem(segment_request._session.hooks, "response", [hook])
    return seen


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """`relay local serve` with its demo source (retail → pixel 1234567890) and built-in emulator."""
    with LocalServer(port=0, demo=True, worker_idle_s=0.1) as served:
        yield served


# What the client's on_error callback was given: (HTTP status, code, events in the failed batch).
Errors = list[tuple[int, str, int]]


def client(write_key: str, host: str, *, gzip: bool) -> tuple[Any, Errors]:
    """The library's threaded client (its default mode) aimed at `host`, retrying nothing, and the errors
    its on_error callback collects. (The callback must be a function: the library skips a falsy one.)"""
    errors: Errors = []

    def on_error(error: Exception, batch: list[dict[str, Any]]) -> None:
        errors.append(
            (getattr(error, "status", -1), getattr(error, "code", type(error).__name__), len(batch))
        )

    return Client(
        write_key, host=host, gzip=gzip, on_error=on_error, max_retries=0, upload_interval=0.1
    ), errors


def close(sender: Any) -> None:
    """Flush the queue, stop the consumer thread, and drop the client's exit hook."""
    sender.shutdown()
    atexit.unregister(sender.join)
    assert [consumer.is_alive() for consumer in sender.consumers] == [False]


def basic(write_key: str) -> str:
    return base64.b64encode(f"{write_key}:".encode()).decode()


def accepted(server: LocalServer) -> list[AcceptedEvent]:
    assert server.emulator is not None
    return list(server.emulator.accepted)


@pytest.mark.parametrize("gzipped", [True, False], ids=["gzip", "plain"])
def test_an_identify_then_an_order_from_segments_python_client_reach_meta_as_a_purchase_with_the_traits(
    server, exchanges, caplog, gzipped
):
    # GIVEN Segment's Python client with the demo source's write key, its host the local collector
    assert server.write_key is not None
    sender, errors = client(server.write_key, server.url, gzip=gzipped)
    # WHEN it identifies user-42, then tracks their order from the checkout page, and is shut down
    with caplog.at_level(logging.WARNING, logger="segment"):
        sender.identify(USER_ID, TRAITS)
        sender.track(USER_ID, "Order Completed", ORDER, context={"page": {"url": CHECKOUT}})
        close(sender)
        eventually(lambda: len(accepted(server)) == 1)
    # THEN every request went to the collector's /v1/batch, with the key as Basic user, and got 200
    assert errors == []
    assert [r.getMessage() for r in caplog.records] == []
    assert exchanges != []
    for sent in exchanges:
        assert sent.url == f"{server.url}/v1/batch"
        assert (sent.status, json.loads(sent.answer)) == (200, {"success": True})
        assert sent.headers["Authorization"] == "Basic " + basic(server.write_key)
        assert sent.headers["Content-Type"] == "application/json"
        assert sent.headers.get("Content-Encoding") == ("gzip" if gzipped else None)
    batch = [event for sent in exchanges for event in sent.body["batch"]]
    assert [(e["type"], e["userId"]) for e in batch] == [("identify", USER_ID), ("track", USER_ID)]
    # AND Meta got one Purchase with the identify's traits hashed, user-42 as external_id, the order
    [purchase] = accepted(server)
    event = purchase.event
    assert (purchase.pixel_id, purchase.test_event_code) == (PIXEL, None)
    assert (event["event_name"], event["action_source"], event["event_source_url"]) == (
        "Purchase",
        "website",
        CHECKOUT,
    )
    assert event["event_id"] == batch[1]["messageId"]
    assert normalize_external_id(USER_ID) == USER_ID
    assert {
        k: v for k, v in event["user_data"].items() if k not in ("client_ip_address", "client_user_agent")
    } == {
        "em": sha256("jane.doe@example.com"),
        "ph": sha256("16169547888"),
        "fn": sha256("jane"),
        "external_id": sha256("user-42"),
    }
    assert event["user_data"]["client_user_agent"].startswith("analytics-python/")
    assert event["user_data"]["client_ip_address"] == "127.0.0.1"
    custom = event["custom_data"]
    assert (custom["value"], custom["currency"], custom["order_id"]) == (129.99, "USD", "ORD-1")
    assert custom["contents"] == [{"id": "SKU-A", "quantity": 2, "item_price": 49.99}]
    assert server.worker_errors == 0


def test_a_bare_server_side_order_from_segments_python_client_reaches_meta_as_a_purchase(server, exchanges):
    # GIVEN Segment's Python client with the demo source's write key
    assert server.write_key is not None
    sender, errors = client(server.write_key, server.url, gzip=True)
    # WHEN it identifies user-42 and tracks the order with no context at all, as a backend would
    sender.identify(USER_ID, TRAITS)
    sender.track(USER_ID, "Order Completed", ORDER)
    close(sender)
    eventually(lambda: len(accepted(server)) == 1)
    # THEN the collector took both, and Meta got the Purchase with the identify's hashed traits, sent as
    # `other` (no page URL: Meta refuses a `website` event without one)
    assert errors == []
    assert [sent.status for sent in exchanges] == [200] * len(exchanges)
    [purchase] = accepted(server)
    assert (purchase.event["event_name"], purchase.event["action_source"]) == ("Purchase", "other")
    assert "event_source_url" not in purchase.event
    users = purchase.event["user_data"]
    assert (users["em"], users["ph"], users["fn"]) == (
        sha256("jane.doe@example.com"),
        sha256("16169547888"),
        sha256("jane"),
    )
    assert server.totals.dead_lettered == {}


def test_a_wrong_write_key_is_refused_401_to_the_clients_on_error_and_nothing_reaches_meta(
    server, exchanges, caplog
):
    # GIVEN Segment's Python client with a write key no source has
    sender, errors = client("not-a-write-key", server.url, gzip=True)
    # WHEN it identifies and tracks, and is shut down
    with caplog.at_level(logging.ERROR, logger="segment"):
        sender.identify(USER_ID, TRAITS)
        sender.track(USER_ID, "Order Completed", ORDER, context={"page": {"url": CHECKOUT}})
        close(sender)
    # THEN on_error got each refused batch as 401 unauthorized, the collector answered exactly that
    assert errors != []
    assert errors == [(401, "unauthorized", n) for *_, n in errors]
    assert sum(n for *_, n in errors) == 2
    assert [(sent.url, sent.status) for sent in exchanges] == [(f"{server.url}/v1/batch", 401)] * len(errors)
    assert json.loads(exchanges[0].answer) == {
        "success": False,
        "code": "unauthorized",
        "message": "unknown write key",
    }
    assert "error uploading: [Segment] unauthorized: unknown write key (401)" in caplog.messages
    # AND nothing was queued: after several worker rounds Meta has received nothing
    time.sleep(0.5)
    assert accepted(server) == []
    assert server.totals.batches == 0


NODE_CLIENT = Path(__file__).resolve().parents[1] / "js" / "segment_node.mjs"


def test_segments_node_client_identify_then_order_reach_meta_as_a_purchase_with_the_traits(server):
    # GIVEN Segment's Node client (tests/js, `npm ci` by make test) with the demo source's write key
    node = shutil.which("node")
    assert node is not None, "Node.js is needed for Segment's Node client"
    assert (NODE_CLIENT.parent / "node_modules" / "@segment" / "analytics-node").is_dir(), (
        "run `make tests/js/node_modules/.ready` (npm ci --prefix tests/js)"
    )
    assert server.write_key is not None
    # WHEN it identifies user-42 and tracks their order as a backend would (no page), then closes
    done = subprocess.run(
        [node, str(NODE_CLIENT), server.url, server.write_key], capture_output=True, text=True, timeout=60
    )
    # THEN it made its requests to the collector's /v1/batch without an error
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines != []
    assert [line for line in lines if "error" in line] == []
    assert {(line["method"], line["url"]) for line in lines} == {("POST", f"{server.url}/v1/batch")}
    assert done.stdout.rstrip().endswith("closed")
    # AND Meta got the Purchase with the identify's traits hashed
    eventually(lambda: len(accepted(server)) == 1)
    [purchase] = accepted(server)
    assert (purchase.event["event_name"], purchase.event["action_source"]) == ("Purchase", "other")
    users = purchase.event["user_data"]
    assert (users["em"], users["ph"], users["fn"], users["external_id"]) == (
        sha256("jane.doe@example.com"),
        sha256("16169547888"),
        sha256("jane"),
        sha256("user-42"),
    )
    assert purchase.event["custom_data"]["value"] == 129.99
