"""THE Powertools Logger, Metrics and Tracer of every function, built once and only when first needed.

Handlers use `lambda_handler` (context injection, metrics flushing, tracing when on) and core modules log
through `logger()`, so every line is the same structured JSON whatever POWERTOOLS_SERVICE_NAME says.
Tracing costs nothing when it is off: the X-Ray SDK (≈ 200 ms to import) is imported only when on.

Nothing here logs an event: `lambda_handler` pins Powertools' `log_event=False` whatever
POWERTOOLS_LOGGER_LOG_EVENT says, and the libraries whose debug lines carry request and response bodies
(botocore logs GetSecretValue's answer: the access token) are held at WARNING whatever the root
logger, Lambda's log level, POWERTOOLS_LOG_LEVEL or POWERTOOLS_DEBUG say (`hold_library_loggers`).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "relay"
NAMESPACE = "Relay"
_TRUE = frozenset({"1", "true", "yes", "on"})
# Loggers whose DEBUG / INFO lines carry payloads: botocore (every AWS request's parameters and response
# bodies, the access token of GetSecretValue included), boto3 and s3transfer (its wrappers), urllib3
# (the URLs called), Powertools' own package logger (what it is handed; POWERTOOLS_DEBUG turns it on)
# and the X-Ray SDK (segments and metadata). Their children inherit the level.
HELD_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "aws_lambda_powertools", "aws_xray_sdk")
HELD_LEVEL = logging.WARNING

_F = TypeVar("_F", bound=Callable[..., Any])


class Log(Protocol):
    """What core modules log through (the Powertools Logger; tests pass a fake that keeps the lines)."""

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


def logger_or(log: Log | None) -> Log:
    """`log` when one was passed in, else the Powertools logger (built on first use)."""
    return log if log is not None else logger()


def service() -> str:
    return os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE


def hold_library_loggers() -> None:
    """Hold HELD_LOGGERS (and any child of theirs given a level of its own) at HELD_LEVEL or above.

    A logger's own level decides before any handler is asked, so a DEBUG root logger, a DEBUG Lambda
    log level or a stream handler added by POWERTOOLS_DEBUG never sees their debug lines. A level set
    higher (ERROR) is kept. Propagation is left as it is: their warnings still reach the function's log.
    """
    for name in HELD_LOGGERS:
        held = logging.getLogger(name)
        if held.level < HELD_LEVEL:  # NOTSET (0) included: it would defer to the root's level
            held.setLevel(HELD_LEVEL)
    prefixes = tuple(name + "." for name in HELD_LOGGERS)
    for name, child in list(logging.Logger.manager.loggerDict.items()):
        if (
            isinstance(child, logging.Logger)
            and name.startswith(prefixes)
            and logging.NOTSET < child.level < HELD_LEVEL
        ):
            child.setLevel(HELD_LEVEL)


@functools.cache
def logger() -> Logger:
    """The structured JSON logger (Powertools); never given a payload value or a token.

    Building it (or `metrics()`, `tracer()`) holds the chatty libraries' loggers
    (`hold_library_loggers`): importing Powertools may just have set its package logger to DEBUG
    (POWERTOOLS_DEBUG).
    """
    from aws_lambda_powertools import Logger

    hold_library_loggers()
    return Logger(service=service())


@functools.cache
def metrics() -> Metrics:
    """The EMF metrics of the current invocation (flushed by `lambda_handler`)."""
    from aws_lambda_powertools import Metrics

    hold_library_loggers()
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

    built = Tracer(service=service())
    hold_library_loggers()  # the X-Ray SDK is imported (and botocore patched) just now
    return built


def lambda_handler(fn: _F) -> _F:
    """Wrap a handler with Powertools' context injection, metrics flushing and (when on) tracing.

    The Powertools objects are built on the first invocation, not when the handler module is imported.
    The event is never logged (`log_event=False`, whatever POWERTOOLS_LOGGER_LOG_EVENT says).
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
    # log_event pinned: POWERTOOLS_LOGGER_LOG_EVENT=true would log every raw SQS body.
    return logger().inject_lambda_context(inner, log_event=False)


def clear() -> None:
    """Forget the built objects (tests change POWERTOOLS_* variables between cases)."""
    logger.cache_clear()
    metrics.cache_clear()
    tracer.cache_clear()
