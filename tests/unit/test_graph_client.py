"""relay.vendors.meta_capi.client.GraphClient over loopback: a total deadline per call whatever the server
does, redirects never followed, and answers that are not Meta's classified TRANSPORT."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from relay.local.graph import Fault, GraphEmulator
from relay.outbound import ErrorKind, SendError
from relay.vendors.meta_capi import client as client_module
from relay.vendors.meta_capi.client import GraphClient
from relay.vendors.meta_capi.request import GraphRequest

PIXEL = "1234567890"
TOKEN = "token-valid"
# What a call may take past its deadline: waking the blocked read and raising.
SLACK_S = 0.3
# A request body the emulator accepts only when it is past its checks: faults answer before them.
REQUEST = GraphRequest(pixel_id=PIXEL, body=b'{"data": [{"event_name": "Lead"}]}', events=())


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with GraphEmulator(access_tokens={PIXEL: TOKEN}, trickle_interval_s=0.2) as emulator:
        yield emulator


class Server:
    """A raw loopback TCP server: `serve(connection)` runs for every connection, in its own thread."""

    def __init__(self, serve: Callable[[socket.socket], object], *, read_first: bool = True) -> None:
        self._serve = serve
        self._read_first = read_first
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections = 0
        self.received: list[bytes] = []
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self._listener.accept()
                self.connections += 1
                threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError, ssl.SSLError):
            if self._read_first:
                self.received.append(connection.recv(65536))
            self._serve(connection)

    def close(self) -> None:
        self.stop.set()
        self._listener.close()


@contextlib.contextmanager
def server(serve: Callable[[socket.socket], object], *, read_first: bool = True) -> Iterator[Server]:
    running = Server(serve, read_first=read_first)
    try:
        yield running
    finally:
        running.close()


def _timed(call: Callable[[], object]) -> tuple[SendError, float]:
    started = time.monotonic()
    with pytest.raises(SendError) as raised:
        call()
    return raised.value, time.monotonic() - started


def test_an_accepted_request_returns_the_receipt_with_the_token_only_in_the_header(graph):
    # GIVEN the emulator accepting any valid event
    client = GraphClient(graph.url)
    request = GraphRequest(pixel_id=PIXEL, body=graph_body(), events=())
    # WHEN sent
    receipt = client.send(request, token=TOKEN, budget_s=5.0)
    # THEN Meta's count comes back; the token travelled in the Authorization header only
    assert (receipt.pixel_id, receipt.events_received) == (PIXEL, 1)
    assert graph.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in graph.requests[0].path


def test_a_body_trickled_forever_is_cut_at_the_deadline_as_a_retryable_timeout(graph):
    # GIVEN a 200 whose body arrives one byte every 0.2 s, forever
    graph.inject(Fault("trickle"))
    client = GraphClient(graph.url)
    # WHEN sent with a 1 s budget
    error, elapsed = _timed(lambda: client.send(REQUEST, token=TOKEN, budget_s=1.0))
    # THEN it returns a retryable timeout at the deadline (+ slack), not after the 10 s read timeout
    assert (error.kind, error.status, error.message) == (ErrorKind.RETRY, None, "deadline of 1.0 s passed")
    assert 1.0 <= elapsed < 1.0 + SLACK_S
    # AND the cut connection is not reused: the next call is answered normally
    assert client.send(GraphRequest(PIXEL, graph_body(), ()), token=TOKEN, budget_s=5.0).events_received == 1


def test_headers_trickled_forever_are_cut_at_the_deadline_too():
    # GIVEN a server that answers a status line then one header byte every 0.2 s, forever
    def trickle(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        while not running.stop.wait(0.2):
            connection.sendall(b"X")

    with server(trickle) as running:
        client = GraphClient(running.url)
        # WHEN sent with a 0.8 s budget
        error, elapsed = _timed(lambda: client.send(REQUEST, token=TOKEN, budget_s=0.8))
    # THEN a retryable timeout at the deadline
    assert (error.kind, error.message) == (ErrorKind.RETRY, "deadline of 0.8 s passed")
    assert 0.8 <= elapsed < 0.8 + SLACK_S


def test_the_budget_never_exceeds_the_clients_call_timeout():
    # GIVEN a server that never answers, and a client whose calls may take 0.5 s at most
    with server(lambda connection: running.stop.wait(5.0)) as running:
        client = GraphClient(running.url, call_timeout=0.5)
        # WHEN sent with a 30 s budget
        error, elapsed = _timed(lambda: client.send(REQUEST, token=TOKEN, budget_s=30.0))
    # THEN the call ends at the client's cap (a read timeout, retryable)
    assert error.kind is ErrorKind.RETRY
    assert 0.5 <= elapsed < 0.5 + SLACK_S


def test_a_redirect_is_not_followed_and_the_token_never_reaches_its_target(graph):
    # GIVEN a 302 whose Location is another loopback server
    with server(
        lambda connection: connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    ) as target:
        graph.redirect_location = f"{target.url}/v25.0/{PIXEL}/events"
        graph.inject(Fault("redirect_302"))
        # WHEN sent
        error, _ = _timed(lambda: GraphClient(graph.url).send(REQUEST, token=TOKEN, budget_s=5.0))
        time.sleep(0.1)
        # THEN a TRANSPORT error for the 302, and the target never saw a connection
        assert target.connections == 0
    assert (error.kind, error.status) == (ErrorKind.TRANSPORT, 302)
    assert error.summary() == "http 302, not a Graph answer: redirect not followed (text/html)"
    assert len(graph.requests) == 1


@pytest.mark.parametrize(
    ("kind", "status", "what"),
    [
        ("html_403", 403, "no Graph error object"),
        ("html_404", 404, "no Graph error object"),
        ("html_502", 502, "no Graph error object"),
        ("html_200", 200, "no events_received in a success"),
    ],
)
def test_an_html_page_is_a_transport_error_whatever_its_status(graph, kind, status, what):
    # GIVEN an HTML page from something in front of Meta
    graph.inject(Fault(kind))
    # WHEN sent
    error, _ = _timed(lambda: GraphClient(graph.url).send(REQUEST, token=TOKEN, budget_s=5.0))
    # THEN TRANSPORT with the status and the media type: never INVALID (it would be bisected)
    assert (error.kind, error.status, error.code) == (ErrorKind.TRANSPORT, status, None)
    assert error.summary() == f"http {status}, not a Graph answer: {what} (text/html)"


def test_a_graph_error_object_is_still_classified_by_its_code(graph):
    # GIVEN Meta's code 100 answer / WHEN sent
    graph.inject(Fault("invalid_100"))
    error, _ = _timed(lambda: GraphClient(graph.url).send(REQUEST, token=TOKEN, budget_s=5.0))
    # THEN INVALID, as before
    assert (error.kind, error.status, error.code, error.subcode) == (ErrorKind.INVALID, 400, 100, 2804050)


def test_an_answer_longer_than_the_cap_is_not_read_further(graph, monkeypatch):
    # GIVEN answers capped at 16 bytes (Meta's success is longer)
    monkeypatch.setattr(client_module, "MAX_ANSWER_BYTES", 16)
    # WHEN a valid request is sent
    error, _ = _timed(lambda: GraphClient(graph.url).send(GraphRequest(PIXEL, graph_body(), ()), token=TOKEN))
    # THEN TRANSPORT naming the cap
    assert (error.kind, error.status) == (ErrorKind.TRANSPORT, 200)
    assert error.message == "not a Graph answer: answer longer than 16 bytes (application/json)"


def test_a_success_counting_fewer_events_is_returned_as_meta_said(graph):
    # GIVEN a success with events_received 0 / WHEN sent
    graph.inject(Fault("received_none"))
    receipt = GraphClient(graph.url).send(GraphRequest(PIXEL, graph_body(), ()), token=TOKEN, budget_s=5.0)
    # THEN the receipt carries Meta's count (delivery decides what it means)
    assert receipt.events_received == 0


def test_a_refused_connection_is_a_retryable_network_error():
    # GIVEN a port nobody listens on
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()
    # WHEN sent / THEN retryable, no status, the error class named
    error, _ = _timed(lambda: GraphClient(url).send(REQUEST, token=TOKEN, budget_s=2.0))
    assert (error.kind, error.status, error.message) == (ErrorKind.RETRY, None, "NewConnectionError")


def graph_body() -> bytes:
    """One event the emulator accepts (a website Lead, a minute old)."""
    event = {
        "event_name": "Lead",
        "event_time": int(time.time()) - 60,
        "action_source": "website",
        "event_source_url": "https://shop.example.com/",
        "event_id": "e-1",
        "user_data": {"client_user_agent": "Mozilla/5.0 Test/1.0", "client_ip_address": "2001:db8::1"},
    }
    return json.dumps({"data": [event]}).encode()


def test_no_time_left_means_no_call(graph):
    # GIVEN a budget of zero / WHEN sent / THEN a retryable error and no request reached the server
    error, elapsed = _timed(lambda: GraphClient(graph.url).send(REQUEST, token=TOKEN, budget_s=0.0))
    assert (error.kind, error.message) == (ErrorKind.RETRY, "no time left for a call")
    assert graph.requests == []
    assert elapsed < 0.1


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> tuple[ssl.SSLContext, str]:
    """A server TLS context for 127.0.0.1 (a throwaway self-signed certificate) and its CA file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2020, 1, 1))
        .not_valid_after(datetime.datetime(2100, 1, 1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context, str(folder / "cert.pem")


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_over_tls_a_trickled_answer_is_cut_at_the_deadline_too(tls, headers_too):
    # GIVEN an https server trickling (after the headers, or through them) one byte every 0.2 s forever
    context, ca_file = tls

    def trickle(connection: socket.socket) -> None:
        with context.wrap_socket(connection, server_side=True) as secure:
            secure.recv(65536)
            head = b"HTTP/1.1 200 OK\r\n" + (b"" if headers_too else b"Content-Length: 100000\r\n\r\n")
            secure.sendall(head)
            while not running.stop.wait(0.2):
                secure.sendall(b"X")

    with server(trickle, read_first=False) as running:
        client = GraphClient(running.url.replace("http://", "https://"), ca_certs=ca_file)
        # WHEN sent with a 1 s budget
        error, elapsed = _timed(lambda: client.send(REQUEST, token=TOKEN, budget_s=1.0))
    # THEN the TLS socket was shut down under the blocked read: a retryable timeout at the deadline
    assert (error.kind, error.message) == (ErrorKind.RETRY, "deadline of 1.0 s passed")
    assert 1.0 <= elapsed < 1.0 + SLACK_S


def test_a_whole_answer_leaves_the_connection_for_the_next_call_and_a_cut_one_does_not(monkeypatch):
    # GIVEN a keep-alive server answering Meta's success to every request on a connection
    answer = b'{"events_received": 1, "messages": [], "fbtrace_id": "T"}'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(answer)

    def keep_alive(connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        while True:  # one whole request (headers, then Content-Length bytes), then one answer
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if not line:
                return
            reader.read(length)
            connection.sendall(head + answer)

    with server(keep_alive, read_first=False) as running:
        client = GraphClient(running.url)
        # WHEN two calls are made, then one whose answer is over the cap, then another
        first = client.send(REQUEST, token=TOKEN, budget_s=2.0)
        second = client.send(REQUEST, token=TOKEN, budget_s=2.0)
        reused = running.connections
        monkeypatch.setattr(client_module, "MAX_ANSWER_BYTES", 8)
        error, _ = _timed(lambda: client.send(REQUEST, token=TOKEN, budget_s=2.0))
        monkeypatch.undo()
        third = client.send(REQUEST, token=TOKEN, budget_s=2.0)
    # THEN the first two shared one connection; the cut answer's connection was dropped, not reused
    assert (first.events_received, second.events_received, third.events_received) == (1, 1, 1)
    assert reused == 1
    assert error.kind is ErrorKind.TRANSPORT
    assert running.connections == 2
