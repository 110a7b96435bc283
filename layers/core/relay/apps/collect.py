"""CollectFunction's composition root: CollectSettings → CollectDeps over AWS → relay.collector.app."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from relay.aws import aws_client
from relay.settings import CollectSettings, collect_settings

if TYPE_CHECKING:
    from relay.collector.app import CollectDeps
    from relay.sources import Source, SourceStore

# Write keys remembered at once, least recently used dropped first (so a flood of made-up keys, each one
# read once, does not push out the real ones). Unknown keys are remembered too: a client that keeps
# sending a wrong key costs one read per SOURCE_CACHE_S, not one per request.
SOURCE_CACHE_SIZE = 1024
# Pages of the sources scan a preflight's origin list reads at most (sources are few: tens, not thousands).
ORIGIN_SCAN_PAGES = 20


def source_reader(
    store: SourceStore, ttl_s: float, clock: Callable[[], float] = time.monotonic
) -> Callable[[str], Source | None]:
    """`store.by_write_key`, each answer (None for an unknown key) kept `ttl_s` seconds: a rotated or
    disabled key stops working within that time."""
    cached: OrderedDict[str, tuple[float, Source | None]] = OrderedDict()

    def source_of(write_key: str) -> Source | None:
        now = clock()
        hit = cached.get(write_key)
        if hit is not None and hit[0] > now:
            cached.move_to_end(write_key)
            return hit[1]
        found = store.by_write_key(write_key)
        if ttl_s > 0:
            cached[write_key] = (now + ttl_s, found)
            cached.move_to_end(write_key)
            while len(cached) > SOURCE_CACHE_SIZE:
                cached.popitem(last=False)
        return found

    return source_of


def origins_reader(
    store: SourceStore, ttl_s: float, clock: Callable[[], float] = time.monotonic
) -> Callable[[], frozenset[str]]:
    """Every enabled source's allowed origins (one paginated scan), kept `ttl_s` seconds."""
    cached: list[tuple[float, frozenset[str]]] = []

    def origins() -> frozenset[str]:
        now = clock()
        if cached and cached[0][0] > now:
            return cached[0][1]
        found: set[str] = set()
        cursor = None
        for _ in range(ORIGIN_SCAN_PAGES):
            page, cursor = store.page(limit=100, cursor=cursor)
            found.update(o for s in page if s.enabled for o in s.allowed_origins)
            if cursor is None:
                break
        value = frozenset(found)
        cached[:] = [(now + ttl_s, value)] if ttl_s > 0 else []
        return value

    return origins


def build_deps(
    config: CollectSettings,
    clients: Callable[[str], Any] = aws_client,
    *,
    count: Callable[[str, int], None] | None = None,
) -> CollectDeps:
    """The collector's dependencies over real (or moto) AWS clients; `count` (default: the function's
    EMF metrics) gets the per-request event counts."""
    from relay.collector.app import CollectDeps
    from relay.observability import logger
    from relay.profiles import ProfileStore
    from relay.sources import SourceStore

    dynamodb = clients("dynamodb")
    sources = SourceStore(dynamodb, config.sources_table)
    return CollectDeps(
        source_of=source_reader(sources, config.source_cache_s),
        origins=origins_reader(sources, config.source_cache_s),
        sqs=clients("sqs"),
        queue_url=config.events_queue_url,
        profiles=ProfileStore(dynamodb, config.profiles_table, ttl=timedelta(days=config.profile_ttl_days)),
        log=logger,
        trusted_hops=config.trusted_proxy_hops,
        cookie_secure=config.cookie_secure,
        count=_count if count is None else count,
    )


def _count(name: str, value: int) -> None:
    """One count on the invocation's EMF metrics (flushed by relay.observability.lambda_handler)."""
    from aws_lambda_powertools.metrics import MetricUnit

    from relay.observability import metrics

    metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)


@cache
def deps() -> CollectDeps:
    return build_deps(collect_settings())


def handle(
    event: Mapping[str, Any], context: Any = None, *, base: CollectDeps | None = None
) -> dict[str, Any]:
    """Answer one HTTP API (payload v2) request to the collector; `context` bounds queue retries."""
    from dataclasses import replace

    from relay.collector.app import handle as answer

    chosen = base or deps()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is not None:
        chosen = replace(chosen, remaining_s=lambda: remaining() / 1000)
    return answer(event, chosen)
