"""Request building: per pixel, ≤ 1,000 events and ≤ the byte cap per request, exact bytes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from relay.vendors.meta_capi.limits import MAX_EVENTS_PER_REQUEST
from relay.vendors.meta_capi.mapping import ServerEvent
from relay.vendors.meta_capi.request import build_requests


def ev(i: int, pixel: str = "1", pad: int = 0) -> ServerEvent:
    payload = {"event_name": "Lead", "event_id": f"e{i}", "pad": "x" * pad}
    return ServerEvent(pixel, "Lead", f"e{i}", 0, f"m{i}", payload)


def test_chunks_by_count_per_pixel_in_order():
    # GIVEN 2,500 events for one pixel and 3 for another, interleaved
    events = [ev(i, "1") for i in range(2500)] + [ev(i, "2") for i in range(3)]
    # WHEN requests are built
    requests, rejected = build_requests(events, test_event_code="TEST1")
    # THEN pixel 1 gets 1000 + 1000 + 500, pixel 2 gets 3, each body valid JSON with the test code
    assert [(r.pixel_id, len(r.events)) for r in requests] == [("1", 1000), ("1", 1000), ("1", 500), ("2", 3)]
    assert rejected == []
    assert all(len(r.events) <= MAX_EVENTS_PER_REQUEST for r in requests)
    doc = json.loads(requests[0].body)
    assert doc["test_event_code"] == "TEST1"
    assert [e["event_id"] for e in doc["data"]] == [f"e{i}" for i in range(1000)]


def test_chunks_by_bytes_and_rejects_an_event_that_cannot_fit():
    # GIVEN events of ~100 bytes, a 350-byte cap, and one event of 1,000 bytes
    events = [ev(i, pad=40) for i in range(6)] + [ev(99, pad=1000)]
    # WHEN requests are built
    requests, rejected = build_requests(events, max_bytes=350)
    # THEN every body is under the cap, no event is lost, and the oversized one is rejected
    assert all(len(r.body) <= 350 for r in requests)
    assert sum(len(r.events) for r in requests) == 6
    assert [r.message_id for r in rejected] == ["m99"]
    assert rejected[0].reason.startswith("event: ")
    assert [e["event_id"] for r in requests for e in json.loads(r.body)["data"]] == [
        f"e{i}" for i in range(6)
    ]


def test_no_test_event_code_key_without_a_code():
    # GIVEN one event and no test code
    requests, _ = build_requests([ev(1)])
    # THEN the body has only data
    assert list(json.loads(requests[0].body)) == ["data"]


@settings(max_examples=60, deadline=None)
@given(
    pads=st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=40),
    big=st.sets(st.integers(min_value=0, max_value=39), max_size=3),
    max_events=st.integers(min_value=1, max_value=12),
    max_bytes=st.integers(min_value=150, max_value=2_000),
    code=st.sampled_from([None, "TEST1"]),
)
def test_one_encoder_call_per_chunk_gives_the_bytes_of_event_by_event(
    pads: list[int], big: set[int], max_events: int, max_bytes: int, code: str | None
) -> None:
    # GIVEN events of random sizes (some with an integer orjson refuses) and random caps
    events = [ev(i, pixel=str(i % 2), pad=pad) for i, pad in enumerate(pads)]
    for i in big & set(range(len(events))):
        events[i].payload["n"] = 2**70
    # WHEN requests are built (the whole-chunk fast path where it fits)
    requests, rejected = build_requests(
        events, test_event_code=code, max_events=max_events, max_bytes=max_bytes
    )
    # THEN each body is exactly its events serialised one by one and joined, within both caps, and every
    # event is either sent once or rejected
    head = b'{"data":['
    tail = b"]" + (b',"test_event_code":"TEST1"' if code else b"") + b"}"
    for request in requests:
        assert request.body == head + b",".join(to_json(e.payload) for e in request.events) + tail
        assert len(request.body) <= max_bytes
        assert len(request.events) <= max_events
    sent = [str(e.message_id) for r in requests for e in r.events]
    assert sorted(sent + [str(r.message_id) for r in rejected]) == sorted(str(e.message_id) for e in events)
    assert len(set(sent)) == len(sent)
    for pixel in ("0", "1"):  # per pixel, in the events' order
        assert [m for r in requests if r.pixel_id == pixel for m in (e.message_id for e in r.events)] == [
            e.message_id for e in events if e.pixel_id == pixel and e.message_id in sent
        ]
