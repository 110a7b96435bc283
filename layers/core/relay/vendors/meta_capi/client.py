"""The Graph API client: one POST per GraphRequest (and GET reads of an object, for health checks), the
token in the Authorization header, a total deadline.

urllib3's timeouts bound each socket operation, not a call: an answer trickled a byte at a time keeps a
read alive forever. So every call gets a deadline (its budget, at most CALL_TIMEOUT_S) and a watch: a
timer that shuts the call's socket down when the deadline passes, which wakes a blocked read at once
whatever phase it is in (status line, headers or body). Connecting and the TLS handshake happen before
the socket is watched; each is bounded in total by the connect timeout (CPython's handshake keeps its
own deadline), set to at most half the budget. The host name is resolved before that, by the system's
resolver with its own timeouts (Lambda's resolver answers from a local cache): not under the deadline. A call cut at its deadline is a retryable error.

Redirects are never followed (the Authorization header must never travel to another host), and an
answer is read up to MAX_ANSWER_BYTES: Meta's are far smaller.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from contextvars import ContextVar
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import HTTPResponse

from relay.outbound import Receipt
from relay.vendors.meta_capi.errors import classify, network_error, not_graph, trace_id
from relay.vendors.meta_capi.limits import (
    CALL_TIMEOUT_S,
    CONNECT_TIMEOUT_S,
    GRAPH_URL,
    MAX_ANSWER_BYTES,
    READ_TIMEOUT_S,
)
from relay.vendors.meta_capi.request import GraphRequest

POOL_SIZE = 10
VERSION_WARNING_HEADER = "X-Ad-Api-Version-Warning"
USER_AGENT = "relay/0.1 (+https://github.com/)"


class _Watch:
    """One call's deadline: when it passes, the socket the call uses is shut down (or, if none is in use
    yet, the next one attached is)."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.fired = False
        self._sock: socket.socket | None = None
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(budget_s, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watch:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            self._sock = None

    def attach(self, sock: Any) -> None:
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sock = sock
            late = self.fired and not self._done
        if late:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            sock = self._sock
        if sock is not None:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for an SSLSocket: it wakes the reader blocked on the descriptor
    # without touching the TLS object that reader is using (SSLSocket.shutdown would drop it under it).
    with contextlib.suppress(OSError):  # already closed: nothing is blocked on it
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


# The watch of the call running in this thread (jobs of several integrations run in parallel threads).
_WATCH: ContextVar[_Watch | None] = ContextVar("graph_call_watch", default=None)


def _attach(sock: Any) -> None:
    watch = _WATCH.get()
    if watch is not None:
        watch.attach(sock)


class _WatchedHTTPConnection(HTTPConnection):
    """Hands its socket to the running call's watch: once connected, and again before each answer is
    read (a kept-alive connection is reused without connecting)."""

    def connect(self) -> None:
        super().connect()
        _attach(self.sock)

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3 declares it
        _attach(self.sock)
        return super().getresponse()


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class GraphClient:
    """Sends request bodies to `{base_url}/{version}/{pixel_id}/events`; never puts the token in the URL."""

    def __init__(
        self,
        base_url: str = GRAPH_URL,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        read_timeout: float = READ_TIMEOUT_S,
        call_timeout: float = CALL_TIMEOUT_S,
        ca_certs: str | None = None,
    ) -> None:
        """`ca_certs`: a CA bundle file to verify an https server with (default: the system's CAs)."""
        self.base_url = base_url.rstrip("/")
        url = urllib3.util.parse_url(self.base_url)
        if url.host is None or url.scheme not in ("http", "https"):
            raise ValueError("base_url: expected an http(s) URL with a host")
        self._prefix = (url.path or "").rstrip("/")
        self._pool: HTTPConnectionPool
        if url.scheme == "https":
            self._pool = _TLSPool(url.host, url.port, maxsize=POOL_SIZE, retries=False, ca_certs=ca_certs)
        else:
            self._pool = _Pool(url.host, url.port, maxsize=POOL_SIZE, retries=False)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self.call_timeout = call_timeout

    def send(self, request: GraphRequest, *, token: str, budget_s: float = CALL_TIMEOUT_S) -> Receipt:
        """POST one request within `budget_s` seconds in total (capped at `call_timeout`).

        Returns a Receipt on a 2xx answer with Meta's JSON; raises GraphError (see `.retryable`) otherwise:
        RETRY for a network error or the deadline, TRANSPORT for an answer that is not Meta's.
        """
        path = f"{self._prefix}/{request.api_version}/{request.pixel_id}/events"
        status, answer_headers, data, latency = self._call("POST", path, request.body, token, budget_s)
        return _receipt(request, status, answer_headers, data, latency)

    def read_object(
        self, object_id: str, *, api_version: str, token: str, budget_s: float = CALL_TIMEOUT_S
    ) -> dict[str, Any]:
        """GET `/{api_version}/{object_id}` (a pixel: its id and name), token in the header.

        Returns Meta's JSON object on a 2xx answer; raises GraphError as `send` does otherwise."""
        path = f"{self._prefix}/{api_version}/{object_id}"
        status, answer_headers, data, _ = self._call("GET", path, None, token, budget_s)
        body, content_type = _success_json(status, answer_headers, data)
        if not isinstance(body, dict):
            raise not_graph(status, content_type, "no JSON object in a success")
        return body

    def _call(
        self, method: str, path: str, body: bytes | None, token: str, budget_s: float
    ) -> tuple[int, Any, bytes | None, float]:
        """One request within `budget_s` (capped at `call_timeout`): (status, headers, body, latency)."""
        budget = min(budget_s, self.call_timeout)
        if budget <= 0:  # (a zero socket timeout would mean non-blocking, not "no time")
            raise network_error("no time left for a call")
        headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        # Connect and TLS handshake each take at most the connect timeout: half the budget at most.
        timeout = urllib3.Timeout(
            connect=min(self._connect_timeout, budget / 2), read=min(self._read_timeout, budget)
        )
        started = time.perf_counter()
        with _Watch(budget) as watch:
            context = _WATCH.set(watch)
            try:
                status, answer_headers, data = self._request(method, path, body, headers, timeout)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if watch.fired:
                    raise network_error(f"deadline of {budget:.1f} s passed") from None
                raise network_error(type(exc).__name__) from None
            finally:
                _WATCH.reset(context)
            if watch.fired:  # the answer may have been cut short where no length told
                raise network_error(f"deadline of {budget:.1f} s passed")
        return status, answer_headers, data, time.perf_counter() - started

    def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str], timeout: urllib3.Timeout
    ) -> tuple[int, Any, bytes | None]:
        """(status, headers, body or None when longer than MAX_ANSWER_BYTES); the connection is reused
        only after a whole answer was read."""
        response = self._pool.urlopen(
            method,
            path,
            body=body,
            headers=headers,
            timeout=timeout,
            retries=False,
            redirect=False,
            preload_content=False,
        )
        complete = False
        try:
            data = response.read(MAX_ANSWER_BYTES + 1)
            complete = len(data) <= MAX_ANSWER_BYTES
        finally:
            if not complete:  # an error or an oversized answer: the rest is unread, the connection unusable
                response.close()  # (the pool reconnects this slot on its next use)
            response.release_conn()
        return response.status, response.headers, data if complete else None


