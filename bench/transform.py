"""The deliver path's transform, in process: SQS message body bytes → Meta request body bytes.

Three transforms over the same bodies, timed side by side in one run (interleaved):

- Relay, through `relay_transform` below — the ONE place the new benchmarks call Relay's code;
- the facebook-business SDK building the same fields (`bench.sdk`);
- the floor, hand-written orjson + hashlib code for this workload (`bench.floor`), whose bodies must be
  byte-identical to Relay's (checked on every run; a difference fails the benchmark).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from bench import floor, sdk

NOW = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
NOW_S = int(NOW.timestamp())
PIXEL = "1234567890"

# --- Relay adapter ------------------------------------------------------------------------------------
# Every call into Relay's code for the transform and preview benchmarks is in this block: re-point it
# here when Relay's modules move. (bench/deliver.py has its own imports for the delivery benchmarks.)

# `relay preview` as bench.preview runs it (fresh process, `python` + these arguments + --now + FILE)...
RELAY_PREVIEW_ARGS = ("-m", "relay", "preview", "--compact")
# ...and the modules that command imports before it reads a byte, for the import-only figure.
RELAY_PREVIEW_IMPORTS = "import relay.cli, relay.preview"


def relay_transform(bodies: list[bytes]) -> list[bytes]:
    """Relay's deliver-path transform of SQS message bodies (delivery's plan phase: validate, map; then the
    request bodies), starting with cold hash caches on every call. The garbage collector is paused around
    the whole call, as DeliverFunction's handler pauses it around a batch."""
    from relay.runtime import gc_paused
    from relay.vendors import clear_caches

    clear_caches()  # no hash survives from the previous call
    with gc_paused():
        return _relay_bodies(bodies)


def _relay_bodies(bodies: list[bytes]) -> list[bytes]:
    from relay.events import parse_event_json
    from relay.integrations import Integration
    from relay.outbound import ServerEvent
    from relay.vendors import VENDORS

    vendor = VENDORS["meta_capi"]
    integration = Integration.model_validate({"id": "b", "source_id": "s", "config": {"pixel_id": PIXEL}})
    events = []
    for body in bodies:
        outcome = vendor.map_event(parse_event_json(body), integration, now=NOW)
        if isinstance(outcome, ServerEvent):
            events.append(outcome)
    requests, _ = vendor.build_requests(events, integration)
    return [r.body for r in requests]


# --- end of the Relay adapter ---------------------------------------------------------------------------


def sdk_transform(bodies: list[bytes]) -> list[bytes]:
    return sdk.transform(bodies, NOW_S)


def floor_transform(bodies: list[bytes]) -> list[bytes]:
    return floor.transform(bodies, NOW_S)


TRANSFORMS: dict[str, Callable[[list[bytes]], list[bytes]]] = {
    "relay": relay_transform,
    "sdk": sdk_transform,
    "floor": floor_transform,
}


class OutputMismatch(AssertionError):
    """The floor's bodies differ from Relay's, or the SDK's do not carry the same fields."""


def _events(bodies: list[bytes]) -> list[dict[str, Any]]:
    return [event for body in bodies for event in orjson.loads(body)["data"]]


def check_floor(relay_out: list[bytes], floor_out: list[bytes]) -> None:
    """Raise OutputMismatch, naming the first difference, unless the floor's bytes are Relay's."""
    if floor_out == relay_out:
        return
    lines = [f"floor output differs from Relay's: {len(floor_out)} vs {len(relay_out)} request bodies"]
    for n, (mine, theirs) in enumerate(zip(_events(floor_out), _events(relay_out), strict=False)):
        if mine != theirs:
            for part in sorted(set(mine) | set(theirs)):
                if mine.get(part) != theirs.get(part):
                    lines.append(f"event {n}, {part}: floor {mine.get(part)!r} / Relay {theirs.get(part)!r}")
            break
    else:
        lines.append("same events; the serialisation differs (spacing, number format or key order)")
    raise OutputMismatch("\n".join(lines))


def check_sdk(relay_out: list[bytes], sdk_out: list[bytes]) -> None:
    """Raise OutputMismatch unless the SDK built the same events with the same user_data / custom_data keys."""
    relay_events, sdk_events = _events(relay_out), _events(sdk_out)
    if len(relay_events) != len(sdk_events):
        raise OutputMismatch(f"SDK built {len(sdk_events)} events, Relay {len(relay_events)}")
    for n, (r, s) in enumerate(zip(relay_events, sdk_events, strict=True)):
        for part in ("user_data", "custom_data"):
            if set(r[part]) != set(s[part]):
                raise OutputMismatch(f"event {n}: SDK {part} keys {sorted(s[part])}, Relay {sorted(r[part])}")


def run(bodies: list[bytes], repeats: int = 5) -> dict[str, Any]:
    """Median seconds of each transform over `bodies`, runs interleaved, every run's outputs checked."""
    for fn in TRANSFORMS.values():
        fn(bodies[:50])  # imports, first-use tables and lazy caches outside the measurement
    runs: dict[str, list[float]] = {name: [] for name in TRANSFORMS}
    names = list(TRANSFORMS)
    for r in range(repeats):
        out: dict[str, list[bytes]] = {}
        for name in names[r % 3 :] + names[: r % 3]:  # rotate who goes first
            gc.collect()
            start = time.perf_counter()
            out[name] = TRANSFORMS[name](bodies)
            runs[name].append(time.perf_counter() - start)
        check_floor(out["relay"], out["floor"])
        if r == 0:
            check_sdk(out["relay"], out["sdk"])
    return {"events": len(bodies), "repeats": repeats, **{n: statistics.median(v) for n, v in runs.items()}}
