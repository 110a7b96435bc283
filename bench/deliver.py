"""Delivery benchmarks: batched vs one-event-per-request Graph calls, cold import of the deliver handler,
and the extra memory one 1,000-record batch takes.

Delivery runs the real `relay.delivery.deliver_batch`, the real `GraphClient` (urllib3) against the Graph
emulator on 127.0.0.1, and the real `Ledger` / `DeadLetters` over in-memory stand-ins for the boto3
DynamoDB and SQS clients. Not moto: moto's per-call overhead (request signing, XML/JSON round trips, its
own validation, all in this process) is not AWS's, and would be timed as if it were Relay's. The fakes
count the DynamoDB and SQS calls the real clients would make, for docs/cost-model.md.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

from bench import corpus
from bench.transform import NOW, PIXEL
from relay.delivery import BatchOutcome, Deps, SqsRecord, deliver_batch
from relay.integrations import Integration
from relay.ledger import Ledger
from relay.local.graph import GraphEmulator
from relay.queue import DeadLetters
from relay.vendors import clear_caches
from relay.vendors.meta_capi.client import GraphClient

ROOT = Path(__file__).resolve().parent.parent
GRAPH_LATENCY_S = 0.02  # fixed emulator latency per Graph call
BATCH_RECORDS = 1000
SMALL_BATCH_RECORDS = 100  # the former DeliverBatchSize default (template.yaml now has 1,000)
SINGLE_RECORDS = 200  # one-event-per-request runs on these and is extrapolated linearly to BATCH_RECORDS
REPEATS = 3
IMPORT_RUNS = 5
IMPORT_TARGET_MS = 250.0
MEMORY_TARGET_MB = 64.0
MEMORY_WARMUP_RECORDS = 10
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:relay-prod-events"
DLQ_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/relay-prod-events-dlq"
# The Globals environment template.yaml gives every function (tracing off by default).
IMPORT_ENV = {
    "PYTHONPATH": "layers/core",
    "POWERTOOLS_SERVICE_NAME": "relay",
    "POWERTOOLS_METRICS_NAMESPACE": "Relay",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "PYDANTIC_DISABLE_PLUGINS": "__all__",
    "AWS_DEFAULT_REGION": "eu-west-1",
}
IMPORT_HANDLER = (
    "import time,importlib.util as u; t=time.perf_counter(); "
    "s=u.spec_from_file_location('app','functions/deliver/app.py'); m=u.module_from_spec(s); "
    "s.loader.exec_module(m); print(time.perf_counter()-t)"
)
# The boto3 clients the first batch builds (relay.apps.deliver.build_deps, in its order), through
# the handler's own factory: construction only (botocore loads its service models), no network call.
FIRST_BATCH_CLIENTS = ("dynamodb", "secretsmanager", "sqs")
IMPORT_HANDLER_AND_CLIENTS = (
    "import time,importlib.util as u; t=time.perf_counter(); "
    "s=u.spec_from_file_location('app','functions/deliver/app.py'); m=u.module_from_spec(s); "
    "s.loader.exec_module(m); t1=time.perf_counter(); "
    "from relay.aws import aws_client; "
    f"[aws_client(n) for n in {FIRST_BATCH_CLIENTS!r}]; "
    "print(t1-t, time.perf_counter()-t1)"
)
# Lambda hands the function its role's credentials as environment variables; these are placeholders
# (no call is made) so botocore's credential chain stops there instead of probing files or IMDS.
CLIENT_ENV = {
    "AWS_ACCESS_KEY_ID": "ASIABENCHPLACEHOLDER",
    "AWS_SECRET_ACCESS_KEY": "bench-placeholder-secret",
    "AWS_SESSION_TOKEN": "bench-placeholder-token",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}
IMPORT_DELIVERY = "import time; t=time.perf_counter(); import relay.delivery; print(time.perf_counter()-t)"
IMPORTTIME_MARK = "-- bench: handler import starts --"
IMPORTTIME_HANDLER = (
    f"import sys,importlib.util as u; sys.stderr.write({IMPORTTIME_MARK!r} + chr(10)); "
    "s=u.spec_from_file_location('app','functions/deliver/app.py'); m=u.module_from_spec(s); "
    "s.loader.exec_module(m)"
)


class MemoryDynamoDB:
    """`batch_get_item` / `batch_write_item` over a dict, counting calls and items like DynamoDB bills them."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: Counter[str] = Counter()
        self.items_read = 0
        self.items_written = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls["BatchGetItem"] += 1
        responses: dict[str, list[dict[str, Any]]] = {}
        for table, request in RequestItems.items():
            self.items_read += len(request["Keys"])
            responses[table] = [
                {"key": key["key"]} for key in request["Keys"] if (table, key["key"]["S"]) in self.items
            ]
        return {"Responses": responses, "UnprocessedKeys": {}}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls["BatchWriteItem"] += 1
        for table, requests in RequestItems.items():
            for request in requests:
                item = request["PutRequest"]["Item"]
                self.items[(table, item["key"]["S"])] = item
                self.items_written += 1
        return {"UnprocessedItems": {}}


