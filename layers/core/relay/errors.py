"""Domain errors of the control plane; mapped to HTTP answers in one place (the admin API), never here."""

from __future__ import annotations


class RelayError(Exception):
    """Base of Relay's domain errors; `retryable` says whether the same call may succeed later."""

    retryable = False


class NotFound(RelayError):
    """The named item does not exist."""


class Conflict(RelayError):
    """An item with the same identity already exists."""


class PreconditionFailed(RelayError):
    """The item changed since the caller read it (a stale version / ETag)."""


class InvalidInput(RelayError):
    """Input that fails validation; `field` names where."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class BadRequest(InvalidInput):
    """A request that cannot be served as asked (HTTP 400), though each field is valid on its own."""
