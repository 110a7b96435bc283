"""`relay local run` / `relay local demo` through the command line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from relay.cli import main
from tests.support import EVENTS


class _ForeignGraph(BaseHTTPRequestHandler):
    """A Graph look-alike that is not ours: records every request and accepts it."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        answer = json.dumps(
            {"events_received": len(body["data"]), "messages": [], "fbtrace_id": "x"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def foreign_graph() -> Iterator[str]:
    _ForeignGraph.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForeignGraph)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_local_run_against_a_foreign_graph_server(foreign_graph, capsys, tmp_path):
    # GIVEN the retail samples, made fresh, and a Graph server that is not Relay's emulator
    from datetime import UTC, datetime

    from relay.local.runner import read_bodies, rebase

    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(rebase(read_bodies(EVENTS / "retail.json"), datetime.now(UTC))) + "\n")
    # WHEN relay local run delivers them
    code = main(
        [
            "local",
            "run",
            "--events",
            str(events),
            "--graph-url",
            foreign_graph,
            "--variant",
            "retail",
            "--pixel-id",
            "555",
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    # THEN the summary adds up and the server saw each event exactly once, in one batch, token in the header only
    assert code == 0
    assert summary == {"accepted": 5, "delivered": 5, "skipped": {}, "dead_lettered": {}, "graph_requests": 1}
    ids = [e["event_id"] for r in _ForeignGraph.seen for e in r["body"]["data"]]
    assert sorted(ids) == sorted(json.loads(b)["messageId"] for b in read_bodies(EVENTS / "retail.json"))
    assert [r["path"] for r in _ForeignGraph.seen] == ["/v25.0/555/events"]
    assert all(
        r["auth"].startswith("Bearer ") and "access_token" not in r["path"] for r in _ForeignGraph.seen
    )


def test_local_demo_shows_the_dlq_and_the_redrive(capsys):
    # GIVEN the demo (emulator, faults, moto)
    # WHEN it runs
    code = main(["local", "demo"])
    out = capsys.readouterr().out
    # THEN it parks the batch on the revoked token, redrives it, isolates the poison event, and adds up
    assert code == 0
    assert "parked in the DLQ: {'auth': 13}" in out
    assert "redrive: moved 13" in out
    assert "Still in the DLQ: ['invalid']" in out
    # AND it says where the management console is
    assert "then open http://localhost:8084/console/ and sign in with the admin token it prints." in out
    summary = json.loads(out[out.rindex('{\n  "accepted"') :])
    assert summary == {
        "accepted": 15,
        "delivered": 12,
        "skipped": {"identify": 1, "consent": 1},
        "dead_lettered": {"invalid": 1},
        "graph_requests": 11,
    }
