"""Test helpers: sample files from events/ and small event factories."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from relay.integrations import Integration
from relay.stats import Tally

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


@dataclass
class LambdaContext:
    """The parts of Lambda's context object Powertools and the handlers read."""

    function_name: str = "relay-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:relay-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"
    log_group_name: str = "/aws/lambda/relay-function"
    log_stream_name: str = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def load_handler_module(function: str) -> ModuleType:
    """functions/<function>/app.py as a fresh module (the handlers are not a package, as in Lambda)."""
    spec = importlib.util.spec_from_file_location(f"{function}_app", ROOT / "functions" / function / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def order(message_id: str, *, timestamp: str, source_id: str = "src-1", **properties: Any) -> dict[str, Any]:
    """A good Order Completed event of a new visitor (e-mail, name, city, IP, UA, page and referrer)."""
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": message_id,
        "anonymousId": f"anon-{message_id}",
        "timestamp": timestamp,
        "properties": {
            "order_id": f"o-{message_id}",
            "total": 25.5,
            "currency": "EUR",
            "products": [{"product_id": "p-1", "price": 12.75, "quantity": 2}],
            **properties,
        },
        "context": {
            "source_id": source_id,
            "ip": "198.51.100.7",
            "userAgent": UA,
            "page": {"url": "https://shop.example.com/checkout", "referrer": "https://ref.example.com/"},
            "traits": {"email": f"{message_id}@example.com", "firstName": "Ana", "city": "Lisbon"},
        },
    }


def recent_lead(i: int, **props: Any) -> str:
    """A 'Lead Generated' SQS body with messageId m-<i>, dated five minutes ago."""
    return json.dumps(
        {
            "type": "track",
            "event": "Lead Generated",
            "messageId": f"m-{i}",
            "anonymousId": f"anon-{i}",
            "timestamp": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "properties": props,
            "context": {"userAgent": UA, "ip": "198.51.100.7", "page": {"url": "https://a.example/"}},
        }
    )


def tally_of(
    delivered: int = 0,
    keys: dict[str, int] | None = None,
    parked: dict[str, int] | None = None,
    retrying: int = 0,
) -> Tally:
    """A relay.stats.Tally from plain dicts (match keys, dead-lettered by reason)."""
    return Tally(delivered, Counter(keys or {}), Counter(parked or {}), retrying)
