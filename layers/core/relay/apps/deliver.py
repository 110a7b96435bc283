"""DeliverFunction's composition root: DeliverSettings → delivery Deps over AWS → deliver_batch → report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cache
from typing import Any

from relay.aws import aws_client
from relay.delivery import Deps, deliver_batch
from relay.queue import SqsRecord
from relay.runtime import gc_paused
from relay.settings import DeliverSettings, deliver_settings


def build_deps(config: DeliverSettings, clients: Callable[[str], Any] = aws_client) -> Deps:
    """Delivery dependencies over real (or moto) AWS clients and each vendor's API at `config.graph_url`."""
    from relay.debugger import Debugger
    from relay.integrations import IntegrationStore
    from relay.ledger import RETENTION_MARGIN, Ledger
    from relay.queue import DeadLetters
    from relay.secrets import TokenVault
    from relay.stats import DeliveryStats
    from relay.vendors import VENDORS, max_event_age

    dynamodb = clients("dynamodb")
    store = IntegrationStore(dynamodb, config.integrations_table, ttl_s=config.integrations_cache_s)
    return Deps(
        integrations=store.for_source,
        tokens=TokenVault(
            clients("secretsmanager"), config.token_secret_prefix, cache_s=config.token_cache_s
        ),
        sender=VENDORS["meta_capi"].new_client(config.graph_url),
        ledger=Ledger(dynamodb, config.ledger_table, retention=max_event_age() + RETENTION_MARGIN),
        dead_letters=DeadLetters(clients("sqs"), config.dlq_url),
        debugger=Debugger(dynamodb, config.debugger_table),
        profiles=_profile_lookup(dynamodb, config.profiles_table),
        stats=DeliveryStats(dynamodb, config.stats_table) if config.stats_table else None,
        max_receive_count=config.max_receive_count,
    )


def _profile_lookup(dynamodb: Any, table: str | None) -> Callable[[list[str]], Mapping[str, Any]] | None:
    if table is None:
        return None
    from relay.profiles import ProfileStore

    return ProfileStore(dynamodb, table).lookup


@cache
def deps() -> Deps:
    return build_deps(deliver_settings())


def handle(event: Mapping[str, Any], context: Any = None, *, base: Deps | None = None) -> dict[str, Any]:
    """Deliver the SQS batch in `event`, publish its metrics and summary, answer the partial batch result.

    `context` (Lambda's) keeps retries inside the invocation's remaining time. Raises ValueError when
    `event` is not an SQS event (Lambda then retries the whole batch, which is right for a broken invoke).
    """
    from relay.delivery.report import report
    from relay.observability import logger, metrics

    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("event.Records: expected the list of an SQS event")
    chosen = base or deps()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is not None:
        chosen = replace(chosen, remaining_s=lambda: remaining() / 1000)
    # Paused around the call, not inside it: by the time the collector runs again the batch's objects
    # are gone, so it never walks them.
    with gc_paused():
        outcome = deliver_batch([SqsRecord.from_lambda(r) for r in records], chosen)
    try:
        report(outcome, metrics=metrics(), logger=logger())
    except Exception as exc:  # the batch is settled: failing now would make SQS redeliver and park twice
        logger().error("batch report failed", extra={"error": type(exc).__name__})
    return outcome.response()
