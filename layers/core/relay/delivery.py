"""Delivery of one SQS batch: consent → mapping → ledger → ≤1,000 events per Graph call → classify.

Every accepted event ends, per integration, in exactly one state: delivered, skipped (with a reason),
dead-lettered (with a reason attribute), or — only while a retry can still succeed — returned to SQS
as a batch item failure. Nothing is lost: a message whose park in the DLQ fails is retried too.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from relay.events import EventError, parse_event_json
from relay.integrations import Integration
from relay.ledger import Ledger, ledger_key
from relay.queue import INTEGRATION_ID, DeadLetters, Parked
from relay.vendors.meta_capi.errors import DEPRECATED_VERSION, ErrorKind, GraphError
from relay.vendors.meta_capi.limits import (
    CONNECT_TIMEOUT_S,
    MAX_EVENT_AGE,
    MAX_EVENTS_PER_REQUEST,
    READ_TIMEOUT_S,
)
from relay.vendors.meta_capi.mapping import Rejected, ServerEvent, Skipped, map_event
from relay.vendors.meta_capi.request import GraphRequest, build_requests

if TYPE_CHECKING:  # the Graph client (urllib3) is built with the dependencies, on first use
    from relay.vendors.meta_capi.client import Receipt

# In-invocation retries of a transient Graph error before handing the records back to SQS.
GRAPH_ATTEMPTS = 3
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 2.0
# Stop retrying an event this long before Meta's age limit: the next SQS retry could cross it.
AGE_SAFETY_MARGIN = timedelta(hours=1)
MAX_PARALLEL_INTEGRATIONS = 8
# A Graph call (connect + read timeouts) plus the ledger write and the DLQ sends must fit in what is left.
CALL_BUDGET_S = CONNECT_TIMEOUT_S + READ_TIMEOUT_S + 5.0
MATCH_KEYS = ("em", "ph", "fbp", "fbc", "external_id", "client_ip_address", "client_user_agent")
DEFAULT_SOURCE = "default"


class MissingToken(LookupError):
    """The integration has no usable access token: its events are parked (reason auth) until one is set."""


class Sender(Protocol):
    def send(self, request: GraphRequest, *, token: str, api_version: str) -> Receipt: ...


class DebugSink(Protocol):
    def record(
        self, integration: Integration, events: Sequence[ServerEvent], outcome: str, detail: str
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class SqsRecord:
    """The parts of an SQS record delivery needs."""

    message_id: str
    body: str
    receive_count: int = 1
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_lambda(cls, record: dict[str, Any]) -> SqsRecord:
        attrs = record.get("messageAttributes") or {}
        # Lambda's SQS event spells attribute values camelCase; SendMessage wants PascalCase.
        converted = {
            k: {"DataType": v.get("dataType", "String"), "StringValue": v.get("stringValue", "")}
            for k, v in attrs.items()
            if isinstance(v, dict) and v.get("stringValue") is not None
        }
        count = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
        return cls(record["messageId"], record.get("body", ""), count, converted)


@dataclass
class Deps:
    """Everything delivery talks to, passed in (fakes in tests, AWS clients in Lambda)."""

    integrations: Callable[[str], list[Integration]]
    token: Callable[[Integration], str]
    sender: Sender
    ledger: Ledger
    dead_letters: DeadLetters
    debugger: DebugSink | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    max_receive_count: int = 5
    default_source: str = DEFAULT_SOURCE
    rng: random.Random = field(default_factory=random.Random)
    # Meta's cap; the benchmark sets 1 to measure the peers' one-event-per-request way.
    max_events_per_request: int = MAX_EVENTS_PER_REQUEST
    # Seconds left in the invocation (Lambda's context); None outside Lambda.
    remaining_s: Callable[[], float] | None = None


@dataclass
class BatchOutcome:
    """What happened to a batch: SQS retries, per-state counts and the Graph calls made."""

    failures: list[str] = field(default_factory=list)
    delivered: int = 0
    already_delivered: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    dead_lettered: Counter[str] = field(default_factory=Counter)
    graph_requests: int = 0
    graph_latency_s: list[float] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)
    match_keys: Counter[str] = field(default_factory=Counter)
    version_warnings: int = 0
    version_errors: int = 0

    def response(self) -> dict[str, Any]:
        """Lambda's partial batch response."""
        return {"batchItemFailures": [{"itemIdentifier": m} for m in self.failures]}