def _success_json(status: int, headers: Any, data: bytes | None) -> tuple[Any, str]:
    """A 2xx answer's decoded JSON (None when not JSON) and media type; raises the GraphError of any
    other answer, or of one longer than MAX_ANSWER_BYTES."""
    content_type = str(headers.get("Content-Type", ""))
    if data is None:
        raise not_graph(status, content_type, f"answer longer than {MAX_ANSWER_BYTES} bytes")
    try:
        body = json.loads(data) if data else None
    except (ValueError, RecursionError):
        body = None
    if not 200 <= status < 300:
        raise classify(status, body, content_type=content_type)
    return body, content_type


def _receipt(request: GraphRequest, status: int, headers: Any, data: bytes | None, latency: float) -> Receipt:
    body, content_type = _success_json(status, headers, data)
    if not isinstance(body, dict) or type(body.get("events_received")) is not int:
        raise not_graph(status, content_type, "no events_received in a success")
    received: int = body["events_received"]
    messages = body.get("messages") or []
    trace = body.get("fbtrace_id")
    return Receipt(
        pixel_id=request.pixel_id,
        events_received=received,
        fbtrace_id=trace_id(trace),
        messages=tuple(str(m) for m in messages) if isinstance(messages, list) else (),
        version_warning=headers.get(VERSION_WARNING_HEADER),
        latency_s=latency,
    )
