"""AdminFunction's composition root: AdminSettings → AdminDeps over AWS → relay.api.app.handle."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from relay.api.deps import AdminDeps
from relay.aws import aws_client
from relay.settings import AdminSettings, admin_settings

# API Gateway answers 504 after 30 s: a redrive run inside a request gets at most this much of it.
REDRIVE_BUDGET_S = 10.0


class AdminTokenUnavailable(RuntimeError):
    """The admin token could not be read (no secret, no access): every request is refused until it is."""

    retryable = True


def admin_token_reader(
    config: AdminSettings,
    clients: Callable[[str], Any] = aws_client,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[], str]:
    """The admin token: from its secret (cached `admin_token_cache_s`), else RELAY_ADMIN_TOKEN.

    Raises AdminTokenUnavailable when neither is set or the secret cannot be read (never its value)."""
    if config.admin_token_secret is None:
        local = (config.relay_admin_token or "").strip()

        def from_environment() -> str:
            if not local:
                raise AdminTokenUnavailable("no ADMIN_TOKEN_SECRET or RELAY_ADMIN_TOKEN is set")
            return local

        return from_environment
    secret_id = config.admin_token_secret
    cached: list[tuple[float, str]] = []

    def from_secret() -> str:
        now = clock()
        if cached and cached[0][0] > now:
            return cached[0][1]
        try:
            value = clients("secretsmanager").get_secret_value(SecretId=secret_id).get("SecretString")
        except Exception as exc:  # the code is enough to act on; the message may quote the request
            from relay.aws import error_fields

            raise AdminTokenUnavailable(f"admin token unreadable ({error_fields(exc)['code']})") from None
        if not isinstance(value, str) or not value.strip():
            raise AdminTokenUnavailable("the admin token secret is empty")
        cached[:] = [(now + config.admin_token_cache_s, value.strip())]
        return value.strip()

    return from_secret


def build_deps(config: AdminSettings, clients: Callable[[str], Any] = aws_client) -> AdminDeps:
    """The admin API's dependencies over real (or moto) AWS clients."""
    from relay.integrations import IntegrationStore
    from relay.observability import logger
    from relay.redrive import TIME_MARGIN_MS, RedriveReport, RedriveRequest, redrive
    from relay.secrets import TokenVault

    def run_redrive(request: RedriveRequest) -> RedriveReport:
        # The redrive stops TIME_MARGIN_MS before its "remaining time" ends: give it REDRIVE_BUDGET_S.
        deadline = time.monotonic() + REDRIVE_BUDGET_S + TIME_MARGIN_MS / 1000
        return redrive(
            request,
            sqs=clients("sqs"),
            dlq_url=config.dlq_url,
            queue_url=config.events_queue_url,
            now=lambda: datetime.now(UTC),
            remaining_ms=lambda: max(0, int((deadline - time.monotonic()) * 1000)),
        )

    from relay.debugger import Debugger
    from relay.sources import SourceStore
    from relay.stats import DeliveryStats
    from relay.vendors import VENDORS

    debugger = Debugger(clients("dynamodb"), config.debugger_table)
    vendor_clients: dict[str, Any] = {}

    def client(vendor: str) -> Any:
        if vendor not in vendor_clients:
            vendor_clients[vendor] = VENDORS[vendor].new_client(config.graph_url)
        return vendor_clients[vendor]

    return AdminDeps(
        store=IntegrationStore(clients("dynamodb"), config.integrations_table, ttl_s=0),
        sources=SourceStore(clients("dynamodb"), config.sources_table),
        vault=TokenVault(clients("secretsmanager"), config.token_secret_prefix, cache_s=0),
        admin_token=admin_token_reader(config, clients),
        redrive=run_redrive,
        log=logger,
        client=client,
        debugger=debugger,
        stats=DeliveryStats(clients("dynamodb"), config.stats_table),
        collector_url=config.collector_url,
    )


@cache
def deps() -> AdminDeps:
    return build_deps(admin_settings())


def handle(event: Mapping[str, Any], context: Any = None, *, base: AdminDeps | None = None) -> dict[str, Any]:
    """Answer one HTTP API (payload v2) request to the admin API."""
    from relay.api.app import handle as answer

    return answer(event, context, deps=base or deps())
