"""EMF metrics and log lines of a delivery batch: counts, coverage and warnings, never payload values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from relay.delivery import BatchOutcome
from relay.delivery.report import report
from tests.support import ROOT


class _Logger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def info(self, message: str, extra: dict[str, Any]) -> None:
        self.lines.append(("info", message, extra))

    def warning(self, message: str, extra: dict[str, Any]) -> None:
        self.lines.append(("warning", message, extra))


def test_report_publishes_counts_coverage_and_warns_on_version_and_auth(capsys):
    # GIVEN a batch with deliveries, skips, parked events and a version warning (Relay / relay: conftest)
    metrics = Metrics()
    outcome = BatchOutcome(
        delivered=4,
        skipped=Counter({"consent": 2}),
        dead_lettered=Counter({"auth": 1, "invalid": 1}),
        graph_requests=2,
        graph_latency_s=[0.1, 0.3],
        batch_sizes=[3, 1],
        match_keys=Counter({"em": 2, "external_id": 4}),
        version_warnings=1,
    )
    logger = _Logger()
    # WHEN reported
    report(outcome, metrics=metrics, logger=logger)
    emf: dict[str, Any] = dict(metrics.serialize_metric_set())
    metrics.clear_metrics()
    # THEN counts and match-key coverage are metrics, the summary is logged and a warning names the fix
    assert emf["Delivered"] == [4.0]
    assert emf["DeadLettered"] == [2.0]
    assert emf["AuthFailures"] == [1.0]
    assert emf["VersionWarnings"] == [1.0]
    assert emf["MatchKeyCoverage_em"] == [50.0]
    assert emf["MatchKeyCoverage_external_id"] == [100.0]
    assert emf["MatchKeyCoverage_ph"] == [0.0]
    assert emf["GraphLatency"] == [100.0, 300.0]
    kinds = [(kind, message) for kind, message, _ in logger.lines]
    assert kinds[0] == ("info", "batch delivered")
    assert kinds[1][0] == "warning"
    summary = logger.lines[0][2]["summary"]
    assert summary["graph_latency_ms_median"] == 200.0
    assert summary["skipped"] == {"consent": 2}
    # ... and the per-reason counts go out as their own EMF documents with a reason dimension
    dimensioned = capsys.readouterr().out
    assert '"reason":"consent"' in dimensioned
    assert '"DeadLetteredByReason":[1.0]' in dimensioned


_PROBE = """
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("app", "functions/redrive/app.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
imported = "aws_xray_sdk" in sys.modules or "aws_lambda_powertools" in sys.modules
from relay.observability import lambda_handler

@lambda_handler
def handler(event, context):
    return {"ok": True}

class Context:
    function_name = "f"; function_version = "1"; memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:f"; aws_request_id = "r"
    def get_remaining_time_in_millis(self): return 1000

answer = handler({}, Context())
print(json.dumps({"at_import": imported, "xray": "aws_xray_sdk" in sys.modules, "answer": answer}))
"""


@pytest.mark.parametrize(("disabled", "xray"), [("true", False), ("false", True)])
def test_the_handler_import_builds_nothing_and_tracing_is_imported_only_when_on(disabled, xray):
    # GIVEN a fresh interpreter inside "Lambda", tracing off or on
    env = {
        **os.environ,
        "PYTHONPATH": "layers/core",
        "AWS_LAMBDA_FUNCTION_NAME": "f",
        "POWERTOOLS_TRACE_DISABLED": disabled,
        "POWERTOOLS_SERVICE_NAME": "relay",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    # WHEN the handler module is imported and a handler wrapped by lambda_handler is invoked
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # THEN importing loaded neither Powertools nor X-Ray; the X-Ray SDK came only with tracing on
    assert result["at_import"] is False
    assert result["xray"] is xray
    assert result["answer"] == {"ok": True}


class _RefusingSqs:
    """One DLQ message to receive; the events queue refuses every send."""

    def __init__(self) -> None:
        self.received = False

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        if self.received:
            return {"Messages": []}
        self.received = True
        body = json.dumps({"type": "page", "messageId": "m-1"})
        return {
            "Messages": [{"MessageId": "d-1", "ReceiptHandle": "h-1", "Body": body, "MessageAttributes": {}}]
        }

    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessageBatch")

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        return {"Successful": [], "Failed": []}

    def change_message_visibility_batch(self, **kwargs: Any) -> dict[str, Any]:
        return {"Successful": [], "Failed": []}


def test_redrive_logs_structured_json_through_the_one_logger_whatever_the_service_name(monkeypatch, capsys):
    # GIVEN a stack whose functions are named "shop-relay" (not "relay"), and a queue that refuses sends
    from datetime import UTC, datetime

    from relay.redrive import RedriveRequest, redrive

    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "shop-relay")
    # WHEN a redrive runs into the refusal
    report = redrive(
        RedriveRequest(), sqs=_RefusingSqs(), dlq_url="dlq", queue_url="q", now=lambda: datetime.now(UTC)
    )
    # THEN its log lines are Powertools JSON with that service name, naming the error code, not the body
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    refused = [line for line in lines if line.get("message") == "redrive: the events queue refused a message"]
    assert report.stopped == "send_error"
    assert refused
    assert refused[0]["service"] == "shop-relay"
    assert refused[0]["code"] == "AccessDenied"
    assert "messageId" not in json.dumps(lines)


# ---- nothing logs an event or a token -------------------------------------------------------------

MARK = "Zqxj-raw-body-8c1f"


@pytest.fixture
def debug_everywhere(monkeypatch) -> Any:
    """POWERTOOLS_LOGGER_LOG_EVENT=true, POWERTOOLS_LOG_LEVEL=DEBUG and a DEBUG root logger; the held
    libraries' levels restored afterwards."""
    import logging

    from relay.observability import HELD_LOGGERS

    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    names = [*HELD_LOGGERS, "botocore.parsers", "botocore.endpoint"]
    saved = {name: logging.getLogger(name).level for name in names}
    root = logging.getLogger()
    root_level = root.level
    root.setLevel(logging.DEBUG)
    for name in names:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield
    root.setLevel(root_level)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_the_handler_never_logs_the_event_whatever_powertools_logger_log_event_says(
    debug_everywhere, capsys, caplog
):
    # GIVEN a handler wrapped by lambda_handler, POWERTOOLS_LOGGER_LOG_EVENT=true and DEBUG everywhere
    from relay.observability import lambda_handler, metrics
    from tests.support import LambdaContext

    @lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics().add_metric(name="Probe", unit="Count", value=1)
        return {"batchItemFailures": []}

    caplog.set_level("DEBUG")
    # WHEN it is invoked with an SQS event whose body carries a marker
    answer = handler({"Records": [{"messageId": "m", "body": MARK}]}, LambdaContext())
    # THEN it answered, and the marker is in no captured output nor log record
    assert answer == {"batchItemFailures": []}
    assert MARK not in capsys.readouterr().out
    assert MARK not in caplog.text


def test_library_loggers_are_held_at_warning_whatever_the_root_level(debug_everywhere, caplog):
    # GIVEN a DEBUG root logger, botocore/urllib3 at NOTSET, a botocore child set to DEBUG by someone,
    # and boto3 already at ERROR
    import logging

    from relay.observability import HELD_LEVEL, HELD_LOGGERS, logger

    logging.getLogger("botocore.parsers").setLevel(logging.DEBUG)
    logging.getLogger("boto3").setLevel(logging.ERROR)
    caplog.set_level("DEBUG")
    # WHEN the logger is first built and the libraries log a response body at DEBUG and INFO
    logger()
    logging.getLogger("botocore.parsers").debug("Response body: %s", MARK)
    logging.getLogger("botocore.endpoint").info("Making request with params %s", MARK)
    logging.getLogger("urllib3.connectionpool").debug("POST /%s", MARK)
    logging.getLogger("aws_lambda_powertools.metrics").debug("Adding metric %s", MARK)
    logging.getLogger("botocore.credentials").warning("a warning still passes")
    # THEN nothing below WARNING reached the root's handlers; a higher level set before is kept
    assert MARK not in caplog.text
    assert "a warning still passes" in caplog.text
    assert all(logging.getLogger(name).level >= HELD_LEVEL for name in HELD_LOGGERS)
    assert logging.getLogger("botocore.parsers").level == HELD_LEVEL
    assert logging.getLogger("boto3").level == logging.ERROR


def test_powertools_debug_output_cannot_print_what_it_is_handed(debug_everywhere, capsys):
    # GIVEN Powertools' package logger switched to DEBUG on stdout, as POWERTOOLS_DEBUG does at import
    import logging

    from aws_lambda_powertools.logging.logger import set_package_logger

    from relay.observability import metrics

    package = logging.getLogger("aws_lambda_powertools")
    handlers = list(package.handlers)
    set_package_logger(stream=sys.stdout)
    try:
        # WHEN the metrics object is built and handed a value that Powertools logs at DEBUG
        metrics().add_metadata(key="probe", value=MARK)
        metrics().clear_metrics()
        out = capsys.readouterr().out
    finally:
        package.handlers = handlers
    # THEN its debug line was never written
    assert MARK not in out