class MemorySqs:
    """`send_message_batch` into a list (the dead-letter queue), counting calls."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls["SendMessageBatch"] += 1
        self.messages.extend(Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def lambda_records(bodies: list[bytes]) -> list[dict[str, Any]]:
    """The bodies as the `Records` of Lambda's SQS event (what the deliver handler receives)."""
    return [
        {
            "messageId": f"00000000-0000-4000-8000-{n:012d}",
            "receiptHandle": f"AQEB-bench-{n}",
            "body": body.decode(),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(int(NOW.timestamp() * 1000)),
                "SenderId": "AIDAEXAMPLE",
                "ApproximateFirstReceiveTimestamp": str(int(NOW.timestamp() * 1000)),
            },
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": QUEUE_ARN,
            "awsRegion": "eu-west-1",
        }
        for n, body in enumerate(bodies)
    ]


class _BenchTokens:
    def get(self, integration_id: str) -> str:
        return "bench-token"

    def invalidate(self, integration_id: str) -> None:
        return None


def _deps(url: str, max_events: int | None = None) -> tuple[Deps, MemoryDynamoDB, MemorySqs]:
    integration = Integration.model_validate(
        {"id": "bench-meta", "source_id": "bench", "config": {"pixel_id": PIXEL}}
    )
    dynamodb, sqs = MemoryDynamoDB(), MemorySqs()
    deps = Deps(
        integrations=lambda source: [integration],
        tokens=_BenchTokens(),
        sender=GraphClient(url),
        ledger=Ledger(dynamodb, "relay-prod-ledger"),
        dead_letters=DeadLetters(sqs, DLQ_URL),
        now=lambda: NOW,
        sleep=lambda seconds: None,
    )
    if max_events is not None:
        deps.max_events_per_request = max_events
    return deps, dynamodb, sqs


def _emulator(latency_s: float) -> GraphEmulator:
    return GraphEmulator(latency_s=latency_s, now=NOW.timestamp)


def _deliver(records: list[dict[str, Any]], deps: Deps) -> BatchOutcome:
    """What the handler does with `event["Records"]`, minus Powertools."""
    return deliver_batch([SqsRecord.from_lambda(r) for r in records], deps)


def _run_mode(records: list[dict[str, Any]], max_events: int | None) -> dict[str, Any]:
    """Median of REPEATS runs, each with a fresh emulator, ledger and cold hash caches."""
    walls: list[float] = []
    outcome = BatchOutcome()
    dynamodb = MemoryDynamoDB()
    for _ in range(REPEATS):
        with _emulator(GRAPH_LATENCY_S) as graph:
            deps, dynamodb, _ = _deps(graph.url, max_events)
            clear_caches()
            gc.collect()
            start = time.perf_counter()
            outcome = _deliver(records, deps)
            walls.append(time.perf_counter() - start)
            assert len(graph.accepted) == outcome.delivered, "the emulator and delivery disagree"
    assert not outcome.failures, "the benchmark batch must deliver cleanly"
    assert not outcome.dead_lettered, "the benchmark batch must deliver cleanly"
    wall = statistics.median(walls)
    return {
        "records": len(records),
        "wall_s": wall,
        "graph_calls": outcome.graph_requests,
        "delivered": outcome.delivered,
        "skipped": sum(outcome.skipped.values()),
        "graph_wait_s": outcome.graph_requests * GRAPH_LATENCY_S,
        "dynamodb_calls": dict(dynamodb.calls),
        "ledger_items_read": dynamodb.items_read,
        "ledger_items_written": dynamodb.items_written,
        "log_bytes": _log_bytes(outcome),
    }


