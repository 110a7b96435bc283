"""The one AWS client factory: explicit timeouts and standard (throttling-aware) retries, cached per service."""

from __future__ import annotations

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
