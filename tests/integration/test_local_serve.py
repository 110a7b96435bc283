"""`relay local serve` (relay.local.serve): the admin API over HTTP on loopback, the deliver worker, the
README's curl verbatim against the command, and a clean stop on SIGINT."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.local.graph import GraphEmulator
from relay.local.serve import LocalServer, PortInUse, http_api_event
from tests.support import ROOT, order

ADMIN_TOKEN = "YOUR_TOKEN"
PIXEL = "1234567890"
PRODUCT_BODY = {
    "source_id": "src_abc123",
    "vendor": "meta_capi",
    "name": "Meta CAPI Production",
    "enabled": True,
    "config": {"pixel_id": PIXEL, "access_token": "your_access_token"},
    "consent_categories": ["advertising"],
}


def call(
    url: str, method: str = "GET", body: Any = None, token: str | None = ADMIN_TOKEN, **headers: str
) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    sent = {"Content-Type": "application/json", **headers}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            text = answer.read()
            return answer.status, dict(answer.headers), json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, dict(error.headers), json.loads(text) if text else None


def eventually(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.05)


@pytest.fixture
def served() -> Iterator[tuple[LocalServer, GraphEmulator]]:
    """The server on a free port, aimed at an emulator that accepts only 'good-token' for PIXEL."""
    with (
        GraphEmulator(access_tokens={PIXEL: "good-token"}) as graph,
        LocalServer(port=0, graph_url=graph.url, admin_token=ADMIN_TOKEN, worker_idle_s=0.05) as server,
    ):
        yield server, graph


def test_the_admin_api_answers_over_http_with_auth_and_the_openapi_document_open(served):
    server, _ = served
    base = f"{server.url}/v1/admin"
    # WHEN the product body is posted, listed, read without a token, and the document fetched openly
    status, headers, created = call(f"{base}/integrations", "POST", PRODUCT_BODY)
    listed = call(f"{base}/integrations?source_id=src_abc123")
    refused = call(f"{base}/integrations", token=None)
    document = call(f"{base}/openapi.json", token=None)
    elsewhere = call(f"{server.url}/elsewhere", "POST", {})
    collector = call(f"{server.url}/v1/track", "POST", {}, token=None)
    # THEN 201 with an ETag; the list has it; 401 with the challenge; the document; 404 outside the admin
    # API and the collector; the collector (beside it under /v1) wants a write key
    assert status == 201
    assert headers["ETag"] == '"1"'
    assert [i["id"] for i in listed[2]["items"]] == [created["id"]]
    assert refused[0] == 401
    assert refused[1]["WWW-Authenticate"].startswith("Bearer")
    assert document[0] == 200
    assert "/v1/admin/integrations" in document[2]["paths"]
    assert elsewhere[0] == 404
    assert collector[0] == 401
    assert collector[1]["WWW-Authenticate"] == 'Basic realm="relay"'


def test_a_token_fix_redrives_the_parked_events_and_the_worker_delivers_them(served):
    # GIVEN an integration created with a token Meta refuses, and an event of its source queued
    server, graph = served
    base = f"{server.url}/v1/admin/integrations"
    body = {**PRODUCT_BODY, "id": "meta-1", "config": {"pixel_id": PIXEL, "access_token": "bad-token"}}
    assert call(base, "POST", body)[0] == 201
    assert server.stack is not None
    recent = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    server.stack.enqueue(
        [json.dumps(order("m-1", timestamp=recent, source_id="src_abc123"))], server.stack.events_queue_url
    )

    def parked() -> int:
        assert server.stack is not None
        attributes = server.stack.sqs.get_queue_attributes(
            QueueUrl=server.stack.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    # WHEN the worker has parked it (reason auth) and the token is fixed through the API
    eventually(lambda: parked() == 1)
    assert graph.accepted == []
    status, _, patched = call(f"{base}/meta-1", "PATCH", {"config": {"access_token": "good-token"}})
    # THEN the answer says one message moved, and the worker delivers it to Meta with the new token
    assert status == 200, patched
    assert patched["redrive"]["moved"] == 1
    eventually(lambda: len(graph.accepted) == 1)
    assert graph.accepted[0].event["event_id"] == "m-1"
    assert graph.requests[-1].headers.get("authorization") == "Bearer good-token"
    assert parked() == 0
    assert server.worker_errors == 0


def test_the_product_curl_integration_tests_and_is_healthy_then_a_refused_token_shows_in_health():
    # GIVEN `relay local serve` with its built-in emulator, and the product description's integration
    with LocalServer(port=0, admin_token=ADMIN_TOKEN, worker_idle_s=0.05) as server:
        base = f"{server.url}/v1/admin/integrations"
        status, _, created = call(base, "POST", PRODUCT_BODY)
        assert status == 201
        path = f"{base}/{created['id']}"
        # WHEN it is tested and its health read, then its token becomes one Meta refuses
        tested = call(f"{path}/test", "POST", {"test_event_code": "TEST12345"})
        healthy = call(f"{path}/health")
        assert call(path, "PATCH", {"config": {"access_token": "expired_access_token"}})[0] == 200
        refused = call(f"{path}/health")
        assert server.emulator is not None
        accepted = list(server.emulator.accepted)
    # THEN the test event reached the emulator, health was ok, then token_invalid_or_expired
    assert (tested[0], tested[2]["ok"], tested[2]["events_received"]) == (200, True, 1)
    assert [(a.pixel_id, a.test_event_code) for a in accepted] == [(PIXEL, "TEST12345")]
    assert (healthy[0], healthy[2]["status"]) == (200, "ok")
    assert (refused[0], refused[2]["status"], refused[2]["error"]["code"]) == (
        200,
        "token_invalid_or_expired",
        190,
    )


def test_a_taken_port_is_refused_with_a_clear_error():
    with LocalServer(port=0, admin_token=ADMIN_TOKEN) as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port}"):
            LocalServer(port=port, admin_token=ADMIN_TOKEN).start()


def test_a_request_becomes_the_http_api_v2_event_api_gateway_would_send():
    # GIVEN an HTTP request with a repeated query key and a binary body
    event = http_api_event(
        "PATCH",
        "/v1/admin/integrations/a?x=1&x=2&y=",
        {"content-type": "application/json", "host": "localhost:8084"},
        b"\xff\x00",
        source_ip="127.0.0.1",
        request_id="r-1",
    )
    # THEN the v2 shape: raw path and query, joined repeats, the method, base64 for non-UTF-8 bytes
    assert event["version"] == "2.0"
    assert (event["rawPath"], event["rawQueryString"]) == ("/v1/admin/integrations/a", "x=1&x=2&y=")
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["requestContext"]["http"]["method"] == "PATCH"
    assert event["requestContext"]["requestId"] == "r-1"
    assert (event["body"], event["isBase64Encoded"]) == ("/wA=", True)


def _readme_curl() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"```sh\n(curl -X POST http://localhost:8084/v1/admin/integrations.*?)```", readme, re.S
    )
    assert match is not None, "README: the product description's curl example"
    return match.group(1)


def _banner(process: subprocess.Popen[str], lines: int = 5, timeout_s: float = 60.0) -> list[str]:
    """The first `lines` lines the command prints, waiting at most `timeout_s` (never forever)."""
    import queue
    import threading

    assert process.stdout is not None
    stdout = process.stdout
    got: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for _ in range(lines):
            got.put(stdout.readline())

    threading.Thread(target=read, daemon=True).start()
    banner: list[str] = []
    deadline = time.monotonic() + timeout_s
    while len(banner) < lines:
        try:
            line = got.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(
                f"`relay local serve` printed only {banner!r} in {timeout_s:.0f} s"
            ) from None
        if not line:
            _, err = process.communicate(timeout=10)
            raise AssertionError(f"`relay local serve` exited ({process.returncode}): {banner!r}\n{err}")
        banner.append(line)
    return banner


def test_the_readmes_curl_verbatim_creates_an_integration_through_relay_local_serve():
    # GIVEN `relay local serve` on its default port with RELAY_ADMIN_TOKEN=YOUR_TOKEN
    env = {**os.environ, "RELAY_ADMIN_TOKEN": ADMIN_TOKEN, "PYTHONPATH": str(ROOT / "layers" / "core")}
    env.pop("META_GRAPH_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "relay", "local", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = _banner(process, lines=10)
        assert banner[0].rstrip() == (
            "Console           http://127.0.0.1:8084/console/  (sign in with the admin token below)"
        ), banner
        assert banner[1].startswith("Relay admin API   http://127.0.0.1:8084/"), banner
        assert (
            banner[3].rstrip()
            == "Demo shop         http://127.0.0.1:8084/demo/  (source 'demo', retail → pixel 1234567890)"
        )
        assert "from RELAY_ADMIN_TOKEN" in "".join(banner)
        # WHEN the README's curl runs as written (the product description's example)
        done = subprocess.run(["bash", "-c", _readme_curl()], capture_output=True, text=True, timeout=30)
        # THEN it printed the created integration, without the token
        assert done.returncode == 0, done.stderr
        created = json.loads(done.stdout)
        assert (created["name"], created["config"]["pixel_id"], created["token_last4"]) == (
            "Meta CAPI Production",
            PIXEL,
            "oken",
        )
        assert "your_access_token" not in done.stdout
        # AND Ctrl-C (SIGINT) stops it cleanly
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopped" in out
    assert "your_access_token" not in out + err
    assert "Traceback" not in err


def test_without_relay_admin_token_a_token_is_generated_and_printed_once(monkeypatch):
    monkeypatch.delenv("RELAY_ADMIN_TOKEN", raising=False)
    with LocalServer(port=0) as server:
        banner = "\n".join(server.banner())
        assert server.generated
        assert len(server.admin_token) >= 32
        assert banner.count(server.admin_token) == 1
        assert call(f"{server.url}/v1/admin/integrations", token=server.admin_token)[0] == 200