@dataclass
class _Pending:
    record: SqsRecord
    event: ServerEvent
    key: str


@dataclass
class _Result:
    delivered: list[_Pending] = field(default_factory=list)
    retry: list[_Pending] = field(default_factory=list)
    parked: list[tuple[_Pending, str, str]] = field(default_factory=list)  # (item, reason, detail)
    receipts: list[Receipt] = field(default_factory=list)
    requests: int = 0
    version_errors: int = 0
    refused: str | None = None  # set when Meta refused the token / version: park the remaining requests


def deliver_batch(records: Sequence[SqsRecord], deps: Deps) -> BatchOutcome:
    """Deliver one SQS batch; returns the outcome whose `response()` is the partial batch result."""
    now = deps.now()
    out = BatchOutcome()
    failed: set[str] = set()
    parked: list[Parked] = []
    pending: dict[str, tuple[Integration, list[_Pending]]] = {}
    per_source: dict[str, list[Integration]] = {}  # one lookup per source and batch
    skips: list[tuple[str, str]] = []  # (record id, reason)

    for record in records:
        try:
            event = parse_event_json(record.body)
        except EventError as exc:
            parked.append(
                Parked(
                    record.message_id,
                    record.body,
                    "malformed",
                    detail=exc.reason,
                    attributes=record.attributes,
                )
            )
            continue
        only = record.attributes.get(INTEGRATION_ID, {}).get("StringValue")
        source = event.context.source_id or deps.default_source
        try:
            if source not in per_source:
                per_source[source] = deps.integrations(source)
            integrations = per_source[source]
        except Exception:
            failed.add(record.message_id)  # DynamoDB trouble: SQS retries the message
            continue
        targets = [i for i in integrations if only is None or i.id == only]
        if not targets:
            skips.append((record.message_id, "no_integration"))
        for integration in targets:
            outcome = map_event(event, integration, now=now)
            if isinstance(outcome, Skipped):
                skips.append((record.message_id, outcome.reason))
            elif isinstance(outcome, Rejected):
                parked.append(_park(record, outcome.code, integration.id, outcome.reason))
            else:
                key = ledger_key(outcome.pixel_id, outcome.event_name, outcome.event_id)
                pending.setdefault(integration.id, (integration, []))[1].append(
                    _Pending(record, outcome, key)
                )

    try:
        done = deps.ledger.delivered(p.key for _, items in pending.values() for p in items)
    except Exception:
        failed.update(p.record.message_id for _, items in pending.values() for p in items)
        pending = {}
        done = set()
    seen: set[str] = set(done)
    fresh: list[tuple[Integration, list[_Pending]]] = []
    for integration, items in pending.values():
        keep = []
        for item in items:
            if item.key in seen:
                out.already_delivered += 1
            else:
                seen.add(item.key)
                keep.append(item)
        if keep:
            fresh.append((integration, keep))

    workers = max(1, min(MAX_PARALLEL_INTEGRATIONS, len(fresh)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda job: _deliver_integration(job[0], job[1], deps, now), fresh))

    for (integration, _), result in zip(fresh, results, strict=True):
        out.graph_requests += result.requests
        out.version_errors += result.version_errors
        for receipt in result.receipts:
            out.graph_latency_s.append(receipt.latency_s)
            out.batch_sizes.append(receipt.events_received)
            out.version_warnings += receipt.version_warning is not None
        out.delivered += len(result.delivered)
        for item in result.delivered:
            out.match_keys.update(k for k in MATCH_KEYS if k in item.event.payload["user_data"])
        for item, reason, detail in result.parked:
            parked.append(_park(item.record, reason, integration.id, detail))
        for item in result.retry:
            if now + AGE_SAFETY_MARGIN - datetime.fromtimestamp(item.event.event_time, UTC) >= MAX_EVENT_AGE:
                parked.append(
                    _park(item.record, "expired", integration.id, "Meta's age limit reached while retrying")
                )
            elif item.record.receive_count >= deps.max_receive_count:
                parked.append(
                    _park(item.record, "retries_exhausted", integration.id, "transient errors persisted")
                )
            else:
                failed.add(item.record.message_id)

    # A record SQS will redeliver is decided again then: parking or counting a skip now would do it twice.
    to_park = [p for p in parked if p.record_id not in failed]
    not_parked = deps.dead_letters.park(to_park) if to_park else set()
    for park in to_park:
        if park.record_id in not_parked:
            failed.add(park.record_id)
        else:
            out.dead_lettered[park.reason] += 1
    out.skipped.update(reason for record_id, reason in skips if record_id not in failed)
    out.failures = [r.message_id for r in records if r.message_id in failed]
    return out


