"""`relay local serve`: the admin API and the collector on 127.0.0.1 over the embedded stack, with a
deliver worker (and, with `demo`, a demo shop page at /demo/ sending through the local collector).

Each HTTP request becomes an API Gateway HTTP API (payload v2) event for the real handler — the admin
API's (`relay.api.app.handle`) under /v1/admin, the collector's (`relay.collector.app.handle`) for the
other /v1 routes — and its answer goes back as the HTTP response; the stack is moto with the
template's resources, Meta is the Graph emulator unless a Graph URL is given, and a background thread
plays the SQS event source mapping (it drains the events queue, redriven messages included).
Dev only: nothing shipped imports this module.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from relay.api.auth import generate_token
from relay.console import is_console
from relay.local.graph import GraphEmulator
from relay.local.stack import ACCOUNT, LocalStack, Totals

DEFAULT_PORT = 8084  # the product description's curl examples use http://localhost:8084
HOST = "127.0.0.1"
ADMIN_PREFIX = "/v1/admin"
COLLECT_PREFIX = "/v1/"
DEMO_PATH = "/demo/"
CONSOLE_PATH = "/console/"
DEMO_PAGE = Path(__file__).resolve().parent / "static" / "demo" / "index.html"
WRITE_KEY_PLACEHOLDER = "__WRITE_KEY__"
DEMO_SOURCE = "demo"
DEMO_INTEGRATION = "demo-meta"
DEMO_PIXEL = "1234567890"
# Bodies above this are answered 413 unread (API Gateway's own cap is 10 MB; the admin API's is 64 KB).
MAX_READ_BYTES = 1024 * 1024
# Access tokens the built-in emulator refuses (code 190), to see a refused token end to end; it accepts
# any other non-empty token.
REFUSED_TOKENS = frozenset({"expired_access_token", "revoked_access_token"})
WORKER_IDLE_S = 0.5


class PortInUse(OSError):
    """The port is taken: another `relay local serve`, or another program."""


class LocalServer:
    """The admin API on HOST:`port` (0: any free port) with the deliver worker. Use as a context manager
    or start() / stop(). `admin_token` None reads RELAY_ADMIN_TOKEN, else generates one (`generated`)."""

    def __init__(
        self,
        *,
        port: int = DEFAULT_PORT,
        graph_url: str | None = None,
        admin_token: str | None = None,
        worker_idle_s: float = WORKER_IDLE_S,
        demo: bool = False,
        on_meta: Callable[[str], None] | None = None,
    ) -> None:
        from_env = (os.environ.get("RELAY_ADMIN_TOKEN") or "").strip()
        self.admin_token = admin_token or from_env or generate_token()
        self.generated = not (admin_token or from_env)
        self._port = port
        self._graph_url = graph_url
        self._idle_s = worker_idle_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: _Server | None = None
        self._graph: GraphEmulator | None = None
        self.stack: LocalStack | None = None
        self.totals = Totals()
        self.url = ""
        self.graph_url = ""
        self.worker_errors = 0
        self.demo = demo
        self._on_meta = on_meta
        self._reported = 0
        self.write_key: str | None = None

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> str:
        """Start the stack, the emulator (unless a Graph URL was given), the worker and the server."""
        from relay.api.app import handle
        from relay.apps.admin import build_deps
        from relay.apps.collect import build_deps as collector_deps
        from relay.collector.app import handle as collect

        try:
            server = _Server((HOST, self._port), _Handler)
        except OSError as exc:
            raise PortInUse(f"cannot listen on {HOST}:{self._port} ({exc.strerror or exc})") from None
        self.stack = stack = LocalStack().__enter__()
        if self._graph_url is None:
            self._graph = GraphEmulator(refused_tokens=set(REFUSED_TOKENS))
            self.graph_url = self._graph.start()
        else:
            self.graph_url = self._graph_url
        deliver_settings = stack.settings(self.graph_url)
        self._server = server
        self.url = f"http://{HOST}:{server.server_address[1]}"
        admin_deps = build_deps(
            stack.admin_settings(self.graph_url, self.admin_token, collector_url=self.url),
            clients=stack.clients,
        )
        # No EMF metrics outside Lambda: nothing would flush them but a full buffer, onto the console.
        collect_deps = collector_deps(stack.collect_settings(), clients=stack.clients, count=_uncounted)
        if self.demo:
            self.write_key = self._demo_source(stack, deliver_settings)
        page = self._demo_page()

        admin_lock = threading.Lock()

        def answer(event: dict[str, Any]) -> dict[str, Any]:
            path = str(event.get("rawPath") or "")
            if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/") or is_console(path):
                # One at a time, as a Lambda container takes them: the resolver keeps the current
                # request's state on itself (the console's parallel fetches would mix them up).
                with admin_lock:
                    return handle(event, None, deps=admin_deps)
            if path.startswith(COLLECT_PREFIX):
                return collect(event, collect_deps)
            if page is not None and path in (DEMO_PATH, DEMO_PATH.rstrip("/"), "/"):
                if path != DEMO_PATH:
                    return {"statusCode": 302, "headers": {"Location": DEMO_PATH}, "body": ""}
                return {
                    "statusCode": 200,
                    "headers": {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
                    "body": page,
                }
            if path == "/":
                return {"statusCode": 302, "headers": {"Location": CONSOLE_PATH}, "body": ""}
            return _not_found()

        server.answer = answer
        deliver = stack.deps(deliver_settings)
        self._spawn("relay-deliver-worker", lambda: self._work(stack, deliver))
        self._spawn("relay-admin-http", lambda: server.serve_forever(poll_interval=0.1))
        return self.url

    def _demo_source(self, stack: LocalStack, settings: Any) -> str:
        """The demo shop's source (its origin allowed) and a Meta integration on it; its write key."""
        from relay.integrations import IntegrationInput
        from relay.local.runner import THROWAWAY_TOKEN
        from relay.sources import SourceInput, SourceStore

        port = self.url.rsplit(":", 1)[1]
        origins = [self.url, f"http://localhost:{port}"]
        store = SourceStore(stack.dynamodb, stack.collect_settings().sources_table)
        issued = store.create(SourceInput(id=DEMO_SOURCE, name="Demo shop", allowed_origins=origins))
        stack.add_integration(
            IntegrationInput.model_validate(
                {
                    "id": DEMO_INTEGRATION,
                    "source_id": DEMO_SOURCE,
                    "name": "Demo shop → Meta (emulator)",
                    "variant": "retail",
                    "consent_categories": ["advertising"],
                    "config": {"pixel_id": DEMO_PIXEL, "access_token": THROWAWAY_TOKEN},
                }
            ),
            settings,
        )
        return issued.write_key

    def _demo_page(self) -> str | None:
        if not self.demo or self.write_key is None:
            return None
        return DEMO_PAGE.read_text(encoding="utf-8").replace(WRITE_KEY_PLACEHOLDER, self.write_key)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self, stack: LocalStack, deps: Any) -> None:
        """The event source mapping: drain the events queue, then wait a moment, until stopped."""
        while not self._stop.is_set():
            try:
                stack.drain(stack.events_queue_url, deps, self.totals)
            except Exception:  # a dev server keeps serving; the count is shown on stop
                self.worker_errors += 1
            self._report()
            self._stop.wait(self._idle_s)

    def stop(self) -> None:
        """Stop the server and the worker, then the emulator and the stack (idempotent)."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        if self._graph is not None:
            self._graph.stop()
            self._graph = None
        if self.stack is not None:
            self.stack.__exit__(None, None, None)
            self.stack = None

    def _report(self) -> None:
        """Tell `on_meta` about each event the built-in emulator accepted since the last report."""
        if self._on_meta is None or self._graph is None:
            return
        accepted = self._graph.accepted[self._reported :]
        self._reported += len(accepted)
        for item in accepted:
            event = item.event
            users = event.get("user_data") or {}
            self._on_meta(
                f"Meta received {event.get('event_name')} (pixel {item.pixel_id}, event_id "
                f"{event.get('event_id')}): user_data[{', '.join(sorted(users))}]"
                + (f" fbc={users['fbc']}" if "fbc" in users else "")
            )

    @property
    def emulator(self) -> GraphEmulator | None:
        """The built-in Graph emulator (None when a Graph URL was given)."""
        return self._graph

    def banner(self) -> list[str]:
        """What `relay local serve` prints once started (the token only when it generated one)."""
        lines = [
            f"Console           {self.url}{CONSOLE_PATH}  (sign in with the admin token below)",
            f"Relay admin API   {self.url}{ADMIN_PREFIX}/integrations",
            f"Collector         {self.url}/v1/track  (Segment HTTP API; the tag at {self.url}/v1/df.js)",
        ]
        if self.write_key is not None:
            lines += [
                f"Demo shop         {self.url}{DEMO_PATH}  (source {DEMO_SOURCE!r}, retail → pixel {DEMO_PIXEL})",
                f"Demo write key    {self.write_key}",
                "                  each event Meta receives is printed below",
            ]
        lines += [
            f"OpenAPI document  {self.url}{ADMIN_PREFIX}/openapi.json",
            f"Meta Graph API    {self.graph_url}"
            + (
                f"  (built-in emulator: any token but {', '.join(sorted(REFUSED_TOKENS))})"
                if self._graph is not None
                else ""
            ),
        ]
        if self.generated:
            lines.append(
                f"Admin token       {self.admin_token}  (generated; set RELAY_ADMIN_TOKEN to choose one)"
            )
        else:
            lines.append("Admin token       from RELAY_ADMIN_TOKEN")
        lines.append("Stop with Ctrl-C.")
        return lines


def http_api_event(
    method: str, target: str, headers: dict[str, str], body: bytes, *, source_ip: str, request_id: str
) -> dict[str, Any]:
    """The API Gateway HTTP API (payload v2) event for one HTTP request (`target`: path and query)."""
    parts = urlsplit(target)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query: dict[str, str] = {}
    for key, value in pairs:
        query[key] = f"{query[key]},{value}" if key in query else value  # API Gateway joins repeats with ","
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": headers,
        "queryStringParameters": query or None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": headers.get("host", HOST),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    answer: Callable[[dict[str, Any]], dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    server_version = "relay-local"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None  # no request lines on the console: paths can carry ids, bodies tokens

    def _any(self) -> None:
        length = self.headers.get("Content-Length")
        try:
            size = int(length) if length else 0
        except ValueError:
            size = -1
        if size < 0 or size > MAX_READ_BYTES:
            self.close_connection = True
            self._reply(413 if size > 0 else 400, {}, _problem(413 if size > 0 else 400), "application/json")
            return
        body = self.rfile.read(size) if size else b""
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            name = key.lower()
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        event = http_api_event(
            self.command,
            self.path,
            headers,
            body,
            source_ip=self.client_address[0],
            request_id=uuid.uuid4().hex,
        )
        answer = self.server.answer(event)
        raw = answer.get("body") or ""
        data = base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode("utf-8")
        reply: dict[str, Any] = dict(answer.get("headers") or {})
        if answer.get("cookies"):  # payload v2 answers carry Set-Cookie values in `cookies`
            reply["Set-Cookie"] = list(answer["cookies"])
        self._reply(int(answer["statusCode"]), reply, data, None)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any

    def _reply(self, status: int, headers: dict[str, Any], body: bytes, content_type: str | None) -> None:
        self.send_response(status)
        sent = {k.lower() for k in headers}
        for key, value in headers.items():
            for item in value if isinstance(value, list) else [value]:
                self.send_header(key, str(item))
        if content_type and "content-type" not in sent:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _uncounted(name: str, value: int) -> None:
    return None


def _not_found() -> dict[str, Any]:
    return {
        "statusCode": 404,
        "headers": {"Content-Type": "application/json"},
        "body": _problem(404).decode(),
    }


def _problem(status: int) -> bytes:
    phrase = HTTPStatus(status).phrase
    code = {400: "invalid_body", 404: "not_found", 413: "payload_too_large"}[status]
    message = {
        400: "a bad Content-Length",
        404: f"no such route (the admin API is under {ADMIN_PREFIX}, the collector under {COLLECT_PREFIX})",
    }.get(status, f"the body is over {MAX_READ_BYTES:,} bytes")
    return json.dumps(
        {
            "error": {
                "status": status,
                "code": code,
                "message": f"{phrase}: {message}",
                "fields": [],
                "correlation_id": None,
            }
        }
    ).encode()
