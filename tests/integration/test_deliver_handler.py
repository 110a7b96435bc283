"""functions/deliver/app.py invoked in-process with events/sqs/default.json (as `sam local invoke -e` would)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from relay.local.graph import Fault, GraphEmulator
from relay.local.runner import THROWAWAY_TOKEN, _integration, rebase
from relay.local.stack import LocalStack
from tests.support import EVENTS, LambdaContext, load_handler_module

PIXEL = "1234567890"


def _sqs_event(source: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "sqs" / "default.json").read_text())
    bodies = rebase([r["body"] for r in event["Records"]], datetime.now(UTC) - timedelta(minutes=1))
    for record, body in zip(event["Records"], bodies, strict=True):
        doc = json.loads(body)
        doc.setdefault("context", {})["source_id"] = source
        record["body"] = json.dumps(doc)
    return event


def test_handler_delivers_the_sample_sqs_event_with_a_partial_batch_response(monkeypatch, capsys):
    # GIVEN the local AWS resources, the emulator failing every call transiently, and the handler's env
    with GraphEmulator(access_tokens={PIXEL: THROWAWAY_TOKEN}) as graph, LocalStack() as local:
        config = local.settings(graph.url)
        local.add_integration(
            _integration(PIXEL, "default").model_copy(update={"source_id": "src-1"}), config
        )
        for key, value in config.model_dump(exclude_none=True).items():
            monkeypatch.setenv(key.upper(), str(value))
        handler = load_handler_module("deliver").handler
        event = _sqs_event("src-1")
        graph.inject(Fault("transient", times=3))
        # WHEN the handler runs twice (SQS redelivers what it reported as failed)
        first = handler(event, LambdaContext(function_name="relay-deliver"))
        second = handler(event, LambdaContext(function_name="relay-deliver"))
        output = capsys.readouterr().out
    # THEN the first answer names every record with a mappable event, the second none, and Meta got 13 events
    records = {r["messageId"] for r in event["Records"]}
    failed = {f["itemIdentifier"] for f in first["batchItemFailures"]}
    assert failed <= records
    assert len(failed) == 13
    assert second == {"batchItemFailures": []}
    assert len(graph.accepted) == 13
    assert graph.duplicates() == []
    # ... and the EMF metrics and log lines carry counts, never a raw e-mail address or the token
    assert '"Delivered"' in output
    assert "@example.com" not in output.lower()
    assert THROWAWAY_TOKEN not in output
