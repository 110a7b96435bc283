"""The admin API's error contract, in one place: every refusal is `{"error": {status, code, message,
fields[], correlation_id}}`, and every exception a route raises is mapped here to its HTTP answer.

A field problem names the field by its path (`config.pixel_id`) and says what is wrong, never what was
sent: pydantic's `input` (which may be an access token) is dropped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from relay.aws import error_fields
from relay.errors import BadRequest, Conflict, InvalidInput, NotFound, PreconditionFailed, RelayError

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

    from relay.observability import Log

JSON = "application/json"
# The parts of a validation error's location that say where the value was, not which field it is.
_PLACES = frozenset({"body", "query", "path", "header"})


class FieldProblem(BaseModel):
    path: str
    problem: str


class Problem(BaseModel):
    status: int
    code: str
    message: str
    fields: list[FieldProblem] = []
    correlation_id: str | None = None


class ProblemBody(BaseModel):
    """The body of every 4xx / 5xx answer of the admin API."""

    error: Problem


def field_path(loc: Sequence[int | str]) -> str:
    """`("body", "config", "pixel_id")` → `config.pixel_id`; list positions as `[n]`."""
    parts = list(loc)
    if parts and parts[0] in _PLACES and len(parts) > 1:
        parts = parts[1:]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def field_problems(errors: Iterable[Mapping[str, Any]], prefix: str = "") -> list[FieldProblem]:
    """pydantic / Powertools error dicts as path + message (the offending input is never repeated)."""
    return [
        FieldProblem(path=prefix + field_path(err.get("loc", ())), problem=str(err.get("msg", "invalid")))
        for err in errors
    ]


def problem(
    status: int,
    code: str,
    message: str,
    *,
    fields: list[FieldProblem] | None = None,
    correlation_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response

    body = ProblemBody(
        error=Problem(
            status=status, code=code, message=message, fields=fields or [], correlation_id=correlation_id
        )
    )
    return Response(status, JSON, body.model_dump_json(), headers=headers)


def unauthorized() -> Response[str]:
    return problem(
        401,
        "unauthorized",
        "send the admin token as 'Authorization: Bearer <token>'",
        headers={"WWW-Authenticate": 'Bearer realm="relay-admin"'},
    )


def _invalid_request(errors: list[dict[str, Any]]) -> Response[str]:
    if any(err.get("type") == "json_invalid" for err in errors):
        return problem(400, "invalid_json", "the body is not a JSON document")
    fields = field_problems(errors)
    return problem(422, "invalid_request", f"{len(fields)} invalid field(s)", fields=fields)


def install(app: APIGatewayHttpResolver, *, log: Callable[[], Log], correlation: Callable[[], str]) -> None:
    """Register the exception, not-found and validation handlers of `app` (the only error mapping)."""
    from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

    @app.exception_handler(  # type: ignore[untyped-decorator]
        RequestValidationError
    )
    def _request(exc: RequestValidationError) -> Response[str]:
        return _invalid_request(list(exc.errors()))

    @app.exception_handler(  # type: ignore[untyped-decorator]
        ValidationError
    )
    def _merged(exc: ValidationError) -> Response[str]:
        # A valid patch can still make an invalid integration: the paths are the merged document's.
        fields = field_problems(exc.errors(include_url=False, include_input=False))
        return problem(422, "invalid_request", f"{len(fields)} invalid field(s)", fields=fields)

    @app.exception_handler(  # type: ignore[untyped-decorator]
        BadRequest
    )
    def _bad_request(exc: BadRequest) -> Response[str]:
        return problem(
            400, "bad_request", str(exc), fields=[FieldProblem(path=exc.field, problem=exc.problem)]
        )

    @app.exception_handler(  # type: ignore[untyped-decorator]
        InvalidInput
    )
    def _input(exc: InvalidInput) -> Response[str]:
        return problem(
            422, "invalid_request", str(exc), fields=[FieldProblem(path=exc.field, problem=exc.problem)]
        )

    @app.exception_handler(  # type: ignore[untyped-decorator]
        NotFound
    )
    def _not_found(exc: NotFound) -> Response[str]:
        return problem(404, "not_found", f"no {exc}")

    @app.exception_handler(  # type: ignore[untyped-decorator]
        Conflict
    )
    def _conflict(exc: Conflict) -> Response[str]:
        return problem(409, "conflict", str(exc))

    @app.exception_handler(  # type: ignore[untyped-decorator]
        PreconditionFailed
    )
    def _stale(exc: PreconditionFailed) -> Response[str]:
        return problem(412, "precondition_failed", f"{exc}: read it again and retry with its ETag")

    @app.not_found
    def _no_route(exc: Exception) -> Response[str]:
        return problem(404, "not_found", "no such route")

    @app.exception_handler(  # type: ignore[untyped-decorator]
        Exception
    )
    def _internal(exc: Exception) -> Response[str]:
        cid = correlation()
        retryable = (isinstance(exc, RelayError) and exc.retryable) or bool(getattr(exc, "retryable", False))
        log().error("admin request failed", extra={**error_fields(exc), "correlation_id": cid})
        if retryable:
            return problem(503, "unavailable", "try again shortly", correlation_id=cid)
        return problem(500, "internal_error", "internal error", correlation_id=cid)


def new_correlation_id() -> str:
    return uuid.uuid4().hex
