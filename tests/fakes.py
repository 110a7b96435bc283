"""In-memory fakes of delivery's seams (relay.delivery.model's Protocols): phases tested without moto.

Each fake records what it was asked and can be told to fail, so a test states both the script and the
exact interaction it expects.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from relay.delivery.model import Deps
from relay.integrations import BrokenIntegration, Integration
from relay.outbound import ErrorKind, Receipt, SendError, ServerEvent
from relay.queue import Parked, SqsRecord, string_value
from relay.secrets import MissingToken, TokenUnavailable
from tests.support import SAMPLE_NOW, integration, track

if TYPE_CHECKING:
    from relay.delivery.model import DeadLetterSink, DebugSink, LedgerLike, Sender, Tokens
    from relay.observability import Log

TOKEN = "fake-token-0001"


class FakeAwsError(Exception):
    """Stands in for a botocore ClientError (same `response` shape)."""

    def __init__(self, code: str = "ProvisionedThroughputExceededException") -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code, "Message": "fake"}}


# ---- token vault -----------------------------------------------------------------------------------


class FakeVault:
    """relay.secrets.TokenVault: a token per integration id (default TOKEN); `missing` ids raise
    MissingToken, `unavailable` ids raise TokenUnavailable; gets and invalidations are counted."""

    def __init__(
        self,
        tokens: dict[str, str] | None = None,
        *,
        missing: Iterable[str] = (),
        unavailable: Iterable[str] = (),
    ) -> None:
        self.tokens = dict(tokens or {})
        self.missing = set(missing)
        self.unavailable = set(unavailable)
        self.gets: Counter[str] = Counter()
        self.invalidations: Counter[str] = Counter()

    def get(self, integration_id: str) -> str:
        self.gets[integration_id] += 1
        if integration_id in self.missing:
            raise MissingToken(
                f"no readable secret fake/{integration_id}/access-token (ResourceNotFoundException)",
                aws_code="ResourceNotFoundException",
            )
        if integration_id in self.unavailable:
            raise TokenUnavailable(
                f"secret fake/{integration_id}/access-token unavailable (ThrottlingException)",
                aws_code="ThrottlingException",
            )
        return self.tokens.get(integration_id, TOKEN)

    def invalidate(self, integration_id: str) -> None:
        self.invalidations[integration_id] += 1


# ---- vendor sender ---------------------------------------------------------------------------------

Answer = Receipt | SendError
Script = Callable[[Any], Answer | None]


def receipt(
    request: Any,
    *,
    fbtrace_id: str = "trace-ok",
    version_warning: str | None = None,
    events_received: int | None = None,
) -> Receipt:
    """The vendor's acceptance of every event of `request` (or of `events_received` of them)."""
    return Receipt(
        pixel_id=request.pixel_id,
        events_received=len(request.events) if events_received is None else events_received,
        fbtrace_id=fbtrace_id,
        messages=(),
        version_warning=version_warning,
        latency_s=0.01,
    )


def transient(status: int = 503) -> SendError:
    return SendError(ErrorKind.RETRY, status, message="")


def invalid(trace: str = "trace-bad") -> SendError:
    return SendError(ErrorKind.INVALID, 400, 100, 2804003, trace, "Invalid parameter")


def not_metas(status: int = 302) -> SendError:
    """What GraphClient raises for an answer that is not Meta's (a redirect, a proxy's HTML page)."""
    what = "redirect not followed" if 300 <= status < 400 else "no Graph error object"
    return SendError(ErrorKind.TRANSPORT, status, message=f"not a Graph answer: {what} (text/html)")


def refused(*, version: bool = False) -> SendError:
    code = 2635 if version else 190
    return SendError(ErrorKind.AUTH, 400, code, None, "trace-auth", "refused", version_refused=version)


@dataclass(frozen=True)
class Sent:
    """One call the sender received: the request, its events' message ids, the token and the budget."""

    request: Any
    message_ids: tuple[str | None, ...]
    token: str
    budget_s: float


