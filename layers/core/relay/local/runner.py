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


def run(
    bodies: list[str],
    *,
    graph_url: str | None,
    pixel_id: str,
    variant: str = "default",
    token: str = THROWAWAY_TOKEN,
    test_event_code: str | None = None,
    between: Callable[[LocalStack, Any, Totals], None] | None = None,
) -> Totals:
    """Enqueue `bodies` and drain the queue through delivery; `between` runs afterwards, stack still up."""
    totals = Totals()
    with LocalStack() as stack:
        settings = stack.settings(graph_url)
        stack.add_integration(_integration(pixel_id, variant, test_event_code, token), settings)
        deps = stack.deps(settings, default_source=LOCAL_SOURCE)
        stack.pump(bodies, stack.events_queue_url, deps, totals)
        if between is not None:
            between(stack, settings, totals)
    return totals


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
    out("  → EventsQueue (moto, as template.yaml declares it) → deliver → a Meta Graph emulator on 127.0.0.1")
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

        totals = run(bodies, graph_url=graph.url, pixel_id=pixel, between=after)
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
        summary = totals.summary()
        out(json.dumps(summary, indent=2))
        return summary
