"""Hostile input through the deliver handler: every case sits between two good events in one SQS batch.

The handler runs in-process over moto and the loopback Graph emulator. For every case, both good events
must reach the emulator, the hostile record must end in exactly one state (delivered, skipped, or parked
in the DLQ with a reason attribute), never be handed back to SQS (which would loop until SQS's
RedrivePolicy moved it without a reason), and the batch must finish in bounded time.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.local.graph import GraphEmulator
from relay.local.runner import THROWAWAY_TOKEN, _integration
from relay.local.stack import LocalStack
from relay.queue import DLQ_REASONS, REASON, string_attribute
from tests.support import LambdaContext, load_handler_module
from tests.support import order as support_order

PIXEL = "1234567890"
SOURCE = "src-hostile"
# Generous for a shared 2-core machine; the quadratic and unbounded cases took minutes.
BATCH_SECONDS = 10.0
SURROGATE = "\ud800"


def _now() -> str:
    return (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


def order(message_id: str, **properties: Any) -> dict[str, Any]:
    """A good Order Completed event of a new visitor, a minute old, from this suite's source."""
    return support_order(message_id, timestamp=_now(), source_id=SOURCE, **properties)


def custom(message_id: str, **properties: Any) -> dict[str, Any]:
    event = order(message_id)
    event["event"] = "Gift Wrapped"
    event["properties"] = properties
    return event


def _set(path: str, value: Any) -> Callable[[str], str]:
    """A case: the good order with the field at dotted `path` set to `value`."""

    def build(mid: str) -> str:
        event = order(mid)
        *parents, leaf = path.split(".")
        node: Any = event
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
        return json.dumps(event)  # ensure_ascii: a lone surrogate travels as the escape \ud800

    return build


def _raw(text: Callable[[str], str]) -> Callable[[str], str]:
    return text


def _nested(depth: int, *, message_id: bool = True) -> Callable[[str], str]:
    def build(mid: str) -> str:
        event = order(mid)
        if not message_id:
            del event["messageId"]
        body = json.dumps(event)
        return body.replace(
            '"properties": {', '"properties": {"deep": ' + "[" * depth + "]" * depth + ", ", 1
        )

    return build


def _replace(old: str, new: str) -> Callable[[str], str]:
    """A case: the good order's JSON text with `old` replaced (for what json.dumps cannot write)."""
    return lambda mid: json.dumps(order(mid)).replace(old, new, 1)


