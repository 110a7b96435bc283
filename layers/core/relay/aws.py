"""The one AWS client factory: explicit timeouts and standard (throttling-aware) retries, cached per service."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from typing import Any

# One AWS call (DynamoDB, SQS, Secrets Manager: tens of ms when healthy) takes at most about
# 3 x (2 + 3) s plus standard mode's backoff (≤ 2 + 4 s) ≈ 21 s, a third of DeliverFunction's 60 s; the
# loops around calls (relay.ledger, relay.queue) also stop when the invocation's remaining time runs out.
AWS_CONNECT_TIMEOUT_S = 2
AWS_READ_TIMEOUT_S = 3
AWS_MAX_ATTEMPTS = 3
# One attempt of one call at most: the margin a loop keeps before starting another round.
AWS_ATTEMPT_S = AWS_CONNECT_TIMEOUT_S + AWS_READ_TIMEOUT_S
# One call with all its attempts and standard mode's backoff: what a best-effort write must leave room for.
AWS_CALL_S = AWS_MAX_ATTEMPTS * AWS_ATTEMPT_S + 6
# DynamoDB BatchGetItem: keys per call; rounds per chunk while it leaves keys unprocessed (a throttled
# table can do so on every call, each of which already carries botocore's own retries); the capped
# exponential wait between rounds.
BATCH_GET_MAX = 100
BATCH_GET_ROUNDS = 5
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0


@cache
def aws_client(service: str) -> Any:
    """A boto3 client for `service`, built on first use (never at import time) and reused afterwards.

    botocore's debug lines (request parameters, response bodies: secrets) are held back first.
    """
    import boto3
    from botocore.config import Config

    from relay.observability import hold_library_loggers

    hold_library_loggers()

    config = Config(
        connect_timeout=AWS_CONNECT_TIMEOUT_S,
        read_timeout=AWS_READ_TIMEOUT_S,
        retries={"mode": "standard", "max_attempts": AWS_MAX_ATTEMPTS},
    )
    return boto3.client(service, config=config)


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError (or anything shaped like one), else None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return code if isinstance(code, str) else None


def error_fields(exc: BaseException) -> dict[str, str | None]:
    """What a log line says about an error it does not raise: the class and the AWS error code (from a
    ClientError, or the `aws_code` of Relay's own errors wrapping one). Never the message: it can quote
    values (keys, names, payload)."""
    code = error_code(exc)
    if code is None:
        wrapped = getattr(exc, "aws_code", None)
        code = wrapped if isinstance(wrapped, str) else None
    return {"error": type(exc).__name__, "code": code}


class Unprocessed(RuntimeError):
    """BatchGetItem left keys unprocessed after its rounds, or the invocation had no time for another."""


def batch_get(
    dynamodb: Any,
    table: str,
    keys: Sequence[dict[str, Any]],
    *,
    projection: dict[str, Any] | None = None,
    rounds: int = BATCH_GET_ROUNDS,
    sleep: Callable[[float], None] = time.sleep,
    remaining_s: Callable[[], float] | None = None,
) -> Iterator[dict[str, Any]]:
    """The items of `keys` found in `table` (absent keys yield nothing), BATCH_GET_MAX keys a call, keys
    left unprocessed asked for again after a capped backoff.

    `projection` is added to each request (ProjectionExpression, ExpressionAttributeNames). Raises
    botocore errors, or Unprocessed ("keys still unprocessed after N reads" / "no time left for another
    read") when a chunk's rounds run out or `remaining_s` (seconds left) leaves less than AWS_ATTEMPT_S
    after the next wait.
    """
    for i in range(0, len(keys), BATCH_GET_MAX):
        request: dict[str, Any] = {table: {"Keys": list(keys[i : i + BATCH_GET_MAX]), **(projection or {})}}
        for attempt in range(rounds):
            response = dynamodb.batch_get_item(RequestItems=request)
            yield from response.get("Responses", {}).get(table, [])
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            if attempt + 1 < rounds:
                delay = min(BACKOFF_BASE_S * 2**attempt, BACKOFF_CAP_S)
                if remaining_s is not None and remaining_s() - delay < AWS_ATTEMPT_S:
                    raise Unprocessed("no time left for another read")
                sleep(delay)
        else:
            raise Unprocessed(f"keys still unprocessed after {rounds} reads")
