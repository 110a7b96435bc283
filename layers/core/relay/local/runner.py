"""`relay local run` and `relay local demo`: the whole delivery path on the embedded local stack."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from relay.integrations import IntegrationInput
from relay.local.stack import ROOT, LocalStack, Totals
from relay.redrive import RedriveRequest, redrive

LOCAL_SOURCE = "local"
THROWAWAY_TOKEN = "local-throwaway-token-0000"  # noqa: S105 - a fake for the emulator
DEMO_FILES = ("default.json",)


def _integration(
    pixel_id: str, variant: str, test_event_code: str | None = None, token: str = THROWAWAY_TOKEN
) -> IntegrationInput:
    return IntegrationInput.model_validate(
        {
            "id": "local-meta",
            "source_id": LOCAL_SOURCE,
            "name": "Local Meta CAPI",
            "variant": variant,
            "consent_categories": ["advertising"],
            "config": {"pixel_id": pixel_id, "test_event_code": test_event_code, "access_token": token},
        }
    )


def read_bodies(path: Path) -> list[str]:
    """Message bodies from a JSON array / JSON lines / SQS event file: one element or line per message.

    Lines that are not JSON are enqueued as they are (delivery parks them as malformed).
    """
    text = path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except ValueError:
        return [line for line in text.splitlines() if line.strip()]
    if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        return [str(r.get("body", "")) for r in doc["Records"] if isinstance(r, dict)]
    items = doc if isinstance(doc, list) else [doc]
    return [json.dumps(item, ensure_ascii=False) for item in items]


def rebase(bodies: list[str], now: datetime) -> list[str]:
    """Shift sample timestamps so the newest is `now` (samples are dated; Meta refuses > 7 days old)."""
    events = [json.loads(b) for b in bodies]
    stamps = [
        datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) for e in events if e.get("timestamp")
    ]
    if not stamps:
        return bodies
    shift = now - max(stamps)
    for e in events:
        for key in ("timestamp", "receivedAt"):
            if isinstance(e.get(key), str):
                e[key] = (datetime.fromisoformat(e[key].replace("Z", "+00:00")) + shift).isoformat()
    return [json.dumps(e, ensure_ascii=False) for e in events]


# The demo's site: its samples reach the collector as browser requests from this origin.
DEMO_ORIGIN = "https://shop.example.com"
# What a browser's tag leaves to the server: the request carries them (headers, source IP, cookies).
SERVER_SIGNALS = ("ip", "userAgent", "fbp", "fbc")


def browser_request(
    body: str, write_key: str, *, origin: str = DEMO_ORIGIN
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The HTTP API event a browser's df.js would send for a sample, and what the sample's context held
    of the signals only the server sees (those travel as the request's source IP, User-Agent and cookies).
    An app event (no page) is sent as a backend would: its context kept, no Origin, no cookies."""
    from relay.collector.app import TRACK_TYPES
    from relay.local.serve import http_api_event

    event = json.loads(body)
    ctx = dict(event.get("context") or {})
    browser = "page" in ctx and "app" not in ctx
    signals = {k: ctx.pop(k) for k in SERVER_SIGNALS if browser and k in ctx}
    event["context"] = ctx
    event["writeKey"] = write_key
    paths = {v: k for k, v in TRACK_TYPES.items()}
    headers = {"content-type": "text/plain;charset=UTF-8"}
    if browser:
        headers["origin"] = origin
        headers["user-agent"] = str(signals.get("userAgent", ""))
        cookies = [f"_{k}={signals[k]}" for k in ("fbp", "fbc") if k in signals]
        if cookies:
            headers["cookie"] = "; ".join(cookies)
    request = http_api_event(
        "POST",
        paths[str(event.get("type"))],
        headers,
        json.dumps(event).encode(),
        source_ip=str(signals.get("ip", "127.0.0.1")),
        request_id=str(event.get("messageId")),
    )
    return request, signals