CASES: dict[str, Callable[[str], str]] = {
    # lone surrogates in every string that is sent or stored as it is
    "surrogate in the event name": _set("event", f"Order{SURROGATE} Completed"),
    "surrogate in a custom event name": lambda mid: json.dumps({**custom(mid), "event": f"Gift{SURROGATE}"}),
    "surrogate in the user agent": _set("context.userAgent", f"Mozilla{SURROGATE}/5.0"),
    "surrogate in the URL": _set("context.page.url", f"https://shop.example.com/{SURROGATE}"),
    "surrogate in the referrer": _set("context.page.referrer", f"https://ref.example.com/{SURROGATE}"),
    "surrogate in order_id": _set("properties.order_id", f"o-{SURROGATE}"),
    "surrogate in product_id": _set("properties.products.0.product_id", f"p-{SURROGATE}"),
    "surrogate in properties.event_id": _set("properties.event_id", f"e-{SURROGATE}"),
    "surrogate in messageId": lambda mid: json.dumps({**order(mid), "messageId": f"{mid}{SURROGATE}"}),
    "surrogate in a custom property": lambda mid: json.dumps(custom(mid, wrap=f"red{SURROGATE}")),
    "surrogate in a custom property key": lambda mid: json.dumps(custom(mid, **{f"k{SURROGATE}": "v"})),
    "surrogate in the e-mail": _set("context.traits.email", f"a{SURROGATE}@example.com"),
    "surrogate in the first name": _set("context.traits.firstName", f"An{SURROGATE}a"),
    "surrogate in the city": _set("context.traits.city", f"Lis{SURROGATE}bon"),
    "surrogate in fbp": _set("context.fbp", f"fb.1.1700000000000.{SURROGATE}"),
    "surrogate in anonymousId": _set("anonymousId", f"anon-{SURROGATE}"),
    "lone trailing surrogate": _set("properties.order_id", "o-\udc00"),
    # numbers
    "price 9e999999 as a string": _set("properties.products.0.price", "9e999999"),
    "quantity 1e10000000 as a string": _set("properties.products.0.quantity", "1e10000000"),
    "total 1e400 as a string": _set("properties.total", "1e400"),
    "huge finite prices whose sum overflows": lambda mid: json.dumps(
        order(
            mid,
            total=None,
            products=[
                {"product_id": "p", "price": 1.7e308, "quantity": 3},
                {"product_id": "q", "price": 1e308},
            ],
        )
    ),
    "a 4,000-digit quantity": _replace('"quantity": 2', '"quantity": ' + "9" * 4000),
    "a 5,000-digit total": _replace('"total": 25.5', '"total": ' + "9" * 5000),
    "a 30-digit integer in a custom property": lambda mid: json.dumps(custom(mid, n=10**30)),
    "NaN total": _replace('"total": 25.5', '"total": NaN'),
    "Infinity price": _replace('"price": 12.75', '"price": Infinity'),
    "total 1e999 (parses as infinity)": _replace('"total": 25.5', '"total": 1e999'),
    "negative quantity": _set("properties.products.0.quantity", -3),
    "quantity 2**70": _set("properties.products.0.quantity", 2**70),
    # sizes
    "a 64 KB URL query value": _set("context.page.url", "https://shop.example.com/?q=" + "a%40b." * 11000),
    "a 60 KB custom property full of @": lambda mid: json.dumps(custom(mid, note="a@b." * 15000)),
    "a 31 KB e-mail-like custom value": lambda mid: json.dumps(custom(mid, note="x" * 31000 + "@a")),
    "a 9,000-character user agent": _set("context.userAgent", "M" * 9000),
    "a 10,000-character custom event name": lambda mid: json.dumps({**custom(mid), "event": "E" * 10000}),
    "a 3,000-byte properties.event_id": _set("properties.event_id", "é" * 1500),
    "a 1,500-byte properties.event_id": _set("properties.event_id", "e" * 1500),
    "a 9,000-character messageId": lambda mid: json.dumps({**order(mid), "messageId": mid + "m" * 9000}),
    "a 400 KB body": lambda mid: json.dumps(custom(mid, blob="z" * 400_000)),
    "10,000 custom properties": lambda mid: json.dumps(custom(mid, **{f"k{i}": i for i in range(10_000)})),
    "2,000 products": lambda mid: json.dumps(
        order(mid, products=[{"product_id": f"p{i}", "price": 1, "quantity": 1} for i in range(2000)])
    ),
    "1,000 e-mail addresses": _set("context.traits.email", [f"u{i}@example.com" for i in range(1000)]),
    # nesting
    "properties nested 40 levels": _nested(40),
    "properties nested 300 levels, no messageId": _nested(300, message_id=False),
    "properties nested 900 levels, no messageId": _nested(900, message_id=False),
    "properties nested 1,000 levels": _nested(1000),
    "properties nested 100,000 levels": _nested(100_000),
    "an unknown field nested 5,000 levels": lambda mid: (
        json.dumps(order(mid))[:-1] + ', "junk": ' + "[" * 5000 + "]" * 5000 + "}"
    ),
    # shapes
    "not JSON": _raw(lambda mid: "{not json"),
    "a JSON array": _raw(lambda mid: "[]"),
    "JSON null": _raw(lambda mid: "null"),
    "an empty body": _raw(lambda mid: ""),
    "type missing": lambda mid: json.dumps({k: v for k, v in order(mid).items() if k != "type"}),
    "an unknown type": _set("type", "explode"),
    "properties a list": _set("properties", [1, 2]),
    "products an object": _set("properties.products", {"a": 1}),
    "a product a string": _set("properties.products.0", "p-1"),
    "timestamp not a date": _set("timestamp", "2026-13-45T99:00:00Z"),
    "timestamp year 9999": _set("timestamp", "9999-12-31T23:59:59Z"),
    "timestamp 1e20 seconds": _set("timestamp", 1e20),
    "timestamp before 1970": _set("timestamp", "1900-01-01T00:00:00Z"),
    "currency an object": _set("properties.currency", {"code": "EUR"}),
    "traits a string": _set("context.traits", "ana@example.com"),
    "consent preferences a list": _set("context.consent", {"categoryPreferences": ["advertising"]}),
    "ip not an address": _set("context.ip", "999.1.1.1" + SURROGATE),
    "NUL characters everywhere": _set("properties.order_id", "o-\x00\x00"),
}


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[GraphEmulator, LocalStack, dict[str, str]]]:
    with GraphEmulator(access_tokens={PIXEL: THROWAWAY_TOKEN}) as graph, LocalStack() as local:
        config = local.settings(graph.url)
        local.add_integration(_integration(PIXEL, "default").model_copy(update={"source_id": SOURCE}), config)
        env = {key.upper(): str(value) for key, value in config.model_dump(exclude_none=True).items()}
        yield graph, local, env


@pytest.fixture(scope="module")
def handler() -> Callable[..., dict[str, Any]]:
    module = load_handler_module("deliver")
    return module.handler  # type: ignore[no-any-return]


def _record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }


def _dlq(local: LocalStack) -> list[dict[str, Any]]:
    sqs = local.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=local.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        messages = answer.get("Messages") or []
        if not messages:
            return found
        found.extend(messages)
        for m in messages:
            sqs.delete_message(QueueUrl=local.dlq_url, ReceiptHandle=m["ReceiptHandle"])