class FakeSender:
    """A vendor client with scripted answers.

    `answers` are used one per call, in order (a Receipt is returned, a SendError raised; None means
    "accept"); once they run out, `default(request)` answers (default: accept everything). `poison`
    message ids make any request containing one fail as invalid (Meta's code 100 fails the request).
    """

    def __init__(
        self,
        answers: Iterable[Answer | None] = (),
        *,
        default: Script | None = None,
        poison: Iterable[str] = (),
    ) -> None:
        self.answers = list(answers)
        self.default = default
        self.poison = set(poison)
        self.calls: list[Sent] = []
        self._lock = threading.Lock()

    def send(self, request: Any, *, token: str, budget_s: float) -> Receipt:
        ids = tuple(e.message_id for e in request.events)
        with self._lock:
            self.calls.append(Sent(request, ids, token, budget_s))
            answer = self.answers.pop(0) if self.answers else None
        if answer is None and self.poison.intersection(i for i in ids if i is not None):
            answer = invalid()
        if answer is None and self.default is not None:
            answer = self.default(request)
        if answer is None:
            answer = receipt(request)
        if isinstance(answer, SendError):
            raise answer
        return answer

    @property
    def sizes(self) -> list[int]:
        """The number of events of each call, in call order."""
        return [len(c.message_ids) for c in self.calls]


# ---- ledger ----------------------------------------------------------------------------------------


class FakeLedger:
    """relay.ledger.Ledger over an in-memory set; `fail_reads` / `fail_writes` raise FakeAwsError
    (`read_error`, when given, is raised by reads instead)."""

    def __init__(
        self,
        keys: Iterable[str] = (),
        *,
        fail_reads: bool = False,
        fail_writes: bool = False,
        read_error: Exception | None = None,
    ) -> None:
        self.keys = set(keys)
        self.by: dict[str, str] = {}
        self.fail_reads = fail_reads
        self.fail_writes = fail_writes
        self.read_error = read_error
        self.reads: list[list[str]] = []
        self.writes: list[tuple[list[str], datetime]] = []
        self._lock = threading.Lock()

    def delivered(
        self, keys: Iterable[str], *, remaining_s: Callable[[], float] | None = None
    ) -> dict[str, str]:
        wanted = list(keys)
        self.reads.append(wanted)
        if self.read_error is not None:
            raise self.read_error
        if self.fail_reads:
            raise FakeAwsError()
        return {k: self.by.get(k, "") for k in wanted if k in self.keys}

    def record(
        self,
        keys: Iterable[str],
        *,
        now: datetime,
        record_of: Mapping[str, str] | None = None,
        remaining_s: Callable[[], float] | None = None,
    ) -> None:
        written = list(keys)
        with self._lock:
            self.writes.append((written, now))
        if self.fail_writes:
            raise FakeAwsError()
        with self._lock:
            self.keys.update(written)
            self.by.update({k: v for k, v in (record_of or {}).items() if k in written})


# ---- dead letters ----------------------------------------------------------------------------------


class FakeDeadLetters:
    """relay.queue.DeadLetters: records what was parked; what `fail` names (a record id, or a record id and
    integration id pair) is not parked: its position is returned."""

    def __init__(self, *, fail: Iterable[str | tuple[str, str | None]] = ()) -> None:
        self.fail = set(fail)
        self.parked: list[Parked] = []
        self.calls = 0

    def park(self, items: Sequence[Parked], *, remaining_s: Callable[[], float] | None = None) -> set[int]:
        self.calls += 1
        failed = {
            n
            for n, p in enumerate(items)
            if p.record_id in self.fail or (p.record_id, p.integration_id) in self.fail
        }
        self.parked.extend(p for n, p in enumerate(items) if n not in failed)
        return failed

    def reasons(self) -> list[tuple[str, str, str | None]]:
        """(record id, reason, integration id) of each parked message, in order."""
        return [(p.record_id, p.reason, p.integration_id) for p in self.parked]


# ---- debugger --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DebugRecord:
    integration_id: str
    event_ids: tuple[str, ...]
    outcome: str
    detail: str


