"""EMF metrics and the log summary of a delivery batch. Counts and codes only: never a payload value."""

from __future__ import annotations

import statistics
from typing import Any

from relay.delivery.model import BatchOutcome
from relay.vendors import VENDORS


def report(outcome: BatchOutcome, *, metrics: Any, logger: Any) -> None:
    """Publish the batch's metrics and log its summary; API-version trouble is logged as a warning."""
    summary = publish(outcome, metrics)
    logger.info("batch delivered", extra={"summary": summary})
    if outcome.version_warnings or outcome.dead_lettered.get("auth"):
        logger.warning(
            "Meta flagged the Graph API version or refused the token: update the integration",
            extra={
                "version_warnings": outcome.version_warnings,
                "auth_parked": outcome.dead_lettered.get("auth", 0),
            },
        )


def publish(outcome: BatchOutcome, metrics: Any) -> dict[str, Any]:
    """Add the batch's metrics to a Powertools `Metrics`; returns the summary that is logged."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    metrics.add_metric(name="Delivered", unit=MetricUnit.Count, value=outcome.delivered)
    metrics.add_metric(name="AlreadyDelivered", unit=MetricUnit.Count, value=outcome.already_delivered)
    metrics.add_metric(name="DeadLettered", unit=MetricUnit.Count, value=sum(outcome.dead_lettered.values()))
    metrics.add_metric(name="AuthFailures", unit=MetricUnit.Count, value=outcome.dead_lettered.get("auth", 0))
    metrics.add_metric(name="Retried", unit=MetricUnit.Count, value=len(outcome.failures))
    metrics.add_metric(name="GraphRequests", unit=MetricUnit.Count, value=outcome.graph_requests)
    metrics.add_metric(name="VersionWarnings", unit=MetricUnit.Count, value=outcome.version_warnings)
    metrics.add_metric(name="VersionErrors", unit=MetricUnit.Count, value=outcome.version_errors)
    # Events of vendor successes that counted other than the events sent (not delivered: back to SQS).
    metrics.add_metric(name="Unconfirmed", unit=MetricUnit.Count, value=outcome.unconfirmed)
    for latency in outcome.graph_latency_s:
        metrics.add_metric(name="GraphLatency", unit=MetricUnit.Milliseconds, value=latency * 1000)
    for size in outcome.batch_sizes:
        metrics.add_metric(name="GraphBatchSize", unit=MetricUnit.Count, value=size)
    if outcome.delivered:
        for key in _match_keys():
            share = 100.0 * outcome.match_keys.get(key, 0) / outcome.delivered
            metrics.add_metric(name=f"MatchKeyCoverage_{key}", unit=MetricUnit.Percent, value=share)
    for name, counter in (("Skipped", outcome.skipped), ("DeadLetteredByReason", outcome.dead_lettered)):
        for reason, count in counter.items():
            with single_metric(
                name=name, unit=MetricUnit.Count, value=count, namespace=metrics.namespace
            ) as m:
                m.add_dimension(name="reason", value=reason)
    return {
        "delivered": outcome.delivered,
        "already_delivered": outcome.already_delivered,
        "skipped": dict(outcome.skipped),
        "dead_lettered": dict(outcome.dead_lettered),
        "retried": len(outcome.failures),
        "graph_requests": outcome.graph_requests,
        "graph_latency_ms_median": round(statistics.median(outcome.graph_latency_s) * 1000, 1)
        if outcome.graph_latency_s
        else None,
        "version_warnings": outcome.version_warnings,
        "version_errors": outcome.version_errors,
        "unconfirmed": outcome.unconfirmed,
    }


def _match_keys() -> tuple[str, ...]:
    return tuple(dict.fromkeys(k for vendor in VENDORS.values() for k in vendor.MATCH_KEYS))