def _summary(records: list[logging.LogRecord]) -> dict[str, Any]:
    """The summary of the handler's "batch delivered" log line."""
    (summary,) = [r.summary for r in records if r.getMessage() == "batch delivered"]  # type: ignore[attr-defined]
    return summary  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_event_never_costs_its_neighbours(case, world, handler, monkeypatch, caplog):
    # GIVEN a batch of a good event, the hostile one, and another good event (ids unique to this case)
    graph, local, env = world
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    tag = f"h{sorted(CASES).index(case):03d}"
    good = [f"{tag}-good-1", f"{tag}-good-2"]
    event = {
        "Records": [
            _record(f"{tag}-r1", json.dumps(order(good[0]))),
            _record(f"{tag}-r2", CASES[case](f"{tag}-bad")),
            _record(f"{tag}-r3", json.dumps(order(good[1]))),
        ]
    }
    before = len(graph.accepted)
    # WHEN the deliver handler runs it
    started = time.perf_counter()
    answer = handler(event, LambdaContext(function_name="relay-deliver"))
    elapsed = time.perf_counter() - started
    # THEN nothing goes back to SQS, both good events reached Meta, and the batch took bounded time
    assert answer == {"batchItemFailures": []}
    accepted_ids = {a.event.get("event_id") for a in graph.accepted[before:]}
    assert set(good) <= accepted_ids
    assert elapsed < BATCH_SECONDS
    # ... and the hostile record is delivered, or parked once with a known reason, or skipped (then
    # neither sent nor parked)
    parked = _dlq(local)
    assert all(string_attribute(m.get("MessageAttributes") or {}, REASON) in DLQ_REASONS for m in parked)
    summary = _summary(caplog.records)
    skipped = sum(summary["skipped"].values())
    assert summary["delivered"] + skipped + sum(summary["dead_lettered"].values()) == 3
    assert len(parked) == sum(summary["dead_lettered"].values())
    assert len(graph.accepted) - before == summary["delivered"]
    # ... and whatever reached Meta is valid JSON with no lone surrogate (the emulator parsed it)
    for accepted in graph.accepted[before:]:
        json.dumps(accepted.event, ensure_ascii=False).encode("utf-8")


def _run(world, handler, monkeypatch, caplog, records):
    graph, local, env = world
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    before = len(graph.accepted)
    answer = handler({"Records": records}, LambdaContext(function_name="relay-deliver"))
    return answer, graph.accepted[before:], _dlq(local), _summary(caplog.records)


def test_duplicate_input_ends_in_exactly_one_state_per_record(world, handler, monkeypatch, caplog):
    # GIVEN one event sent twice (same messageId, two SQS records) and two events sharing one event_id
    a = json.dumps(order("dup-a"))
    b, c = order("dup-b"), order("dup-c")
    b["properties"]["event_id"] = c["properties"]["event_id"] = "dup-shared"
    records = [_record("dup-r1", a), _record("dup-r2", a), _record("dup-r3", json.dumps(b))]
    records.append(_record("dup-r4", json.dumps(c)))
    # WHEN the handler runs the batch
    answer, accepted, parked, summary = _run(world, handler, monkeypatch, caplog, records)
    # THEN Meta gets each event once, the repeats are duplicate skips, and the four records add up
    assert answer == {"batchItemFailures": []}
    assert sorted(a.event["event_id"] for a in accepted) == ["dup-a", "dup-shared"]
    assert parked == []
    assert summary["delivered"] == 2
    assert summary["skipped"] == {"duplicate": 2}
    assert summary["dead_lettered"] == {}


def test_a_later_copy_of_a_delivered_event_is_a_duplicate_skip(world, handler, monkeypatch, caplog):
    # GIVEN an event delivered by one batch
    body = json.dumps(order("dup-later"))
    _run(world, handler, monkeypatch, caplog, [_record("later-r1", body)])
    caplog.clear()
    # WHEN a second SQS message carries the same event
    answer, accepted, parked, summary = _run(world, handler, monkeypatch, caplog, [_record("later-r2", body)])
    assert parked == []
    # THEN it is not sent again and is counted as a duplicate skip
    assert answer == {"batchItemFailures": []}
    assert accepted == []
    assert summary["skipped"] == {"duplicate": 1}
    assert summary["delivered"] == 0


def test_large_malformed_bodies_are_parked_one_sqs_call_each(world, handler, monkeypatch, caplog):
    # GIVEN three 200 KB bodies that are not events (over the 64 KiB event cap) beside a good event:
    # together they exceed SendMessageBatch's 256 KiB
    big = [_record(f"big-r{i}", json.dumps({"blob": "b" * 200_000, "i": i})) for i in range(3)]
    records = [*big, _record("big-good", json.dumps(order("big-good")))]
    # WHEN the handler runs the batch
    answer, accepted, parked, summary = _run(world, handler, monkeypatch, caplog, records)
    # THEN each big body is parked with its reason (split by bytes), and the good event is delivered
    assert answer == {"batchItemFailures": []}
    assert [a.event["event_id"] for a in accepted] == ["big-good"]
    assert sorted(m["Body"] for m in parked) == sorted(r["body"] for r in big)
    assert {string_attribute(m["MessageAttributes"], REASON) for m in parked} == {"malformed"}
    assert summary["dead_lettered"] == {"malformed": 3}
