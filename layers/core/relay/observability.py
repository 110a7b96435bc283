"""THE Powertools Logger, Metrics and Tracer of every function, built once and only when first needed.

Handlers use `lambda_handler` (context injection, metrics flushing, tracing when on) and core modules log
through `logger()`, so every line is the same structured JSON whatever POWERTOOLS_SERVICE_NAME says.
Tracing costs nothing when it is off: the X-Ray SDK (≈ 200 ms to import) is imported only when on.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "relay"
NAMESPACE = "Relay"
_TRUE = frozenset({"1", "true", "yes", "on"})

_F = TypeVar("_F", bound=Callable[..., Any])


class Log(Protocol):
    """What core modules log through (the Powertools Logger; tests pass a fake that keeps the lines)."""

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


def service() -> str:
    return os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE


@functools.cache
def logger() -> Logger:
    """The structured JSON logger (Powertools); never given a payload value or a token."""
    from aws_lambda_powertools import Logger

    return Logger(service=service())


@functools.cache
def metrics() -> Metrics:
    """The EMF metrics of the current invocation (flushed by `lambda_handler`)."""
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or NAMESPACE, service=service())


def tracing_enabled(environ: dict[str, str] | None = None) -> bool:
    """True inside Lambda unless POWERTOOLS_TRACE_DISABLED is set (the template sets it when tracing is off)."""
    env = os.environ if environ is None else environ
    if env.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in _TRUE:
        return False
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME")) and not env.get("AWS_SAM_LOCAL")


@functools.cache
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer(service=service())


def lambda_handler(fn: _F) -> _F:
    """Wrap a handler with Powertools' context injection, metrics flushing and (when on) tracing.

    The Powertools objects are built on the first invocation, not when the handler module is imported.
    """
    wrapped: Callable[..., Any] | None = None

    @functools.wraps(fn)
    def handler(event: Any, context: Any) -> Any:
        nonlocal wrapped
        if wrapped is None:
            wrapped = _decorate(fn)
        return wrapped(event, context)

    return handler  # type: ignore[return-value]


def _decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
    inner = metrics().log_metrics(fn)
    if tracing_enabled():
        inner = tracer().capture_lambda_handler(inner)
    return logger().inject_lambda_context(inner)


def clear() -> None:
    """Forget the built objects (tests change POWERTOOLS_* variables between cases)."""
    logger.cache_clear()
    metrics.cache_clear()
    tracer.cache_clear()
