"""What a vendor module gives delivery back, vendor-neutral: a mapped event, a typed reason why not, the
receipt of an accepted call, and the error of a refused one (which says whether a retry can help)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

if (
    TYPE_CHECKING
):  # the vocabulary relay.queue owns; not imported at run time (the queue code is not needed here)
    from relay.queue import DlqReason, SkipReason


class ServerEvent(NamedTuple):
    """A validated vendor event for one destination; `payload` is one element of the request's data.

    A NamedTuple (immutable, and cheaper to build than a frozen dataclass: one is built per event)."""

    pixel_id: str
    event_name: str
    event_id: str
    event_time: int
    message_id: str | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Skipped:
    """Deliberately not sent to this integration."""

    reason: SkipReason
    detail: str
    message_id: str | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """Cannot be sent as it stands; `reason` names the field and the problem, never the value.

    `code` is the DLQ reason: "invalid" (fix the data or mapping) or "expired" (past the age limit).
    """

    reason: str
    message_id: str | None
    code: DlqReason = "invalid"


Outcome = ServerEvent | Skipped | Rejected


@dataclass(frozen=True, slots=True)
class Receipt:
    """The vendor's acceptance of one request."""

    pixel_id: str
    events_received: int
    fbtrace_id: str | None
    messages: tuple[str, ...]
    version_warning: str | None
    latency_s: float


class ErrorKind(Enum):
    RETRY = "retry"  # transient: back off and try again
    INVALID = "invalid"  # the payload: isolate the offending events, never resend them as they are
    AUTH = "auth"  # the integration's token / permissions / API version: park, redrive after a fix
    # The answer is not the vendor's (a redirect, an HTML page of a proxy / WAF / wrong URL, a body that
    # is not the vendor's JSON): says nothing about the events. Retried like RETRY, never bisected;
    # parked `transport` when it persists through the last receive.
    TRANSPORT = "transport"


@dataclass
class SendError(Exception):
    """A failed vendor call. `retryable` says whether sending the same request again may succeed."""

    kind: ErrorKind
    status: int | None
    code: int | None = None
    subcode: int | None = None
    fbtrace_id: str | None = None
    message: str = ""
    # The vendor refused the API version (not the token): parked as auth, counted apart.
    version_refused: bool = False

    @property
    def retryable(self) -> bool:
        return self.kind is ErrorKind.RETRY or self.kind is ErrorKind.TRANSPORT

    def summary(self) -> str:
        """A short, PII-free description (the vendor's own message is not echoed: it may quote values)."""
        parts = [f"http {self.status}" if self.status else "no response"]
        if self.code is not None:
            parts.append(f"code {self.code}" + (f"/{self.subcode}" if self.subcode else ""))
        if self.fbtrace_id:
            parts.append(f"fbtrace {self.fbtrace_id}")
        if (not self.status or self.kind is ErrorKind.TRANSPORT) and self.message:
            parts.append(self.message)  # our own words (no vendor text): what failed, never a value
        return ", ".join(parts)
