"""In-process emulator of Meta's Graph API edge ``POST /{version}/{pixel_id}/events`` (Conversions API), and of
the read ``GET /{version}/{pixel_id}`` that a health check makes (the pixel's id and name, same token checks).

It answers like Meta (docs/meta-capi-reference.md §0-3, §7): token checks, all-or-nothing batch validation and the
Graph error JSON, plus injectable faults (5xx, throttling, transient, timeout, auth, version) and poisoned event ids.
Every request and every accepted event is recorded for assertions on delivery, retries and duplicates.

Stdlib only (plus Relay's ``limits``); serves on 127.0.0.1 from a daemon thread. On top of Meta's rules it enforces
Relay's: an access token in the URL query string is rejected (Meta would accept it; Relay must never send one).

Order of checks per request: path (else 404 code 803), token in the URL (400 code 100), then the next injected or
random fault, then the token (code 190, or 100/33 for a pixel missing from ``access_tokens``), the body and every
event. A fault therefore replaces auth and validation, as a Graph outage would.

Faults that are not Meta's answers (what a proxy, a WAF or a wrong URL sends): ``redirect_302`` (to
``redirect_location``), ``html_403`` / ``html_404`` / ``html_502`` / ``html_200`` (an HTML page with that status),
``trickle`` (a 200 whose body arrives one byte every ``trickle_interval_s`` until the client gives up or the emulator
stops) and ``received_none`` (a 200 JSON success saying ``events_received: 0``). None of them accepts an event.

Timeout faults: the handler sleeps ``timeout_sleep_s`` (cut short by ``stop()``), then answers as usual (200 for a
valid batch) but does NOT accept the events, so a client that gave up and retries creates no duplicate here. With ``timeout_accepts=True`` the events are accepted (Meta got
the request, the client never saw the answer): use it with ``duplicates()`` to test that retries stay duplicate-safe.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import secrets
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, get_args
from urllib.parse import parse_qsl, urlsplit

from relay.vendors.meta_capi.limits import (
    ACTION_SOURCES,
    DEFAULT_API_VERSION,
    MAX_CUSTOM_EVENT_NAME,
    MAX_EVENT_AGE,
    MAX_EVENTS_PER_REQUEST,
    MAX_PHYSICAL_STORE_EVENT_AGE,
)

FaultKind = Literal[
    "http_500", "http_503", "http_429", "throttle_4", "throttle_17", "transient", "timeout", "invalid_100",
    "auth_190", "version_2635", "permission_200",
    "redirect_302", "html_403", "html_404", "html_502", "html_200", "trickle", "received_none",
]  # fmt: skip
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))
VERSION_WARNING_HEADER = "X-Ad-Api-Version-Warning"
SUBCODE_STALE_EVENT = 2804003
SUBCODE_INVALID_EVENT = 2804050
SUBCODE_PURCHASE_VALUE = 2804010

_PATH_RE = re.compile(r"/(v\d+\.0)/(\d+)/events")
_OBJECT_RE = re.compile(r"/(v\d+\.0)/(\d+)")
_SHA256_HEX_RE = re.compile(r"[0-9a-f]{64}")
# Meta's hashed user_data keys (DOC-cust-info), kept apart from relay.normalize on purpose: the emulator checks Relay.
_HASHED_KEYS = ("em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id")
# Emulator safety cap only: Meta documents no byte limit (limits.MAX_REQUEST_BYTES is Relay's own, smaller cap).
_MAX_BODY_BYTES = 16 * 1024 * 1024
# kind -> (HTTP status, code, error_subcode, is_transient, message)
_FAULTS: dict[str, tuple[int, int, int | None, bool, str]] = {
    "http_500": (500, 1, None, True, "An unknown error occurred"),
    "http_503": (503, 2, None, True, "Service temporarily unavailable"),
    "http_429": (429, 4, None, True, "(#4) Application request limit reached"),
    "throttle_4": (400, 4, None, True, "(#4) Application request limit reached"),
    "throttle_17": (400, 17, 2446079, True, "(#17) User request limit reached"),
    "transient": (400, 2, None, True, "An unexpected error has occurred. Please retry your request later."),
    "invalid_100": (400, 100, SUBCODE_INVALID_EVENT, False, "(#100) Invalid parameter"),
    "auth_190": (400, 190, 463, False, "Error validating access token: Session has expired."),
    "version_2635": (400, 2635, None, False, "(#2635) You are calling a deprecated version of the Ads API."),
    "permission_200": (403, 200, None, False, "(#200) Permissions error"),
}
# kind -> HTTP status of an HTML page from something in front of Meta (a proxy, a WAF, a wrong URL).
_HTML_PAGES: dict[str, int] = {"html_403": 403, "html_404": 404, "html_502": 502, "html_200": 200}
_HTML = b"<html><head><title>Error</title></head><body><h1>Request blocked</h1></body></html>"
# The Content-Length a trickled answer announces (it never arrives).
_TRICKLE_LENGTH = 1_000_000


@dataclass(frozen=True)
class Fault:
    """One injected fault, consumed in order by the next ``times`` matching requests (``pixel_id`` None = any)."""

    kind: FaultKind
    pixel_id: str | None = None
    times: int = 1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS or self.times < 1:
            raise ValueError(f"invalid fault: {self!r}")


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as it reached the handler; pixel_id/version are None when the path is not the events edge."""

    pixel_id: str | None
    version: str | None
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int
    error_code: int | None
    event_count: int


