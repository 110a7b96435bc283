"""Classification of Meta's answers by `code` / `error_subcode` / `is_transient` — never by `type`.

Only a Graph error object says something about the events. Any other answer (a 3xx, an HTML page of a
proxy / WAF / wrong URL, JSON without `error`, a body that is not JSON) did not come from Meta's edge: it
is a TRANSPORT error, retried and never bisected as bad data.
"""

from __future__ import annotations

import re
from typing import Any

from relay.outbound import ErrorKind, SendError

# Retry with backoff: unknown, service, app/user/page throttling, app limit, custom rate limit, policy block.
RETRY_CODES = frozenset({1, 2, 4, 17, 32, 341, 368, 613}) | frozenset(range(80000, 80015))
# Park until a human fixes the token / permissions / version (then redrive): 190 token, 102 session,
# 10 and 200-299 permissions, 3 capability, 2635 deprecated API version.
AUTH_CODES = frozenset({190, 102, 10, 3, 2635}) | frozenset(range(200, 300))
INVALID_PARAMETER = 100
# code 100 + subcode 33: "object does not exist ... missing permissions" — a wrong pixel id or token scope.
MISSING_OBJECT_SUBCODE = 33
DEPRECATED_VERSION = 2635

# Meta's answers are SendErrors; the name says where they come from.
GraphError = SendError
# fbtrace ids are short base64url-like tokens ("AbCdEf12_3-"); the bound is generous.
_TRACE_ID = re.compile(r"[A-Za-z0-9_\-+/=]{1,64}")


_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")


def classify(status: int, body: Any, *, content_type: str = "") -> GraphError:
    """The GraphError for a non-2xx answer with decoded JSON `body` (None when it was not JSON).

    A 3xx, or an answer without a Graph error object, is TRANSPORT whatever its status.
    """
    if 300 <= status < 400:
        return not_graph(status, content_type, "redirect not followed")
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return not_graph(status, content_type, "no Graph error object")

    def _int(key: str) -> int | None:
        value = error.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    code, subcode = _int("code"), _int("error_subcode")
    trace = trace_id(error.get("fbtrace_id"))
    message = str(error.get("message", ""))[:200]
    if code in AUTH_CODES or (code == INVALID_PARAMETER and subcode == MISSING_OBJECT_SUBCODE):
        kind = ErrorKind.AUTH
    elif error.get("is_transient") is True or code in RETRY_CODES or status >= 500 or status == 429:
        kind = ErrorKind.RETRY
    elif code == INVALID_PARAMETER:
        kind = ErrorKind.INVALID
    else:
        # An unknown code: retrying is bounded by maxReceiveCount, after which the event is parked.
        kind = ErrorKind.RETRY
    return GraphError(kind, status, code, subcode, trace, message, version_refused=code == DEPRECATED_VERSION)


def not_graph(status: int, content_type: str, what: str) -> GraphError:
    """A TRANSPORT error: an answer that is not Meta's; `what` says why, the media type what it was."""
    media = content_type.partition(";")[0].strip().lower()
    shown = media if _MEDIA_TYPE.fullmatch(media) else ("no content type" if not media else "other")
    return GraphError(ErrorKind.TRANSPORT, status, message=f"not a Graph answer: {what} ({shown})")


def trace_id(value: object) -> str | None:
    """Meta's fbtrace_id when it looks like one (a short token); anything else in an answer is not kept,
    logged or stored (the answer may not be Meta's)."""
    return value if isinstance(value, str) and _TRACE_ID.fullmatch(value) else None


def network_error(detail: str) -> GraphError:
    """Timeouts, resets and refused connections: always retryable."""
    return GraphError(ErrorKind.RETRY, None, message=detail)
