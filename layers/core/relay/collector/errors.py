"""The collector's refusals, each with the HTTP status it is answered with (mapped in `app` only)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rejection:
    """One event of a request that was not queued: its position in the request and why (field named)."""

    index: int
    message: str
    message_id: str | None = None


@dataclass
class CollectError(Exception):
    """A request refused as a whole; `code` is stable for clients, `message` names the field or limit."""

    message: str
    code: str = "invalid_request"
    status: int = 400
    retryable: bool = False
    rejected: list[Rejection] = field(default_factory=list)
    accepted: int = 0

    def __str__(self) -> str:
        return self.message


class BadRequest(CollectError):
    """400: the body, an event or a limit (the message names which)."""


class Unauthorized(CollectError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "unauthorized", 401)


class OriginRefused(CollectError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "origin_not_allowed", 403)


class NotFound(CollectError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "not_found", 404)


class QueueUnavailable(CollectError):
    """503: some accepted events could not be queued; the client sends the request again (the same
    messageIds: delivery's ledger drops what was already queued and sent)."""

    def __init__(self, message: str, accepted: int) -> None:
        super().__init__(message, "unavailable", 503, True, [], accepted)