@dataclass(frozen=True)
class AcceptedEvent:
    """One event of a request answered 200 (and accepted)."""

    pixel_id: str
    event: dict[str, Any]
    test_event_code: str | None


class _GraphError(Exception):
    def __init__(
        self, status: int, code: int, message: str, *, subcode: int | None = None, transient: bool = False
    ):
        super().__init__(message)
        self.status, self.code, self.message, self.subcode, self.transient = (
            status,
            code,
            message,
            subcode,
            transient,
        )

    @classmethod
    def fault(cls, kind: str) -> _GraphError:
        status, code, subcode, transient, message = _FAULTS[kind]
        return cls(status, code, message, subcode=subcode, transient=transient)

    def payload(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": "OAuthException", "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error | {"is_transient": self.transient, "fbtrace_id": _trace_id()}}


class _Raw(Exception):
    """An answer that is not a Graph one: written as is (``trickle``: the body arrives a byte at a time)."""

    def __init__(
        self, status: int, content_type: str, body: bytes, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status, self.content_type, self.body = status, content_type, body
        self.headers = dict(headers or {})
        self.trickle = False


def _trace_id() -> str:
    return "A" + secrets.token_urlsafe(8)


def _invalid(message: str, subcode: int | None = None) -> _GraphError:
    return _GraphError(400, 100, f"(#100) {message}", subcode=subcode)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_event(index: int, event: Any, now: float, poisoned: set[str]) -> None:
    """Meta's per-event checks; raises for the first problem, naming ``data[index]``."""
    at = f"data[{index}]"
    if not isinstance(event, dict):
        raise _invalid(f"{at} must be an object")
    event_id = event.get("event_id")
    if isinstance(event_id, str) and event_id in poisoned:
        raise _invalid(f"Invalid parameter: {at}.event_id {event_id!r} was rejected", SUBCODE_INVALID_EVENT)
    name, source, event_time = event.get("event_name"), event.get("action_source"), event.get("event_time")
    if not isinstance(name, str) or not name or len(name) > MAX_CUSTOM_EVENT_NAME:
        raise _invalid(f"{at}.event_name must be a string of 1..{MAX_CUSTOM_EVENT_NAME} characters")
    if not isinstance(source, str) or source not in ACTION_SOURCES:
        raise _invalid(f"{at}.action_source must be one of {', '.join(sorted(ACTION_SOURCES))}")
    if type(event_time) is not int:
        raise _invalid(f"{at}.event_time must be an integer Unix time in seconds")
    max_age = MAX_PHYSICAL_STORE_EVENT_AGE if source == "physical_store" else MAX_EVENT_AGE
    if event_time < now - max_age.total_seconds():
        message = f"{at}.event_time {event_time} is too far in the past (more than {max_age.days} days old)"
        raise _invalid(message, SUBCODE_STALE_EVENT)
    user = event.get("user_data")
    if not isinstance(user, dict) or not user:
        raise _invalid(f"{at}.user_data must be an object with customer information", SUBCODE_INVALID_EVENT)
    for key in _HASHED_KEYS:
        values = user.get(key, [])
        if not all(isinstance(v, str) and _SHA256_HEX_RE.fullmatch(v) for v in _as_list(values)):
            message = f"{at}.user_data.{key} must be a SHA-256 hash (64 lower-case hex characters) or a list of them"
            raise _invalid(message, SUBCODE_INVALID_EVENT)
    if source == "website":
        for field, value in (
            ("event_source_url", event.get("event_source_url")),
            ("user_data.client_user_agent", user.get("client_user_agent")),
        ):
            if not isinstance(value, str) or not value:
                raise _invalid(f"{at}.{field} is required for website events")
    if name == "Purchase":
        custom = event.get("custom_data")
        custom = custom if isinstance(custom, dict) else {}
        value, currency = custom.get("value"), custom.get("currency")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not currency
            or not isinstance(currency, str)
        ):
            raise _invalid(
                f"{at}.custom_data.value and currency are required for Purchase", SUBCODE_PURCHASE_VALUE
            )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like graph.facebook.com
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        self.server.track(self.connection, add=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines and bodies never reach stderr."""

    def do_POST(self) -> None:
        self.server.emulator._serve(self)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_POST


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, emulator: GraphEmulator, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            (self._connections.add if add else self._connections.discard)(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that went away is not an error
            super().handle_error(request, client_address)


class GraphEmulator:
    """Meta Graph API events edge on 127.0.0.1 (see the module docstring).

    ``requests`` and ``accepted`` are appended under a lock when each answer is decided (just before it is written),
    so a client that has read a response always finds it recorded; concurrent requests appear in completion order.
    """

    def __init__(
        self,
        *,
        access_tokens: dict[str, str] | None = None,
        latency_s: float = 0.0,
        timeout_sleep_s: float = 3.0,
        now: Callable[[], float] = time.time,
        failure_rates: dict[str, float] | None = None,
        seed: int = 0,
        timeout_accepts: bool = False,
        deprecated_versions: set[str] | None = None,
        unsupported_versions: set[str] | None = None,
        refused_tokens: set[str] | None = None,
        port: int = 0,
        trickle_interval_s: float = 0.2,
        redirect_location: str = "https://login.example.invalid/sso",
    ) -> None:
        """``access_tokens`` None accepts any non-empty token; otherwise only listed pixels exist (else code 100/33)."""
        rates = dict(failure_rates or {})
        if any(kind not in FAULT_KINDS or not 0.0 <= rate <= 1.0 for kind, rate in rates.items()):
            raise ValueError(
                f"failure_rates needs kinds from {sorted(FAULT_KINDS)} and rates in [0, 1]: {rates}"
            )
        self.latency_s = latency_s
        self.timeout_sleep_s = timeout_sleep_s
        self.timeout_accepts = timeout_accepts
        self.deprecated_versions = set(deprecated_versions or ())
        # Versions Meta no longer serves: every call with one is answered code 2635.
        self.unsupported_versions = set(unsupported_versions or ())
        # Tokens answered code 190 whatever the pixel (a revoked token, for open emulators too).
        self.refused_tokens = set(refused_tokens or ())
        self.trickle_interval_s = trickle_interval_s
        self.redirect_location = redirect_location
        self.url = ""
        self.requests: list[ReceivedRequest] = []
        self.accepted: list[AcceptedEvent] = []
        self._now, self._rates, self._seed, self._port = now, rates, seed, port
        self._open = access_tokens is None
        self._tokens = dict(access_tokens or {})
        self._rng = random.Random(seed)  # noqa: S311 - reproducible fault injection, not security
        self._faults: list[tuple[Fault, int]] = []
        self._poisoned: set[str] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Start serving (idempotent); returns the base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            self._stopping.clear()
            self._server = _Server(self, self._port)
            self.url = f"http://127.0.0.1:{self._server.socket.getsockname()[1]}"
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
            self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving: wake sleeping handlers, let in-flight requests finish, close connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=5.0)
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> GraphEmulator:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def inject(self, fault: Fault) -> None:
        """Queue ``fault`` after the already queued ones."""
        with self._lock:
            self._faults.append((fault, fault.times))

    def poison(self, *event_ids: str) -> None:
        """Reject (code 100, whole batch) every request containing one of these event_id values."""
        with self._lock:
            self._poisoned.update(event_ids)

    def set_token(self, pixel_id: str, token: str) -> None:
        """Make ``token`` the only valid token of ``pixel_id`` (token rotation)."""
        with self._lock:
            self._tokens[pixel_id] = token

    def accepted_keys(self) -> list[tuple[str, str, str]]:
        """(pixel_id, event_name, event_id) per accepted event, in order; a missing event_id is ``""``."""
        with self._lock:
            events = list(self.accepted)
        return [
            (e.pixel_id, str(e.event.get("event_name")), str(e.event.get("event_id") or "")) for e in events
        ]

    def duplicates(self) -> list[tuple[str, str, str]]:
        """Keys (with an event_id) accepted more than once, in order of first acceptance."""
        counts = Counter(key for key in self.accepted_keys() if key[2])
        return [key for key, count in counts.items() if count > 1]

    def reset(self) -> None:
        """Forget requests, accepted events, queued faults and poisoned ids; reseed the random faults."""
        with self._lock:
            self.requests.clear()
            self.accepted.clear()
            self._faults.clear()
            self._poisoned.clear()
            self._rng = random.Random(self._seed)  # noqa: S311 - as in __init__

    def _next_fault(self, pixel_id: str) -> str | None:
        with self._lock:
            for index, (fault, left) in enumerate(self._faults):
                if fault.pixel_id in (None, pixel_id):
                    if left > 1:
                        self._faults[index] = (fault, left - 1)
                    else:
                        del self._faults[index]
                    return fault.kind
            return next((kind for kind, rate in self._rates.items() if self._rng.random() < rate), None)

    def _serve(self, handler: _Handler) -> None:
        with self._idle:
            self._in_flight += 1
        try:
            self._answer(handler)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _answer(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in handler.headers.items()}
        match = _PATH_RE.fullmatch(split.path) if handler.command == "POST" else None
        read = _OBJECT_RE.fullmatch(split.path) if handler.command == "GET" else None
        found = match or read
        version, pixel_id = (found.group(1), found.group(2)) if found is not None else (None, None)
        body: Any = None
        accepted: list[AcceptedEvent] = []
        raw: _Raw | None = None
        try:
            body = self._read_json(handler, headers)
            if self.latency_s > 0:
                self._stopping.wait(self.latency_s)
            if version is None or pixel_id is None:
                raise _GraphError(404, 803, f"(#803) Unknown path components: {handler.command} {split.path}")
            if version in self.unsupported_versions:
                raise _GraphError.fault("version_2635")
            if read is not None:
                payload = self._pixel(pixel_id, query, headers)
            else:
                payload, accepted = self._events(pixel_id, query, headers, body)
            status = 200
        except _GraphError as error:
            status, payload = error.status, error.payload()
        except _Raw as answer:
            raw, status, payload = answer, answer.status, {}
        except Exception as error:  # never crash on any input: answer like a Graph internal error
            internal = _GraphError(
                500, 1, f"An unknown error occurred ({type(error).__name__})", transient=True
            )
            status, payload = internal.status, internal.payload()
        data = body.get("data") if isinstance(body, dict) else None
        count = len(data) if isinstance(data, list) else 0
        code = payload["error"]["code"] if "error" in payload else None
        record = ReceivedRequest(pixel_id, version, split.path, query, headers, body, status, code, count)
        with self._lock:
            self.requests.append(record)
            self.accepted.extend(accepted)
        if raw is not None:
            self._write_raw(handler, raw)
            return
        extra = {}
        if version in self.deprecated_versions:
            extra[VERSION_WARNING_HEADER] = (
                f"{version} is deprecated; this call was served as {DEFAULT_API_VERSION}"
            )
        self._write(handler, status, payload, extra)

    @staticmethod
    def _read_json(handler: _Handler, headers: dict[str, str]) -> Any:
        """The body parsed as JSON (None if empty or malformed); the body is always consumed or the socket closed."""
        length = headers.get("content-length", "0")
        if "chunked" in headers.get("transfer-encoding", "").lower() or not (
            length.isascii() and length.isdigit()
        ):
            handler.close_connection = True
            raise _GraphError(411, 100, "(#100) A request body needs a valid Content-Length")
        if int(length) > _MAX_BODY_BYTES:
            handler.close_connection = True
            raise _GraphError(413, 100, f"(#100) Request body larger than {_MAX_BODY_BYTES} bytes")
        raw = handler.rfile.read(int(length))
        try:
            return json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            return None

    def _pixel(self, pixel_id: str, query: dict[str, str], headers: dict[str, str]) -> dict[str, Any]:
        """``GET /{version}/{pixel_id}``: the pixel's id and name once the token is accepted for it."""
        if "access_token" in query:
            raise _invalid("access_token is not accepted in the URL: send it in the Authorization header")
        self._fault(pixel_id)
        self._check_token(pixel_id, headers, None)
        return {"id": pixel_id, "name": f"Emulated pixel {pixel_id}"}

    def _check_token(self, pixel_id: str, headers: dict[str, str], body: Any) -> None:
        """Code 190 without a token or with another pixel's, 100/33 for a pixel the tokens do not list."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if not token and isinstance(body, dict) and isinstance(body.get("access_token"), str):
            token = body["access_token"].strip()
        with self._lock:
            expected = self._tokens.get(pixel_id)
        if not token:
            raise _GraphError(400, 190, "An access token is required to request this resource.")
        if token in self.refused_tokens:
            raise _GraphError(400, 190, "Error validating access token: Session has expired.", subcode=463)
        if expected is None and not self._open:
            message = f"Unsupported post request. Object with ID '{pixel_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
            raise _GraphError(400, 100, message, subcode=33)
        if expected is not None and token != expected:
            raise _GraphError(
                400, 190, "Error validating access token: The session has been invalidated.", subcode=460
            )

    def _events(
        self, pixel_id: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[dict[str, Any], list[AcceptedEvent]]:
        if "access_token" in query:
            raise _invalid(
                "access_token is not accepted in the URL: send it in the Authorization header or body"
            )
        fault = self._fault(pixel_id)
        self._check_token(pixel_id, headers, body)
        with self._lock:
            poisoned = set(self._poisoned)
        if headers.get("content-type", "").partition(";")[0].strip().lower() != "application/json":
            raise _invalid("The request body must be JSON with Content-Type: application/json")
        if not isinstance(body, dict):
            raise _invalid("The request body must be a valid JSON object")
        data, test_event_code = body.get("data"), body.get("test_event_code")
        if not isinstance(data, list) or not data:
            raise _invalid("The parameter data is required: a non-empty array of events")
        if len(data) > MAX_EVENTS_PER_REQUEST:
            raise _invalid(
                f"The parameter data has {len(data)} events; the maximum is {MAX_EVENTS_PER_REQUEST}"
            )
        if test_event_code is not None and not isinstance(test_event_code, str):
            raise _invalid("The parameter test_event_code must be a string")
        now = self._now()
        for index, event in enumerate(data):
            _check_event(index, event, now, poisoned)
        payload = {"events_received": len(data), "messages": [], "fbtrace_id": _trace_id()}
        if fault == "received_none":
            return payload | {"events_received": 0}, []
        if fault == "timeout" and not self.timeout_accepts:
            return payload, []
        return payload, [AcceptedEvent(pixel_id, event, test_event_code) for event in data]

    def _fault(self, pixel_id: str) -> str | None:
        """The next fault: raised when it replaces the answer, else returned (timeout, received_none)."""
        fault = self._next_fault(pixel_id)
        if fault == "timeout":
            self._stopping.wait(self.timeout_sleep_s)
        elif fault in _FAULTS:
            raise _GraphError.fault(fault)
        elif fault is not None and fault != "received_none":
            raise self._not_meta(fault)
        return fault

    def _not_meta(self, fault: str) -> _Raw:
        if fault == "redirect_302":
            return _Raw(302, "text/html", _HTML, headers={"Location": self.redirect_location})
        if fault == "trickle":
            answer = _Raw(200, "application/json", b"")
            answer.trickle = True
            return answer
        return _Raw(_HTML_PAGES[fault], "text/html; charset=utf-8", _HTML)

    def _write_raw(self, handler: _Handler, answer: _Raw) -> None:
        length = _TRICKLE_LENGTH if answer.trickle else len(answer.body)
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", answer.content_type)
            handler.send_header("Content-Length", str(length))
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if not answer.trickle:
                handler.wfile.write(answer.body)
                return
            handler.close_connection = True  # the announced body never completes
            handler.wfile.flush()
            while not self._stopping.wait(self.trickle_interval_s):
                handler.wfile.write(b" ")
                handler.wfile.flush()
        except OSError:  # the client went away (it gave up on the trickle)
            handler.close_connection = True

    @staticmethod
    def _write(handler: _Handler, status: int, payload: dict[str, Any], extra: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=UTF-8")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                handler.send_header(name, value)
            if handler.close_connection:
                handler.send_header("Connection", "close")
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(data)
        except OSError:  # the client went away (e.g. it timed out)
            handler.close_connection = True