_LOG = io.StringIO()


@functools.cache
def _summary_logger() -> Any:
    from aws_lambda_powertools import Logger

    return Logger(service="relay", logger_handler=logging.StreamHandler(_LOG))


def _log_bytes(outcome: BatchOutcome) -> dict[str, int]:
    """Bytes the handler writes to CloudWatch Logs for this outcome: the EMF document(s) and the summary line.

    Lambda's own START/END/REPORT lines and the Powertools Lambda-context keys are not included.
    """
    from aws_lambda_powertools import Metrics

    from relay.delivery.report import publish

    metrics = Metrics(namespace="Relay", service="relay")
    emf = io.StringIO()
    with contextlib.redirect_stdout(emf):
        summary = publish(outcome, metrics)
        metrics.flush_metrics()
    start = _LOG.tell()
    _summary_logger().info("batch delivered", extra={"summary": summary})
    return {"emf": len(emf.getvalue().encode()), "summary": len(_LOG.getvalue()[start:].encode())}


def batching() -> dict[str, Any]:
    """Measurement 1: one SQS batch delivered with ≤1,000 events per Graph call vs one event per call."""
    bodies = corpus.bodies(BATCH_RECORDS, per_visitor=6)
    records = lambda_records(bodies)
    batched = _run_mode(records, None)
    small = _run_mode(records[:SMALL_BATCH_RECORDS], None)
    single = _run_mode(records[:SINGLE_RECORDS], 1)
    scale = BATCH_RECORDS / SINGLE_RECORDS
    single_1000 = {
        **single,
        "records": BATCH_RECORDS,
        "wall_s": single["wall_s"] * scale,
        "graph_calls": round(single["graph_calls"] * scale),
        "delivered": round(single["delivered"] * scale),
        "graph_wait_s": single["graph_wait_s"] * scale,
    }
    return {
        "latency_ms": GRAPH_LATENCY_S * 1000,
        "repeats": REPEATS,
        "batched": batched,
        "batched_small": small,
        "single_measured": single,
        "single": single_1000,
        "ratio": single_1000["wall_s"] / batched["wall_s"],
        "avg_body_bytes": sum(len(b) for b in bodies) / len(bodies),
    }


