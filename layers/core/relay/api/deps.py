"""What the admin API's routes are given (built by `relay.apps.admin`, or by tests with fakes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from relay.debugger import Debugger
    from relay.integrations import IntegrationStore
    from relay.redrive import RedriveReport, RedriveRequest
    from relay.sources import SourceStore
    from relay.stats import DeliveryStats


class Vault(Protocol):
    """The token vault (relay.secrets.TokenVault): writes, and reads for test events and health checks."""

    def get(self, integration_id: str) -> str: ...
    def put_version(self, integration_id: str, token: str) -> str: ...
    def schedule_delete(self, integration_id: str) -> None: ...


class AuditLog(Protocol):
    def info(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(eq=False)
class AdminDeps:
    """`admin_token` is read when a request arrives (a rotated secret is picked up by a new container);
    `redrive` runs relay.redrive with the function's queues (a token change redrives `reason=auth`; a dry
    run counts an integration's DLQ messages); `client(vendor)` is that vendor's API client;
    `debugger` reads the event debugger's records, `stats` the hourly delivery rollups; `collector_url`
    is the collector's base URL (None: not known to this deployment)."""

    store: IntegrationStore
    sources: SourceStore
    vault: Vault
    admin_token: Callable[[], str]
    redrive: Callable[[RedriveRequest], RedriveReport]
    log: Callable[[], AuditLog]
    client: Callable[[str], Any]
    debugger: Debugger
    stats: DeliveryStats
    collector_url: str | None = None
