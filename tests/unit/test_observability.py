"""EMF metrics and log lines of a delivery batch: counts, coverage and warnings, never payload values."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools import Metrics

from relay.delivery import BatchOutcome
from relay.delivery.report import report


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
