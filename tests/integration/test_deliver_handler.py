"""functions/deliver/app.py invoked in-process with events/sqs/default.json (as `sam local invoke -e` would)."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from relay import services, settings
from relay.local.graph import Fault, GraphEmulator
from relay.local.runner import THROWAWAY_TOKEN, _integration, rebase
from relay.local.stack import LocalStack
from tests.support import EVENTS, ROOT

PIXEL = "1234567890"


def _handler() -> Any:
    spec = importlib.util.spec_from_file_location("deliver_app", ROOT / "functions" / "deliver" / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="relay-deliver",
        memory_limit_in_mb=512,
        aws_request_id="req-1",
        invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:relay-deliver",
        function_version="$LATEST",
        log_group_name="/aws/lambda/relay-deliver",
        log_stream_name="s",
    )


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
            _integration(PIXEL, "default").model_copy(update={"source_id": "src-1"}), THROWAWAY_TOKEN, config
        )
        for key, value in config.model_dump().items():
            monkeypatch.setenv(key.upper(), str(value))
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Relay")
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "relay")
        settings.settings.cache_clear()
        services.deliver_deps.cache_clear()
        services.aws_client.cache_clear()
        handler = _handler()
        event = _sqs_event("src-1")
        graph.inject(Fault("transient", times=3))
        # WHEN the handler runs twice (SQS redelivers what it reported as failed)
        first = handler(event, _context())
        second = handler(event, _context())
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
    services.deliver_deps.cache_clear()
    services.aws_client.cache_clear()
    settings.settings.cache_clear()