def _python(code: str, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


def _import_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    return env | IMPORT_ENV | extra


def _median_import_ms(code: str, env: dict[str, str], runs: int = IMPORT_RUNS) -> float:
    return statistics.median(float(_python(code, env).stdout.strip()) * 1000 for _ in range(runs))


def _heaviest_imports(env: dict[str, str], top: int = 5) -> list[tuple[str, float]]:
    """The `top` top-level imports of the handler module by cumulative time (one `-X importtime` run)."""
    stderr = _python(IMPORTTIME_HANDLER, env, "-X", "importtime").stderr
    rows = []
    for line in stderr.split(IMPORTTIME_MARK, 1)[-1].splitlines():
        parts = line.split("|")
        # "import time: self [us] | cumulative | <2 spaces per nesting level>name"; top level = one space
        if len(parts) == 3 and parts[2].startswith(" ") and not parts[2].startswith("  "):
            with contextlib.suppress(ValueError):
                rows.append((parts[2].strip(), int(parts[1]) / 1000))
    return sorted(rows, key=lambda row: -row[1])[:top]


def timed_runs(code: str, env: dict[str, str], runs: int = IMPORT_RUNS) -> list[tuple[float, ...]]:
    """`code` in `runs` fresh interpreters; each run's printed seconds, in milliseconds."""
    return [tuple(float(x) * 1000 for x in _python(code, env).stdout.split()) for _ in range(runs)]


def _handler_and_clients_ms(env: dict[str, str], runs: int = IMPORT_RUNS) -> dict[str, float]:
    """Medians over fresh interpreters of the handler import, the first batch's clients, and their sum."""
    pairs = timed_runs(IMPORT_HANDLER_AND_CLIENTS, env, runs)
    return {
        "import_ms": statistics.median(p[0] for p in pairs),
        "clients_ms": statistics.median(p[1] for p in pairs),
        "total_ms": statistics.median(p[0] + p[1] for p in pairs),
    }


def cold_import() -> dict[str, Any]:
    """Measurement 2: import time of functions/deliver/app.py and of relay.delivery, fresh interpreters;
    then the cold start up to the first batch's AWS clients."""
    env = _import_env()
    client_env = _import_env(**CLIENT_ENV)
    _python(IMPORT_HANDLER_AND_CLIENTS, client_env)  # warm-up, unmeasured: writes the .pyc files
    # One set of runs gives both figures: the import is timed first, then the clients are built.
    with_clients = _handler_and_clients_ms(client_env)
    delivery_ms = _median_import_ms(IMPORT_DELIVERY, env)
    with tempfile.TemporaryDirectory() as empty:
        # Worst case: no bytecode anywhere (a layer built without .pyc: /opt is read-only, nothing is cached).
        cold_env = _import_env(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=empty)
        handler_source_ms = _median_import_ms(IMPORT_HANDLER, cold_env)
    return {
        "runs": IMPORT_RUNS,
        "handler_ms": with_clients["import_ms"],
        "delivery_ms": delivery_ms,
        "handler_source_ms": handler_source_ms,
        "with_clients": with_clients,
        "heaviest": _heaviest_imports(env),
        "target_ms": IMPORT_TARGET_MS,
    }


def _rss_mb() -> float:
    """Peak RSS of this process (`ru_maxrss`, KiB on Linux), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _proc_status_mb(key: str) -> float | None:
    """`VmRSS` / `VmHWM` from /proc/self/status in MB (None off Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux `clear_refs` 5)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def memory_child(url: str) -> None:
    """In a fresh interpreter: the extra memory one 1,000-record batch takes; prints JSON on stdout."""
    # The Lambda event exists before the handler runs: built outside the measurement.
    records = lambda_records(corpus.bodies(BATCH_RECORDS, per_visitor=6))
    warm_deps, _, _ = _deps(url)
    _deliver(records[:MEMORY_WARMUP_RECORDS], warm_deps)  # imports, pools, pydantic schemas

    # RSS first, without tracemalloc (whose bookkeeping would inflate the process' peak RSS). ru_maxrss is a
    # high-water mark that building the records and the warm-up may already have pushed above what the
    # batch needs (and a thread's exit copies the mark into it for good), so the peak is also read as VmHWM
    # after resetting it to the current RSS.
    deps, _, _ = _deps(url)
    clear_caches()
    gc.collect()
    maxrss_before = _rss_mb()
    # This process's own peak since exec: ru_maxrss also counts the parent's RSS at the fork (Linux records
    # the forked address space's mark at exec), so it grows with whatever ran in `make bench` before.
    hwm_before = _proc_status_mb("VmHWM")
    reset = _reset_peak_rss()
    rss_before = _proc_status_mb("VmRSS")
    outcome = _deliver(records, deps)
    maxrss_delta = _rss_mb() - maxrss_before
    hwm_after = _proc_status_mb("VmHWM")
    rss_delta = hwm_after - rss_before if reset and hwm_after is not None and rss_before is not None else None
    assert outcome.delivered == BATCH_RECORDS, outcome

    # Then the Python-heap peak of the same batch (fresh ledger, cold hash caches).
    deps, _, _ = _deps(url)
    clear_caches()
    gc.collect()
    tracemalloc.start()
    outcome = _deliver(records, deps)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert outcome.delivered == BATCH_RECORDS, outcome
    print(
        json.dumps(
            {
                "tracemalloc_peak_mb": peak / 2**20,
                "tracemalloc_retained_mb": current / 2**20,
                "rss_delta_mb": rss_delta,
                "maxrss_delta_mb": maxrss_delta,
                "rss_before_mb": rss_before,
                "maxrss_before_mb": maxrss_before,
                "hwm_before_mb": hwm_before,
            }
        )
    )


def memory() -> dict[str, Any]:
    """Measurement 3: run memory_child in a fresh interpreter; the emulator (latency 0) stays in this one."""
    with _emulator(0.0) as graph:
        code = f"from bench.deliver import memory_child; memory_child({graph.url!r})"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(["layers/core", str(ROOT)])}
        result: dict[str, Any] = json.loads(_python(code, env).stdout.strip().splitlines()[-1])
        result["graph_calls"] = len(graph.requests)
    result["records"] = BATCH_RECORDS
    result["target_mb"] = MEMORY_TARGET_MB
    return result


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def print_tables() -> None:
    """Run the three measurements and print them as Markdown (called by bench.run.main)."""
    b = batching()
    lat = b["latency_ms"]
    print(
        f"## Delivery: batched vs one event per Graph request ({BATCH_RECORDS:,} SQS records, "
        f"Graph emulator with a fixed {lat:.0f} ms latency per call, median of {b['repeats']} runs)\n"
    )
    print(
        "| mode | records run | wall time | Graph calls | events delivered | Graph wait (calls × latency) | "
        "ms / event |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = (
        (f"≤1,000 events per call (Relay default), {BATCH_RECORDS:,} records", b["batched"], ""),
        (
            f"≤1,000 events per call, {SMALL_BATCH_RECORDS} records (the former DeliverBatchSize default)",
            b["batched_small"],
            "",
        ),
        ("1 event per call (Segment / RudderStack / Stape), measured", b["single_measured"], ""),
        (
            f"1 event per call, **extrapolated** ×{BATCH_RECORDS // SINGLE_RECORDS} to {BATCH_RECORDS:,}",
            b["single"],
            "≈ ",
        ),
    )
    for label, r, approx in rows:
        print(
            f"| {label} | {r['records']:,} | {approx}{r['wall_s'] * 1000:,.0f} ms | {approx}{r['graph_calls']:,} | "
            f"{approx}{r['delivered']:,} | {approx}{r['graph_wait_s'] * 1000:,.0f} ms | "
            f"{r['wall_s'] * 1000 / r['records']:.2f} |"
        )
    print(
        f"\nOne event per call is **≈ {b['ratio']:.0f}× slower** for {BATCH_RECORDS:,} records "
        f"(it ran on {SINGLE_RECORDS} records, extrapolated linearly: requests within an integration are "
        "sent one after another). Each run: fresh emulator, fresh ledger, cold hash caches; real "
        "`deliver_batch` + `GraphClient` (urllib3, keep-alive) over HTTP to the emulator on 127.0.0.1, which "
        "serves each connection on its own thread in this process (its parsing and validation share the GIL "
        "and are in the wall time); ledger and dead-letter queue are the real classes over in-memory "
        f"DynamoDB / SQS stand-ins (moto's per-call overhead is not AWS's). Average SQS body: "
        f"{b['avg_body_bytes']:.0f} bytes.\n"
    )
    print("Per batch, for docs/cost-model.md:\n")
    print(
        "| mode | records | DynamoDB calls | ledger keys read | ledger items written | EMF bytes | summary log bytes |"
    )
    print("|---|---:|---|---:|---:|---:|---:|")
    for label, r in (
        ("batched", b["batched"]),
        ("batched", b["batched_small"]),
        ("1 event per call (measured)", b["single_measured"]),
    ):
        calls = ", ".join(f"{k} {v}" for k, v in sorted(r["dynamodb_calls"].items()))
        print(
            f"| {label} | {r['records']:,} | {calls} | {r['ledger_items_read']:,} | "
            f"{r['ledger_items_written']:,} | {r['log_bytes']['emf']:,} | {r['log_bytes']['summary']:,} |"
        )

    c = cold_import()
    print(f"\n## Cold import of the deliver handler (fresh interpreter each run, median of {c['runs']})\n")
    print("| what | median import time | target |")
    print("|---|---:|---:|")
    verdict = _met(c["handler_ms"] <= c["target_ms"])
    print(
        f"| `functions/deliver/app.py` (.pyc present) | {c['handler_ms']:.0f} ms | "
        f"≤ {c['target_ms']:.0f} ms: {verdict} |"
    )
    w = c["with_clients"]
    clients = ", ".join(FIRST_BATCH_CLIENTS)
    print(
        f"| … then building the first batch's boto3 clients ({clients}; same runs) | "
        f"{w['clients_ms']:.0f} ms | — |"
    )
    print(f"| cold start to the first batch: handler import + those clients | {w['total_ms']:.0f} ms | — |")
    print(f"| `import relay.delivery` alone (.pyc present) | {c['delivery_ms']:.0f} ms | — |")
    print(
        f"| `functions/deliver/app.py`, no .pyc anywhere (worst case) | {c['handler_source_ms']:.0f} ms | — |"
    )
    print(
        "\nTimed inside the interpreter from just before the import to just after it (interpreter start-up "
        "not included), env " + ", ".join(f"{k}={v}" for k, v in IMPORT_ENV.items()) + " (the template's "
        "Globals: tracing off by default). The pydantic models build their validators on first use, so "
        "the first batch pays for those (tens of ms) instead of the import. PYTHONDONTWRITEBYTECODE is unset "
        "and an unmeasured warm-up run first writes the .pyc files, so the measured runs read bytecode "
        "(as from a layer built with compiled files); the worst-case row points PYTHONPYCACHEPREFIX at an "
        "empty directory with PYTHONDONTWRITEBYTECODE=1, so everything is compiled from source. The first "
        "three rows come from the same fresh interpreters: each imports the handler (timed), then builds "
        "the clients the first batch needs through `relay.aws.aws_client` (the handler's factory: "
        "timeouts, standard retries; timed separately); client construction loads botocore's service models and endpoint data "
        "but makes no network call (placeholder credentials in the environment, as Lambda provides its "
        "role's, so the credential chain reads no file and probes no metadata service).\n"
    )
    print("Heaviest top-level imports of the handler module (one `python -X importtime` run, cumulative):\n")
    print("| module | cumulative |")
    print("|---|---:|")
    for name, ms in c["heaviest"]:
        print(f"| `{name}` | {ms:.0f} ms |")

    m = memory()
    print(
        f"\n## Extra memory of one {m['records']:,}-record batch (fresh interpreter, emulator latency 0, "
        f"after a {MEMORY_WARMUP_RECORDS}-record warm-up batch)\n"
    )
    print("| measure | value | target |")
    print("|---|---:|---:|")
    rss = m["rss_delta_mb"] if m["rss_delta_mb"] is not None else m["maxrss_delta_mb"]
    verdict = "met" if max(m["tracemalloc_peak_mb"], rss) <= m["target_mb"] else "**not met**"
    print(
        f"| tracemalloc peak during `deliver_batch` (Python heap, all threads) | "
        f"{m['tracemalloc_peak_mb']:.1f} MB | ≤ {m['target_mb']:.0f} MB: {verdict} |"
    )
    if m["rss_delta_mb"] is not None:
        print(f"| peak RSS growth (VmHWM reset to VmRSS before the batch) | {m['rss_delta_mb']:.1f} MB | |")
    print(f"| `ru_maxrss` delta over the same batch | {m['maxrss_delta_mb']:.1f} MB | |")
    print(
        f"| retained after the batch (tracemalloc current: hash caches, pools) | "
        f"{m['tracemalloc_retained_mb']:.1f} MB | |"
    )
    before = f"{m['rss_before_mb']:.0f} MB RSS, " if m["rss_before_mb"] is not None else ""
    print(
        f"| process before the batch (imports, warm-up, the {m['records']:,} records built) | "
        f"{before}{m['hwm_before_mb'] or m['maxrss_before_mb']:.0f} MB peak | |"
    )
    print(
        "\nThe RSS figures come from a first run of the batch without tracemalloc; the tracemalloc figures "
        "from a second run of it (fresh ledger, cold hash caches). `ru_maxrss` is a high-water mark that "
        "the parent's RSS at the fork (Linux carries it across exec), the records' construction and the "
        "warm-up may already have set above the batch's needs, hence the VmHWM rows (the last row's peak "
        "is this process's own VmHWM since exec). The records (the Lambda event) are built before measuring, as Lambda's runtime does; the "
        "emulator runs in the parent process so its memory is not counted. Graph calls in the child: "
        f"{m['graph_calls']}.\n"
    )
