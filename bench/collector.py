"""Collector benchmarks: warm per-request latency of the real handler, in process; cold import.

The handler is `relay.collector.app.handle` over the HTTP API (payload v2) events `relay local serve`
builds, with SQS and the ProfilesTable replaced by in-memory stand-ins that answer at once (moto's
per-call overhead is not AWS's; AWS's own latency is not Relay's). Side by side, in the same run, the
floor: what any collector must do per request — read the JSON body, write each event back as one
queue message body — with nothing else (no validation, enrichment, cookies or CORS).
"""

from __future__ import annotations

import base64
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench.deliver import CLIENT_ENV, IMPORT_RUNS, _import_env, _python, timed_runs
from relay.collector.app import CollectDeps, handle
from relay.local.serve import http_api_event
from relay.sources import Source

WRITE_KEY = "bench-write-key-0123456789abcdef"
SHOP = "https://shop.example.com"
SINGLE_REQUESTS = 3000
BATCH_REQUESTS = 300
BATCH_EVENTS = 100
WARMUP = 200
P50_TARGET_MS = 2.0
P99_TARGET_MS = 10.0
BATCH_TARGET_MS = 5.0
IMPORT_TARGET_MS = 250.0
# The collector's first request builds these boto3 clients (relay.apps.collect.build_deps).
FIRST_REQUEST_CLIENTS = ("dynamodb", "sqs")
IMPORT_COLLECT = (
    "import time,importlib.util as u; t=time.perf_counter(); "
    "s=u.spec_from_file_location('app','functions/collect/app.py'); m=u.module_from_spec(s); "
    "s.loader.exec_module(m); t1=time.perf_counter(); "
    # The first request, as far as Relay's own code goes: the collector's modules, the envelope's
    # validator, one browser track answered (queue and sources stand-ins: no AWS client yet).
    "import json; from relay.collector.app import CollectDeps, handle; from relay.sources import Source; "
    "q=type('Q',(),{'send_message_batch':lambda self,QueueUrl,Entries:"
    "{'Successful':[{'Id':e['Id']} for e in Entries]}})(); "
    f"d=CollectDeps(source_of=lambda k: Source(id='web', allowed_origins=[{SHOP!r}]), origins=frozenset, "
    "sqs=q, queue_url='q', profiles=None, log=None); "
    "e={'rawPath':'/v1/track','requestContext':{'http':{'method':'POST','sourceIp':'203.0.113.5'}},"
    f"'headers':{{'origin':{SHOP!r},'user-agent':'UA'}},"
    "'body':json.dumps({'writeKey':'k','event':'Order Completed','properties':{'total':1}})}; "
    "assert handle(e,d)['statusCode']==200; t2=time.perf_counter(); "
    "from relay.aws import aws_client; "
    f"[aws_client(n) for n in {FIRST_REQUEST_CLIENTS!r}]; "
    "print(t1-t, t2-t1, time.perf_counter()-t2)"
)


