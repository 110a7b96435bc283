"""The data delivery's phases pass along, and the seams it talks through (fakes in tests, AWS in Lambda)."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from relay.observability import Log, logger_or
from relay.queue import DlqReason, Parked, SqsRecord
from relay.stats import Tally

if TYPE_CHECKING:
    from relay.integrations import BrokenIntegration, Integration
    from relay.outbound import Receipt, ServerEvent
    from relay.profiles import Profile

DEFAULT_SOURCE = "default"
# Meta's cap per request; the benchmark sets 1 to measure the peers' one-event-per-request way.
DEFAULT_MAX_EVENTS_PER_REQUEST = 1_000


class Tokens(Protocol):
    """relay.secrets.TokenVault, as delivery uses it."""

    def get(self, integration_id: str) -> str: ...
    def invalidate(self, integration_id: str) -> None: ...


class Sender(Protocol):
    """A vendor client (relay.vendors.meta_capi.client.GraphClient): one call, over within `budget_s`
    seconds in total whatever the server does; raises relay.outbound.SendError."""

    def send(self, request: Any, *, token: str, budget_s: float) -> Receipt: ...


class LedgerLike(Protocol):
    """relay.ledger.Ledger; `remaining_s` (seconds left of the invocation) bounds its retries."""

    def delivered(
        self, keys: Iterable[str], *, remaining_s: Callable[[], float] | None = None
    ) -> Mapping[str, str]: ...
    def record(
        self,
        keys: Iterable[str],
        *,
        now: datetime,
        record_of: Mapping[str, str] | None = None,
        remaining_s: Callable[[], float] | None = None,
    ) -> None: ...


class DeadLetterSink(Protocol):
    """relay.queue.DeadLetters: returns the positions (in `items`) it could NOT park."""

    def park(
        self, items: Sequence[Parked], *, remaining_s: Callable[[], float] | None = None
    ) -> set[int]: ...


class StatsSink(Protocol):
    """relay.stats.DeliveryStats: adds one integration's tally of a batch to its hour."""

    def add(self, integration_id: str, tally: Tally, *, at: datetime) -> None: ...


class DebugSink(Protocol):
    def record(
        self,
        integration: Integration,
        events: Sequence[ServerEvent],
        outcome: str,
        detail: str,
        *,
        fbtrace_id: str | None = None,
    ) -> None: ...


@dataclass
class Deps:
    """Everything delivery talks to, passed in."""

    integrations: Callable[[str], Sequence[Integration | BrokenIntegration]]
    tokens: Tokens
    sender: Sender
    ledger: LedgerLike
    dead_letters: DeadLetterSink
    debugger: DebugSink | None = None
    # The hourly per-integration rollup (relay.stats); None: not recorded.
    stats: StatsSink | None = None
    # The hashed profiles of profile keys (relay.profiles.ProfileStore.lookup); None: no enrichment.
    profiles: Callable[[list[str]], Mapping[str, Profile]] | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    max_receive_count: int = 5
    default_source: str = DEFAULT_SOURCE
    rng: random.Random = field(default_factory=random.Random)
    max_events_per_request: int = DEFAULT_MAX_EVENTS_PER_REQUEST
    # Seconds left in the invocation (Lambda's context); None outside Lambda.
    remaining_s: Callable[[], float] | None = None
    # Where swallowed AWS trouble is logged (codes and counts only); None: relay.observability.logger().
    log: Log | None = None

    def logger(self) -> Log:
        self.log = logger_or(self.log)
        return self.log


@dataclass(slots=True)
class Pending:
    """One mapped event of one record, waiting to be sent to one integration."""

    record: SqsRecord
    event: ServerEvent
    key: str


@dataclass
class Job:
    """The fresh events of one integration in this batch."""

    integration: Integration
    items: list[Pending]


@dataclass
class JobResult:
    """What sending one job did."""

    delivered: list[Pending] = field(default_factory=list)
    retry: list[Pending] = field(default_factory=list)  # back to SQS; `retries_exhausted` on the last receive
    # Back to SQS too, but parked with this reason and detail on the last receive (transport, unconfirmed,
    # unavailable): the DLQ then says what kept failing.
    returned: list[tuple[Pending, DlqReason, str]] = field(default_factory=list)
    parked: list[tuple[Pending, DlqReason, str]] = field(default_factory=list)  # (item, reason, detail)
    receipts: list[Receipt] = field(default_factory=list)
    requests: int = 0
    version_errors: int = 0
    unconfirmed: int = 0  # events of successes whose events_received differed from the events sent
    refused: str | None = None  # set when the vendor refused the token / version: park the rest


@dataclass
class Plan:
    """The batch after parsing and mapping: jobs per integration, parks, skips, records to retry."""

    jobs: dict[str, Job] = field(default_factory=dict)
    parked: list[Parked] = field(default_factory=list)
    skips: list[tuple[str, str]] = field(default_factory=list)  # (record id, reason)
    failed: set[str] = field(default_factory=set)

    def pending(self) -> list[Pending]:
        return [p for job in self.jobs.values() for p in job.items]


@dataclass
class BatchOutcome:
    """What happened to a batch: SQS retries, per-state counts and the vendor calls made."""

    failures: list[str] = field(default_factory=list)
    delivered: int = 0
    already_delivered: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    dead_lettered: Counter[str] = field(default_factory=Counter)
    graph_requests: int = 0
    graph_latency_s: list[float] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)
    match_keys: Counter[str] = field(default_factory=Counter)
    # Per integration: delivered, match keys, dead-lettered, retrying (relay.stats rolls them up hourly).
    by_integration: dict[str, Tally] = field(default_factory=dict)
    version_warnings: int = 0
    version_errors: int = 0
    unconfirmed: int = 0

    def tally(self, integration_id: str) -> Tally:
        found = self.by_integration.get(integration_id)
        if found is None:
            found = self.by_integration[integration_id] = Tally()
        return found

    def response(self) -> dict[str, Any]:
        """Lambda's partial batch response."""
        return {"batchItemFailures": [{"itemIdentifier": m} for m in self.failures]}