def collect(stack: LocalStack, bodies: list[str], write_key: str, totals: Totals) -> list[dict[str, Any]]:
    """Send `bodies` through the real collector handler (browser requests where they have a page);
    returns, per accepted event, what the collector added (messageId, ip, userAgent, fbp, fbc)."""
    from relay.apps.collect import build_deps
    from relay.collector.app import handle

    deps = build_deps(stack.collect_settings(), clients=stack.clients, count=lambda name, value: None)
    for body in bodies:
        request, _ = browser_request(body, write_key)
        answer = handle(request, deps)
        if answer["statusCode"] != 200:
            raise RuntimeError(f"the collector refused a sample: {answer['statusCode']} {answer['body']}")
        totals.accepted += 1
    added = []
    for message in stack.queue_messages(stack.events_queue_url):
        event = json.loads(message["Body"])
        ctx = event.get("context") or {}
        added.append({"messageId": event.get("messageId"), **{k: ctx.get(k) for k in SERVER_SIGNALS}})
    return added


def run(
    bodies: list[str],
    *,
    graph_url: str | None,
    pixel_id: str,
    variant: str = "default",
    token: str = THROWAWAY_TOKEN,
    test_event_code: str | None = None,
    between: Callable[[LocalStack, Any, Totals], None] | None = None,
    front_door: Callable[[list[dict[str, Any]]], None] | None = None,
) -> Totals:
    """Enqueue `bodies` and drain the queue through delivery; `between` runs afterwards, stack still up.

    With `front_door`, the bodies enter through the collector (a local source's write key) instead of
    straight into the queue, and `front_door` gets what the collector added to each event."""
    totals = Totals()
    with LocalStack() as stack:
        settings = stack.settings(graph_url)
        stack.add_integration(_integration(pixel_id, variant, test_event_code, token), settings)
        deps = stack.deps(settings, default_source=LOCAL_SOURCE)
        if front_door is not None:
            front_door(collect(stack, bodies, _local_source(stack), totals))
            stack.drain(stack.events_queue_url, deps, totals)
        else:
            stack.pump(bodies, stack.events_queue_url, deps, totals)
        if between is not None:
            between(stack, settings, totals)
    return totals


def _local_source(stack: LocalStack) -> str:
    """The local source (the demo site's origin allowed); its write key."""
    from relay.sources import SourceInput, SourceStore

    store = SourceStore(stack.dynamodb, stack.collect_settings().sources_table)
    issued = store.create(SourceInput(id=LOCAL_SOURCE, name="Local demo site", allowed_origins=[DEMO_ORIGIN]))
    return issued.write_key


def _show_added(out: Callable[[str], None]) -> Callable[[list[dict[str, Any]]], None]:
    def show(added: list[dict[str, Any]]) -> None:
        out("\nWhat the collector added (from each request's source IP, User-Agent and cookies):")
        for item in added:
            agent = str(item.get("userAgent") or "")
            out(
                f"  {item['messageId']:<18} ip={item.get('ip')} fbp={item.get('fbp')} fbc={item.get('fbc')}"
                f" ua={agent[:32] + ('…' if len(agent) > 32 else '')}"
            )

    return show


