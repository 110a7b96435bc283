"""Test helpers: sample files from events/ and small event factories."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from relay.integrations import Integration

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
# The sample events of events/ are dated 2026-11-26 12:00-12:59 UTC.
SAMPLE_NOW = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
UA = "Mozilla/5.0 (X11; Linux x86_64) Test/1.0"


def load_sample(name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((EVENTS / name).read_text())
    return data


def integration(variant: str = "default", **config: Any) -> Integration:
    consent = config.pop("consent_categories", ["advertising"])
    require = config.pop("require_consent", False)
    enabled = config.pop("enabled", True)
    return Integration.model_validate(
        {
            "id": "int-1",
            "source_id": "src-1",
            "variant": variant,
            "enabled": enabled,
            "consent_categories": consent,
            "require_consent": require,
            "config": {"pixel_id": "1234567890", **config},
        }
    )


def track(event: str, properties: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "type": "track",
        "event": event,
        "messageId": "m-1",
        "anonymousId": "anon-1",
        "timestamp": "2026-11-26T12:00:00Z",
        "properties": properties or {},
        "context": {"userAgent": UA, "ip": "198.51.100.7", "page": {"url": "https://shop.example.com/p"}},
    }
    raw.update(overrides)
    return raw