class InstantSqs:
    """SendMessageBatch answered at once, every entry accepted; counts calls and messages."""

    def __init__(self) -> None:
        self.calls = 0
        self.messages = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        self.messages += len(Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


class InstantProfiles:
    def __init__(self) -> None:
        self.writes = 0

    def remember(self, source_id: str, **kwargs: Any) -> int:
        self.writes += 1
        return 1


def _deps(sqs: InstantSqs) -> CollectDeps:
    source = Source(id="web", allowed_origins=[SHOP], cookie_domain="example.com")

    def log() -> Any:
        raise AssertionError("the benchmark's requests are all valid: nothing is logged")

    return CollectDeps(
        source_of={WRITE_KEY: source}.get,
        origins=lambda: frozenset([SHOP]),
        sqs=sqs,
        queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/relay-prod-events",
        profiles=InstantProfiles(),
        log=log,
    )


def _track(n: int) -> dict[str, Any]:
    return {
        "writeKey": WRITE_KEY,
        "event": "Order Completed",
        "messageId": f"m-{n}",
        "timestamp": "2026-12-04T12:00:00.000Z",
        "properties": {
            "order_id": f"ORD-{n}",
            "total": 129.99,
            "currency": "USD",
            "products": [
                {"product_id": "SKU-A", "name": "Widget", "price": 49.99, "quantity": 2},
                {"product_id": "SKU-B", "name": "Gadget", "price": 30.01, "quantity": 1},
            ],
        },
        "context": {
            "page": {
                "url": f"{SHOP}/checkout/confirmation?fbclid=IwAR2F4-dbP0l7Mn1Iaw{n % 97}",
                "referrer": f"{SHOP}/cart",
                "title": "Thank you",
                "path": "/checkout/confirmation",
            },
            "library": {"name": "df.js", "version": "1.0.0"},
            "locale": "en-GB",
            "consent": {"categoryPreferences": {"advertising": True, "analytics": True}},
        },
    }


def single_requests() -> list[dict[str, Any]]:
    """Browser track calls as API Gateway hands them over: Origin, User-Agent, cookies, text/plain."""
    headers = {
        "origin": SHOP,
        "user-agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15",
        "content-type": "text/plain;charset=UTF-8",
        "referer": f"{SHOP}/checkout/confirmation",
    }
    out = []
    for n in range(SINGLE_REQUESTS + WARMUP):
        event = http_api_event(
            "POST",
            "/v1/track",
            headers,
            json.dumps(_track(n)).encode(),
            source_ip="203.0.113.50",
            request_id="r",
        )
        event["cookies"] = [f"_fbp=fb.1.1733300000000.{100000 + n}", f"_df_aid=aid-{n:08d}-bench"]
        out.append(event)
    return out


def batch_requests() -> list[dict[str, Any]]:
    """A backend's /v1/batch of BATCH_EVENTS events with Basic auth (Segment's server libraries)."""
    auth = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    out = []
    for r in range(BATCH_REQUESTS + WARMUP // 10):
        batch = []
        for n in range(BATCH_EVENTS):
            event = _track(r * BATCH_EVENTS + n)
            del event["writeKey"]
            event.update(type="track", userId=f"user-{n}")
            event["context"].update(ip="198.51.100.7", userAgent="Mozilla/5.0 Test")
            batch.append(event)
        body = json.dumps({"batch": batch, "sentAt": "2026-12-04T12:00:00.000Z"}).encode()
        headers = {"authorization": auth, "content-type": "application/json"}
        out.append(
            http_api_event("POST", "/v1/batch", headers, body, source_ip="198.51.100.7", request_id="r")
        )
    return out


def floor(event: dict[str, Any]) -> list[bytes]:
    """The least a collector does: parse the body, write each event as a queue body."""
    doc = orjson.loads(event["body"])
    events = doc.get("batch", [doc])
    return [orjson.dumps(e) for e in events]


def _timed(requests: list[dict[str, Any]], call: Callable[[dict[str, Any]], Any], warmup: int) -> list[float]:
    for event in requests[:warmup]:
        call(event)
    times = []
    gc.collect()
    for event in requests[warmup:]:
        t = time.perf_counter()
        call(event)
        times.append((time.perf_counter() - t) * 1000)
    return times


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def latency() -> dict[str, Any]:
    sqs = InstantSqs()
    deps = _deps(sqs)

    def collect(event: dict[str, Any]) -> None:
        answer = handle(event, deps)
        if answer["statusCode"] != 200:
            raise AssertionError(f"benchmark request refused: {answer['body']}")

    single = single_requests()
    batch = batch_requests()
    relay_single = _timed(single, collect, WARMUP)
    floor_single = _timed(single, floor, WARMUP)
    calls_before, messages_before = sqs.calls, sqs.messages
    relay_batch = _timed(batch, collect, WARMUP // 10)
    floor_batch = _timed(batch, floor, WARMUP // 10)
    return {
        "single": {
            "p50": statistics.median(relay_single),
            "p99": _percentile(relay_single, 99),
            "floor_p50": statistics.median(floor_single),
            "requests": len(relay_single),
        },
        "batch": {
            "p50": statistics.median(relay_batch),
            "p99": _percentile(relay_batch, 99),
            "floor_p50": statistics.median(floor_batch),
            "requests": len(relay_batch),
            "calls_per_1000": (sqs.calls - calls_before) * 1000 / (sqs.messages - messages_before),
        },
    }


def cold_import() -> dict[str, float]:
    env = _import_env(**CLIENT_ENV)
    _python(IMPORT_COLLECT, env)  # warm-up, unmeasured: writes the .pyc files
    runs = timed_runs(IMPORT_COLLECT, env)
    return {
        "import_ms": statistics.median(r[0] for r in runs),
        "first_request_ms": statistics.median(r[1] for r in runs),
        "clients_ms": statistics.median(r[2] for r in runs),
        "total_ms": statistics.median(sum(r) for r in runs),
        "runs": IMPORT_RUNS,
    }


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def print_tables() -> None:
    """Measure and print the collector's figures as Markdown (bench.run.main)."""
    lat = latency()
    s, b = lat["single"], lat["batch"]
    print(
        "\n## Collector: warm requests in process (real handler; SQS and profiles answer at once; "
        f"{s['requests']:,} single-event and {b['requests']} batch requests after a warm-up)\n"
    )
    print("| request | Relay p50 | Relay p99 | floor p50 | Relay / floor | target | verdict |")
    print("|---|---:|---:|---:|---:|---|---|")
    print(
        f"| browser `/v1/track`, 1 event (Origin, cookies, fbclid) | {s['p50']:.3f} ms | {s['p99']:.3f} ms | "
        f"{s['floor_p50']:.3f} ms | {s['p50'] / s['floor_p50']:.1f}× | p50 ≤ {P50_TARGET_MS:.0f} ms, "
        f"p99 ≤ {P99_TARGET_MS:.0f} ms | {_met(s['p50'] <= P50_TARGET_MS and s['p99'] <= P99_TARGET_MS)} |"
    )
    print(
        f"| backend `/v1/batch`, {BATCH_EVENTS} events (Basic auth) | {b['p50']:.3f} ms | {b['p99']:.3f} ms | "
        f"{b['floor_p50']:.3f} ms | {b['p50'] / b['floor_p50']:.1f}× | p50 ≤ {BATCH_TARGET_MS:.0f} ms | "
        f"{_met(b['p50'] <= BATCH_TARGET_MS)} |"
    )
    print(
        f"\nSendMessageBatch calls per 1,000 events collected: {b['calls_per_1000']:.0f} (10 events per call). "
        "The floor only parses the body and writes each event back (orjson): no validation, enrichment, "
        "cookies, CORS or queue call.\n"
    )
    c = cold_import()
    print(f"### Cold import of the collect handler (fresh interpreter each run, median of {c['runs']})\n")
    print("| what | median | target |")
    print("|---|---:|---:|")
    print(
        f"| `functions/collect/app.py` (.pyc present) | {c['import_ms']:.0f} ms | ≤ {IMPORT_TARGET_MS:.0f} ms: "
        f"{_met(c['import_ms'] <= IMPORT_TARGET_MS)} |"
    )
    print(
        "| … then the first request's own work (the collector's modules, the envelope validator, one "
        f"browser track) | {c['first_request_ms']:.0f} ms | |"
    )
    print(f"| … then its boto3 clients ({', '.join(FIRST_REQUEST_CLIENTS)}) | {c['clients_ms']:.0f} ms | |")
    print(f"| cold start in all (same runs) | {c['total_ms']:.0f} ms | |")


if __name__ == "__main__":
    from bench.run import machine

    print(f"Machine: {machine()}\n", file=sys.stdout)
    print_tables()
