"""A deterministic corpus of SQS message bodies: the sample events with varied, unique users."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIRST = ["Jane", "John", "María", "Zoë", "Łukasz", "Amélie", "Søren", "Chloé", "Björn", "Anaïs"]
LAST = ["Doe", "Smith", "García", "O'Neil", "Müller", "Dupont", "Nørgaard", "Kowalski", "Rossi", "Brown"]
CITIES = [
    ("London", "GB", "SW1A 1AA", "+44 7911 "),
    ("New York", "US", "10001-1234", "+1 212 2"),
    ("Paris", "FR", "75018", "+33 6 12 "),
    ("Berlin", "DE", "10115", "+49 151 23 "),
]


def bodies(count: int, per_visitor: int = 1, seed: int = 42) -> list[bytes]:
    """`count` compact JSON bodies: website events of the default variant, `per_visitor` events per user.

    Visitors' events are interleaved (as many sessions reach one SQS batch at once).
    """
    rng = random.Random(seed)
    samples = [
        e
        for e in json.loads((ROOT / "events" / "default.json").read_text())
        if e["type"] in ("track", "page") and "app" not in e["context"]
    ]
    out = []
    visitors = max(1, count // per_visitor)
    anon = [f"anon-{rng.getrandbits(64):016x}" for _ in range(visitors)]
    names = [(rng.choice(FIRST), rng.choice(LAST)) for _ in range(visitors)]
    for n in range(count):
        i = n % visitors
        event: dict[str, Any] = copy.deepcopy(samples[n % len(samples)])
        city, country, zp, phone = CITIES[i % len(CITIES)]
        first, last = names[i]
        event["messageId"] = f"bench-{n}"
        event["anonymousId"] = anon[i]
        event["context"]["consent"] = {"categoryPreferences": {"advertising": True}}
        event["context"]["traits"] = {
            "email": f"{first}.{last}.{i}@Example.com".replace("'", ""),
            "phone": f"{phone}{i % 1_000_000:06d}",
            "firstName": first,
            "lastName": last,
            "city": city,
            "postalCode": zp,
            "country": country,
        }
        out.append(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode())
    return out
