"""Runs every benchmark and prints Markdown for docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import sys

from bench import corpus, deliver, transform


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {sys.version.split()[0]}"


def main() -> None:
    print(f"Machine: {machine()}\n")
    count = int(os.environ.get("BENCH_EVENTS", "5000"))
    print(
        f"## Transform: SQS body bytes → Meta request bytes ({count} events, median of 5 cold-cache runs)\n"
    )
    print("| corpus | Relay events/s | SDK events/s | Relay µs/event | SDK µs/event | Relay / SDK |")
    print("|---|---:|---:|---:|---:|---:|")
    for per_visitor, label in ((1, "every event a new visitor"), (6, "6 events per visitor")):
        r = transform.run(corpus.bodies(count, per_visitor=per_visitor))
        print(
            f"| {label} | {r['relay_events_per_s']:,.0f} | {r['sdk_events_per_s']:,.0f} | "
            f"{r['relay_us_per_event']:.1f} | {r['sdk_us_per_event']:.1f} | **{r['ratio']:.2f}×** |"
        )
    print("\nTarget: Relay ≥ 5× the SDK (DESIGN §9).\n")
    deliver.print_tables()
