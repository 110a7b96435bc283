"""Runs every benchmark and prints Markdown for docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import sys
import time
from typing import Any

from bench import collector, corpus, deliver, preview, transform

CORPORA = ((1, "every event a new visitor"), (6, "repeat visitors (6 events each, interleaved)"))
NAMES = {"relay": "Relay", "sdk": "SDK", "floor": "floor"}
SDK_TARGET = 2.0  # Relay ≥ 2× the SDK's speed, new visitors
SDK_REPEAT_TARGET = 3.0  # Relay ≥ 3× the SDK's speed, repeat visitors
FLOOR_TARGET = 2.0  # Relay's time per event ≤ 2× the floor's, new visitors


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {sys.version.split()[0]}"


def _load() -> str:
    try:
        return "load average " + " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _us(seconds: float, events: int) -> float:
    return seconds * 1e6 / events


def _verdicts(results: list[tuple[str, dict[str, float], int]]) -> None:
    """Targets (DESIGN §9) from per-event times: (label, {name: µs/event}, per_visitor)."""
    print("| target | measured | verdict |")
    print("|---|---:|---|")
    for per_visitor, us in ((pv, us) for _, us, pv in results):
        speedup = us["sdk"] / us["relay"]
        if per_visitor == 1:
            slowdown = us["relay"] / us["floor"]
            print(
                f"| new visitors: Relay ≥ {SDK_TARGET:.0f}× the SDK | {speedup:.2f}× | "
                f"{_verdict(speedup >= SDK_TARGET)} |"
            )
            print(
                f"| new visitors: Relay within {FLOOR_TARGET:.0f}× of the floor | Relay takes {slowdown:.2f}× "
                f"the floor's time | {_verdict(slowdown <= FLOOR_TARGET)} |"
            )
        else:
            print(
                f"| repeat visitors: Relay ≥ {SDK_REPEAT_TARGET:.0f}× the SDK | {speedup:.2f}× | "
                f"{_verdict(speedup >= SDK_REPEAT_TARGET)} |"
            )


def deliver_path(count: int, repeats: int) -> None:
    print(
        f"## 1. Deliver path: SQS message body bytes → Meta request body bytes ({count:,} events, in process, "
        f"median of {repeats} interleaved runs, cold hash caches each run)\n"
    )
    print(
        "| corpus | Relay µs/event | SDK µs/event | floor µs/event | Relay events/s | SDK events/s | "
        "floor events/s | Relay / SDK speed | Relay / floor time |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    results = []
    for per_visitor, label in CORPORA:
        r = transform.run(corpus.bar_bodies(count, per_visitor=per_visitor), repeats)
        us = {name: _us(r[name], count) for name in NAMES}
        results.append((label, us, per_visitor))
        print(
            f"| {label} | {us['relay']:.1f} | {us['sdk']:.1f} | {us['floor']:.1f} | "
            f"{1e6 / us['relay']:,.0f} | {1e6 / us['sdk']:,.0f} | {1e6 / us['floor']:,.0f} | "
            f"**{us['sdk'] / us['relay']:.2f}×** | **{us['relay'] / us['floor']:.2f}×** |"
        )
    print(
        "\nRelay / SDK speed = SDK time ÷ Relay time (above 1: Relay is faster); Relay / floor time = Relay "
        "time ÷ floor time (the floor is the speed limit). Every run's floor bodies were checked "
        "byte-identical to Relay's; the SDK's events carry the same user_data and custom_data keys (its "
        "bytes differ: match keys as lists, lower-case currency, its own key order). Runs rotate which "
        "transform goes first; a `gc.collect()` precedes each.\n"
    )
    _verdicts(results)
    print()


def preview_cli(count: int, repeats: int) -> None:
    print(
        f"## 2. `relay preview --compact` over a {count:,}-event JSON-lines file (fresh process each run, "
        f"whole-process wall time, median of {repeats} interleaved runs)\n"
    )
    rows: list[tuple[int, str, dict[str, Any]]] = []
    for per_visitor, label in CORPORA:
        r = preview.run(corpus.bar_bodies(count, per_visitor=per_visitor), repeats, imports=not rows)
        rows.append((per_visitor, label, r))
    startup = rows[0][2]  # start-up and imports do not depend on the corpus: measured with the first
    print(
        "| corpus | Relay wall | SDK wall | floor wall | Relay µs/event | SDK µs/event | floor µs/event | "
        "Relay events/s | SDK events/s | floor events/s | Relay / SDK speed | Relay / floor time |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    results = []
    for per_visitor, label, r in rows:
        us = {name: _us(r[name], count) for name in NAMES}
        results.append((label, us, per_visitor))
        print(
            f"| {label} | {r['relay']:.2f} s | {r['sdk']:.2f} s | {r['floor']:.2f} s | {us['relay']:.1f} | "
            f"{us['sdk']:.1f} | {us['floor']:.1f} | {1e6 / us['relay']:,.0f} | {1e6 / us['sdk']:,.0f} | "
            f"{1e6 / us['floor']:,.0f} | **{us['sdk'] / us['relay']:.2f}×** | "
            f"**{us['relay'] / us['floor']:.2f}×** |"
        )
    print(
        "\nStart-up and imports alone (whole wall time of a fresh process that imports what the command "
        f"imports, then exits; median of {repeats}, interleaved with the first corpus's runs):\n"
    )
    heads = [f"{NAMES[name]}: `{preview.IMPORTS[name]}`" for name in NAMES]
    print("| bare `python -c pass` | " + " | ".join(heads) + " |")
    print("|---:|---:|---:|---:|")
    print(
        f"| {startup['python_import'] * 1000:.0f} ms | {startup['relay_import'] * 1000:.0f} ms | "
        f"{startup['sdk_import'] * 1000:.0f} ms | {startup['floor_import'] * 1000:.0f} ms |"
    )
    print("\nPer event without start-up and imports (whole process − that command's import-only process):\n")
    print(
        "| corpus | Relay µs/event | SDK µs/event | floor µs/event | Relay / SDK speed | Relay / floor time |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for _, label, r in rows:
        net = {name: _us(r[name] - startup[f"{name}_import"], count) for name in NAMES}
        print(
            f"| {label} | {net['relay']:.1f} | {net['sdk']:.1f} | {net['floor']:.1f} | "
            f"{net['sdk'] / net['relay']:.2f}× | {net['relay'] / net['floor']:.2f}× |"
        )
    r = rows[0][2]
    print(
        f"\nCommands (cwd = the repository, PYTHONPATH=layers/core:., stdout to a file; input "
        f"{r['file_bytes'] / 1e6:.1f} MB): `python -m relay preview --compact --now 2026-11-26T13:00:00Z FILE`, "
        "`python -m bench.sdk_cli --now … FILE`, `python -m bench.floor_cli --now … FILE`. Each first ran "
        "once unmeasured on a 20-event file with PYTHONDONTWRITEBYTECODE unset (bytecode written, then read "
        "by the measured runs). Output check: the floor's document has the same request bodies, byte for "
        f"byte, as the deliver path's; Relay's document is {rows[0][2]['note']}. Verdicts use the "
        "whole-process figures:\n"
    )
    _verdicts(results)
    print()


def main() -> None:
    started = time.perf_counter()
    if sys.argv[1:] == ["collector"]:  # `python -m bench collector`: the collector's figures alone
        print(f"Machine: {machine()}; {_load()} at the start")
        collector.print_tables()
        return
    count = int(os.environ.get("BENCH_EVENTS", "20000"))
    repeats = int(os.environ.get("BENCH_RUNS", "5"))
    print(f"Machine: {machine()}; {_load()} at the start\n")
    print(
        "Workload (bench/corpus.py `bar_bodies`): `Order Completed` track events, 2 products each "
        "(product_id, sku, name, price, quantity), order_id, total, revenue, currency; context.traits "
        "with e-mail, phone in 6 countries' international formats (+1 (212) …, +44 20 …, 0049 30 …, "
        "+33 1 …, +81-3-…, +61 2 …; every visitor's number new), firstName, lastName, city, country, "
        "postalCode; context.ip, userAgent, page.url; anonymousId, messageId, timestamp; advertising "
        "consent. Same bodies for all three transforms.\n"
    )
    deliver_path(count, repeats)
    preview_cli(count, repeats)
    deliver.print_tables()
    collector.print_tables()
    print(f"\n_Whole benchmark: {time.perf_counter() - started:.0f} s; {_load()} at the end._")