def _park(record: SqsRecord, reason: str, integration_id: str | None, detail: str) -> Parked:
    return Parked(record.message_id, record.body, reason, integration_id, detail, record.attributes)


def _deliver_integration(
    integration: Integration, items: list[_Pending], deps: Deps, now: datetime
) -> _Result:
    result = _Result()
    try:
        token = deps.token(integration)
    except MissingToken as exc:
        result.parked.extend((item, "auth", str(exc)) for item in items)
        return result
    except Exception:
        result.retry.extend(items)  # Secrets Manager trouble (throttling, network): retry later
        return result
    by_event = {id(item.event): item for item in items}
    requests, _ = build_requests(
        [i.event for i in items],
        test_event_code=integration.config.test_event_code,
        max_events=deps.max_events_per_request,
    )
    in_requests = {id(e) for r in requests for e in r.events}
    for item in items:
        if id(item.event) not in in_requests:
            result.parked.append((item, "invalid", "event larger than the request byte cap"))
    for request in requests:
        items_of_request = [by_event[id(e)] for e in request.events]
        if result.refused is not None:  # the token was refused: the rest of this batch would be too
            result.parked.extend((item, "auth", result.refused) for item in items_of_request)
            continue
        if not _time_for_a_call(deps):  # leave before Lambda's timeout: SQS redelivers the rest
            result.retry.extend(items_of_request)
            continue
        _send(request, items_of_request, integration, token, deps, now, result)
    return result


def _send(
    request: GraphRequest,
    items: list[_Pending],
    integration: Integration,
    token: str,
    deps: Deps,
    now: datetime,
    result: _Result,
) -> None:
    version = integration.config.api_version
    for attempt in range(GRAPH_ATTEMPTS):
        result.requests += 1
        try:
            receipt = deps.sender.send(request, token=token, api_version=version)
        except GraphError as error:
            if error.kind is ErrorKind.AUTH:
                reason = "version" if error.code == DEPRECATED_VERSION else "auth"
                result.version_errors += error.code == DEPRECATED_VERSION
                result.refused = f"{reason}: {error.summary()}"
                result.parked.extend((item, "auth", result.refused) for item in items)
                _debug(deps, integration, items, "auth", error.summary())
                return
            if error.kind is ErrorKind.INVALID:
                if len(items) == 1:  # bisection reached the offending event
                    _debug(deps, integration, items, "invalid", error.summary())
                    result.parked.append((items[0], "invalid", error.summary()))
                    return
                half = len(items) // 2
                for part in (items[:half], items[half:]):
                    sub, _ = build_requests(
                        [i.event for i in part], test_event_code=integration.config.test_event_code
                    )
                    _send(sub[0], part, integration, token, deps, now, result)
                return
            if attempt + 1 < GRAPH_ATTEMPTS and _time_for_a_call(deps):
                delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)
                deps.sleep(delay / 2 + deps.rng.uniform(0, delay / 2))
                continue
            _debug(deps, integration, items, "retry", error.summary())
            result.retry.extend(items)
            return
        # Record before anything else can fail: a crash after this line never resends these events.
        # A failed ledger write still counts as delivered; only a redelivery of these records could resend.
        with contextlib.suppress(Exception):
            deps.ledger.record((i.key for i in items), now=now)
        result.delivered.extend(items)
        result.receipts.append(receipt)
        if integration.debug:
            _debug(deps, integration, items, "delivered", f"fbtrace {receipt.fbtrace_id}")
        return


def _time_for_a_call(deps: Deps) -> bool:
    return deps.remaining_s is None or deps.remaining_s() > CALL_BUDGET_S


def _debug(deps: Deps, integration: Integration, items: list[_Pending], outcome: str, detail: str) -> None:
    if deps.debugger is None:
        return
    try:
        deps.debugger.record(integration, [i.event for i in items], outcome, detail)
    except Exception:
        return  # the debugger is best-effort; delivery never fails because of it
