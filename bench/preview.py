"""`relay preview --compact` over a JSON-lines file, in a fresh process, against the SDK and the floor.

Each command runs as its own fresh interpreter over the same file, writing its preview document to a
file; the figure is the whole process's wall time (start-up, imports, reading, transform, writing). The
bare interpreter start-up and each command's imports are measured separately, so the per-event figures
can be read with and without them. Every command first runs once, unmeasured, on a small file with
PYTHONDONTWRITEBYTECODE unset, so the measured runs read compiled bytecode.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench import transform

ROOT = Path(__file__).resolve().parent.parent
NOW_ARG = ("--now", "2026-11-26T13:00:00Z")
COMMANDS = {
    "relay": transform.RELAY_PREVIEW_ARGS,
    "sdk": ("-m", "bench.sdk_cli"),
    "floor": ("-m", "bench.floor_cli"),
}
IMPORTS = {
    "relay": transform.RELAY_PREVIEW_IMPORTS,
    "sdk": "import bench.sdk_cli",
    "floor": "import bench.floor_cli",
}
WARMUP_EVENTS = 20


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "core"), str(ROOT)])
    return env


def _wall(args: tuple[str, ...], out: Path, env: dict[str, str]) -> float:
    with out.open("wb") as handle:
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, env=env, stdout=handle, check=True)
        return time.perf_counter() - start


def _write_lines(path: Path, bodies: list[bytes]) -> None:
    path.write_bytes(b"\n".join(bodies) + b"\n")


def relay_location(env: dict[str, str]) -> str:
    code = "import relay; print(relay.__file__)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def check_outputs(relay: bytes, floor: bytes, sdk: bytes, events: int) -> str:
    """Raise OutputMismatch unless the floor's document is Relay's; say how Relay's bytes relate to it."""
    if relay == floor:
        note = "byte-identical to the floor's (orjson-compact)"
    elif orjson.dumps(orjson.loads(relay)) + b"\n" == floor:
        note = (
            f"the same document as the floor's, but not orjson-compact: {len(relay):,} bytes against "
            f"{len(floor):,} — Relay's `json.dump(indent=None)` writes ', ' and ': ' separators; "
            "re-serialised with orjson it is byte-identical to the floor's"
        )
    else:
        doc_r, doc_f = orjson.loads(relay), orjson.loads(floor)
        bodies_r = [orjson.dumps(r["body"]) for r in doc_r["requests"]]
        bodies_f = [orjson.dumps(r["body"]) for r in doc_f["requests"]]
        transform.check_floor(bodies_r, bodies_f)
        raise transform.OutputMismatch(
            f"preview documents differ outside the request bodies: Relay {doc_r.keys()} "
            f"rejected {len(doc_r['rejected'])} skipped {len(doc_r['skipped'])}"
        )
    n = sum(len(r["body"]["data"]) for r in orjson.loads(sdk)["requests"])
    if n != events:
        raise transform.OutputMismatch(f"the SDK's preview holds {n} events, not {events}")
    return note


def run(bodies: list[bytes], repeats: int = 5, *, imports: bool = True) -> dict[str, Any]:
    """Median whole-process seconds of each command over a file of `bodies`, runs interleaved.

    With `imports`, also the median seconds of a fresh process doing only each command's imports
    (`{name}_import`) and of a bare `python -c pass` (`python_import`), interleaved with the same runs.
    """
    env = _env()
    location = relay_location(env)
    if not location.startswith(str(ROOT)):
        raise RuntimeError(f"relay imports from {location}, not from this tree ({ROOT})")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        events, small = work / "events.jsonl", work / "warmup.jsonl"
        _write_lines(events, bodies)
        _write_lines(small, bodies[:WARMUP_EVENTS])
        outs = {name: work / f"{name}.json" for name in COMMANDS}
        for name, args in COMMANDS.items():  # unmeasured: writes the .pyc files the measured runs read
            _wall((*args, *NOW_ARG, str(small)), outs[name], env)
        names = list(COMMANDS)
        walls: dict[str, list[float]] = {name: [] for name in names}
        startup: dict[str, list[float]] = {name: [] for name in [*names, "python"]} if imports else {}
        for r in range(repeats):
            for name in names[r % 3 :] + names[: r % 3]:
                walls[name].append(_wall((*COMMANDS[name], *NOW_ARG, str(events)), outs[name], env))
            if imports:
                for name, code in IMPORTS.items():
                    startup[name].append(_wall(("-c", code), work / "import.out", env))
                startup["python"].append(_wall(("-c", "pass"), work / "import.out", env))
        note = check_outputs(
            outs["relay"].read_bytes(), outs["floor"].read_bytes(), outs["sdk"].read_bytes(), len(bodies)
        )
        size = events.stat().st_size
    return {
        "events": len(bodies),
        "repeats": repeats,
        "file_bytes": size,
        "note": note,
        **{name: statistics.median(v) for name, v in walls.items()},
        **{f"{name}_import": statistics.median(v) for name, v in startup.items()},
    }