class FakeDebugger:
    """relay.debugger.Debugger: records (integration, event ids, outcome, detail); `fail` raises."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.records: list[DebugRecord] = []
        self._lock = threading.Lock()

    def record(
        self,
        integration: Integration,
        events: Sequence[ServerEvent],
        outcome: str,
        detail: str,
        *,
        fbtrace_id: str | None = None,
    ) -> None:
        if self.fail:
            raise FakeAwsError("ValidationException")
        with self._lock:
            self.records.append(
                DebugRecord(integration.id, tuple(e.event_id for e in events), outcome, detail)
            )


# ---- integrations lookup ---------------------------------------------------------------------------


class FakeIntegrations:
    """The `integrations` callable of Deps: source id → its integrations (Integration or
    BrokenIntegration); sources in `failing` raise FakeAwsError. Calls are counted per source."""

    def __init__(
        self,
        by_source: dict[str, Sequence[Integration | BrokenIntegration]] | None = None,
        *,
        failing: Iterable[str] = (),
    ) -> None:
        self.by_source = dict(by_source or {})
        self.failing = set(failing)
        self.calls: Counter[str] = Counter()

    def __call__(self, source_id: str) -> Sequence[Integration | BrokenIntegration]:
        self.calls[source_id] += 1
        if source_id in self.failing:
            raise FakeAwsError()
        return list(self.by_source.get(source_id, []))


# ---- log -------------------------------------------------------------------------------------------


@dataclass
class FakeLog:
    """A Log (warning / error) that keeps (level, message, extra) of every line."""

    lines: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.lines.append(("warning", msg, dict(kwargs.get("extra") or {})))

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.lines.append(("error", msg, dict(kwargs.get("extra") or {})))


# ---- a delivery world of fakes ---------------------------------------------------------------------


class UpperRandom(random.Random):
    """`uniform(a, b)` is always `b`: the jittered backoff becomes exact."""

    def uniform(self, a: float, b: float) -> float:
        return b


@dataclass
class Fakes:
    """Every fake delivery talks to, and the Deps over them (default: one integration int-1 on src-1)."""

    vault: FakeVault = field(default_factory=FakeVault)
    sender: FakeSender = field(default_factory=FakeSender)
    ledger: FakeLedger = field(default_factory=FakeLedger)
    dead_letters: FakeDeadLetters = field(default_factory=FakeDeadLetters)
    debugger: FakeDebugger = field(default_factory=FakeDebugger)
    integrations: FakeIntegrations = field(
        default_factory=lambda: FakeIntegrations({"src-1": [integration()]})
    )
    log: FakeLog = field(default_factory=FakeLog)
    sleeps: list[float] = field(default_factory=list)
    now: datetime = SAMPLE_NOW

    def deps(self, **overrides: Any) -> Deps:
        values: dict[str, Any] = {
            "integrations": self.integrations,
            "tokens": self.vault,
            "sender": self.sender,
            "ledger": self.ledger,
            "dead_letters": self.dead_letters,
            "debugger": self.debugger,
            "now": lambda: self.now,
            "sleep": self.sleeps.append,
            "rng": UpperRandom(),
            "log": self.log,
            "default_source": "src-1",
        }
        values.update(overrides)
        return Deps(**values)


def sqs_record(
    body: dict[str, Any] | str,
    *,
    message_id: str | None = None,
    receive_count: int = 1,
    integration_id: str | None = None,
    **attributes: str,
) -> SqsRecord:
    """An SQS record of `body` (a dict is dumped as JSON); its message id defaults to the event's."""
    text = body if isinstance(body, str) else json.dumps(body)
    if message_id is None:
        message_id = body.get("messageId", "r-?") if isinstance(body, dict) else "r-?"
    attrs = {k: string_value(v) for k, v in attributes.items()}
    if integration_id is not None:
        attrs["integration_id"] = string_value(integration_id)
    return SqsRecord(str(message_id), text, receive_count, attrs)


def lead(n: int, **overrides: Any) -> SqsRecord:
    """A mappable 'Lead Generated' event with messageId m-<n> (dated SAMPLE_NOW - 1 h)."""
    receive_count = overrides.pop("receive_count", 1)
    return sqs_record(track("Lead Generated", messageId=f"m-{n}", **overrides), receive_count=receive_count)


if TYPE_CHECKING:  # the fakes satisfy delivery's Protocols (checked by mypy, never run)
    _tokens: Tokens = FakeVault()
    _sender: Sender = FakeSender()
    _ledger: LedgerLike = FakeLedger()
    _dead_letters: DeadLetterSink = FakeDeadLetters()
    _debugger: DebugSink = FakeDebugger()
    _integrations: Callable[[str], Sequence[Integration | BrokenIntegration]] = FakeIntegrations()
    _log: Log = FakeLog()


# ---- a thin wrapper around a real (moto) boto3 client ----------------------------------------------

Around = Callable[[Callable[..., Any], dict[str, Any]], Any]


class WrappedClient:
    """A boto3 client passed through, recording every call; `around[operation](call, kwargs)` answers
    instead of the real call (it may call `call(**kwargs)` itself, change the request or raise)."""

    def __init__(self, client: Any, **around: Around) -> None:
        self._client = client
        self.around = around
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            hook = self.around.get(name)
            return hook(method, kwargs) if hook is not None else method(**kwargs)

        return call

    def requests(self, operation: str) -> list[dict[str, Any]]:
        """The keyword arguments of each call of `operation`, in order."""
        return [kwargs for name, kwargs in self.calls if name == operation]


def client_error(code: str, operation: str = "Operation") -> Exception:
    """A botocore ClientError with error code `code`."""
    from botocore.exceptions import ClientError

    error: Exception = ClientError({"Error": {"Code": code, "Message": f"fake {code}"}}, operation)
    return error