def demo(out: Callable[[str], None] = print) -> dict[str, Any]:
    """The main job: samples → queue → deliver → Meta (the emulator, or the real Graph API)."""
    from relay.local.graph import Fault, GraphEmulator

    now = datetime.now(UTC)
    bodies = rebase(
        [b for f in DEMO_FILES for b in read_bodies(ROOT / "events" / f)], now - timedelta(minutes=1)
    )
    real = {k: os.environ.get(k) for k in ("META_PIXEL_ID", "META_ACCESS_TOKEN", "META_TEST_EVENT_CODE")}
    if all(real.values()):
        out("Delivering the samples to the real Graph API (test events, code META_TEST_EVENT_CODE)…")
        totals = run(
            bodies,
            graph_url=os.environ.get("META_GRAPH_URL") or None,
            pixel_id=str(real["META_PIXEL_ID"]),
            token=str(real["META_ACCESS_TOKEN"]),
            test_event_code=real["META_TEST_EVENT_CODE"],
        )
        out(json.dumps(totals.summary(), indent=2))
        return totals.summary()

    pixel = "1234567890"
    out(
        f"Relay local demo: {len(bodies)} sample events (events/{', '.join(DEMO_FILES)}, timestamps moved to now)"
    )
    out(
        "  → the collector (browser requests with a local source's write key) → EventsQueue (moto, as"
        " template.yaml declares it) → deliver → a Meta Graph emulator on 127.0.0.1"
    )
    out("  Faults: one HTTP 500, one revoked token (code 190), one event Meta rejects (code 100).")
    with GraphEmulator(access_tokens={pixel: THROWAWAY_TOKEN}) as graph:
        # Meta answers one 500 (retried at once), then refuses the token once (code 190): the batch is parked.
        graph.inject(Fault("http_500", times=1))
        graph.inject(Fault("auth_190", times=1))
        # ...and Meta rejects one event as an invalid parameter (code 100): bisection isolates it.
        graph.poison("msg-0012")

        stack_dlq: list[dict[str, Any]] = []

        def token_fix_and_redrive(stack: LocalStack, settings: Any, totals: Totals) -> None:
            parked = stack.queue_messages(stack.dlq_url)
            out(
                f"\n{len(parked)} message(s) parked in the DLQ: "
                f"{dict(totals.dead_lettered)} — rotating the token and redriving reason=auth…"
            )
            stack.put_token("local-meta", THROWAWAY_TOKEN, settings)
            report = redrive(
                RedriveRequest(reason="auth"),
                sqs=stack.sqs,
                dlq_url=stack.dlq_url,
                queue_url=stack.events_queue_url,
                now=lambda: datetime.now(UTC),
            )
            out(f"redrive: moved {report.moved}, kept {report.kept_filtered + report.kept_expired}")
            totals.dead_lettered.subtract({"auth": report.moved})
            totals.dead_lettered += Counter()

        def after(stack: LocalStack, settings: Any, totals: Totals) -> None:
            token_fix_and_redrive(stack, settings, totals)
            stack.drain(stack.events_queue_url, stack.deps(settings, default_source=LOCAL_SOURCE), totals)
            stack_dlq.extend(stack.queue_messages(stack.dlq_url))

        totals = run(bodies, graph_url=graph.url, pixel_id=pixel, between=after, front_door=_show_added(out))
        out("\nWhat Meta received:")
        for request in graph.requests:
            names = ", ".join(e.get("event_name", "?") for e in (request.body or {}).get("data", []))
            out(
                f"  POST /{request.version}/{request.pixel_id}/events → {request.status}"
                f"{' code ' + str(request.error_code) if request.error_code else ''}: {request.event_count} event(s) [{names}]"
            )
        out(f"\nAccepted by Meta: {len(graph.accepted)} events, duplicates: {len(graph.duplicates())}")
        for accepted in graph.accepted:
            e = accepted.event
            keys = ",".join(sorted(e.get("user_data", {})))
            out(
                f"  {e.get('event_name'):<22} {e.get('event_id'):<18} {e.get('action_source'):<8} user_data[{keys}]"
            )
        if graph.accepted:
            out("\nThe first event exactly as Meta received it:")
            out(json.dumps(graph.accepted[0].event, indent=2, ensure_ascii=False))
        left = [m.get("MessageAttributes", {}) for m in stack_dlq]
        out(f"\nStill in the DLQ: {[a.get('reason', {}).get('StringValue') for a in left]}")
        from relay.local.serve import CONSOLE_PATH, DEFAULT_PORT

        out(
            f"\nThe management console: `make serve` (python -m relay local serve), then open "
            f"http://localhost:{DEFAULT_PORT}{CONSOLE_PATH} and sign in with the admin token it prints."
        )
        summary = totals.summary()
        out(json.dumps(summary, indent=2))
        return summary
