"""relay.local.graph: the in-process Meta Graph API emulator answers like Meta (reference §0-3, §7), over loopback."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import urllib3
from urllib3.exceptions import ReadTimeoutError

from relay.local.graph import VERSION_WARNING_HEADER, Fault, GraphEmulator
from relay.vendors.meta_capi.limits import MAX_EVENT_AGE, MAX_EVENTS_PER_REQUEST

PIXEL = "1234567890"
OTHER_PIXEL = "5550001"
TOKEN = "token-valid"
NOW = 1_795_000_000
EMAIL_HASH = hashlib.sha256(b"jane@example.com").hexdigest()
UA = "Mozilla/5.0 (X11; Linux x86_64) Test/1.0"


def make_event(event_id: str = "order-1", **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": NOW - 60,
        "action_source": "website",
        "event_source_url": "https://shop.example.com/thanks",
        "event_id": event_id,
        "user_data": {"em": [EMAIL_HASH], "client_user_agent": UA, "client_ip_address": "2001:db8::1"},
        "custom_data": {"currency": "USD", "value": 123.45},
    }
    event.update(overrides)
    return event


@pytest.fixture
def emulator() -> Iterator[GraphEmulator]:
    with GraphEmulator(access_tokens={PIXEL: TOKEN}, now=lambda: NOW) as emu:
        yield emu


@pytest.fixture(scope="module")
def http() -> Iterator[urllib3.PoolManager]:
    with urllib3.PoolManager(
        maxsize=8, retries=False, timeout=urllib3.Timeout(connect=1.0, read=2.0)
    ) as pool:
        yield pool


class Answer:
    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.json: dict[str, Any] = json.loads(response.data)

    @property
    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = self.json["error"]
        return error


def post(
    http: urllib3.PoolManager,
    emu: GraphEmulator,
    events: list[Any] | None = None,
    *,
    token: str | None = TOKEN,
    path: str = f"/v25.0/{PIXEL}/events",
    body: Any = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
    method: str = "POST",
    read_timeout: float = 2.0,
) -> Answer:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    payload = raw if raw is not None else json.dumps(body if body is not None else {"data": events}).encode()
    response = http.request(
        method,
        emu.url + path,
        body=payload,
        headers=headers,
        timeout=urllib3.Timeout(connect=1.0, read=read_timeout),
    )
    return Answer(response)


def wait_for_requests(emu: GraphEmulator, count: int) -> None:
    deadline = time.monotonic() + 3.0
    while len(emu.requests) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_valid_batch_is_accepted_recorded_and_counted(emulator, http):
    # GIVEN two valid website events and a test_event_code
    events = [make_event("order-1"), make_event("order-2", event_name="AddToCart", custom_data={})]
    # WHEN they are posted with the Bearer token
    answer = post(http, emulator, body={"data": events, "test_event_code": "TEST123"})
    # THEN Meta's success shape comes back and both events are accepted in order
    assert answer.status == 200
    assert answer.json["events_received"] == 2
    assert answer.json["messages"] == []
    assert isinstance(answer.json["fbtrace_id"], str)
    assert answer.json["fbtrace_id"]
    assert emulator.accepted_keys() == [(PIXEL, "Purchase", "order-1"), (PIXEL, "AddToCart", "order-2")]
    assert [a.test_event_code for a in emulator.accepted] == ["TEST123", "TEST123"]
    assert emulator.accepted[0].event == events[0]
    # AND the request is recorded with lower-case header names
    [request] = emulator.requests
    assert (request.pixel_id, request.version, request.path) == (PIXEL, "v25.0", f"/v25.0/{PIXEL}/events")
    assert (request.status, request.error_code, request.event_count) == (200, None, 2)
    assert request.query == {}
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.body == {"data": events, "test_event_code": "TEST123"}
    assert emulator.duplicates() == []


def test_token_in_json_body_is_accepted(emulator, http):
    # GIVEN no Authorization header but access_token in the JSON body
    body = {"data": [make_event()], "access_token": TOKEN}
    # WHEN posted
    answer = post(http, emulator, token=None, body=body)
    # THEN Meta accepts it
    assert answer.status == 200
    assert answer.json["events_received"] == 1


def test_token_in_url_query_is_rejected_even_with_a_valid_header(emulator, http):
    # GIVEN a request carrying the token in the URL query string
    path = f"/v25.0/{PIXEL}/events?access_token={TOKEN}"
    # WHEN posted (with a valid header too)
    answer = post(http, emulator, [make_event()], path=path)
    # THEN 400 code 100 names the URL rule and nothing is accepted
    assert answer.status == 400
    assert answer.error["code"] == 100
    assert answer.error["type"] == "OAuthException"
    assert answer.error["is_transient"] is False
    assert "not accepted in the URL" in answer.error["message"]
    assert emulator.accepted == []
    assert emulator.requests[0].query == {"access_token": TOKEN}
    assert emulator.requests[0].error_code == 100


def test_missing_token_answers_190_without_subcode(emulator, http):
    # GIVEN no token anywhere
    # WHEN posted
    answer = post(http, emulator, [make_event()], token=None)
    # THEN 400 code 190 "An access token is required"
    assert answer.status == 400
    assert answer.error["code"] == 190
    assert "error_subcode" not in answer.error
    assert answer.error["message"].startswith("An access token is required")
    assert emulator.accepted == []


def test_wrong_token_answers_190_subcode_460(emulator, http):
    # GIVEN a token that is not the pixel's
    # WHEN posted
    answer = post(http, emulator, [make_event()], token="token-stolen")
    # THEN 400 code 190 subcode 460, not transient
    assert answer.status == 400
    assert (answer.error["code"], answer.error["error_subcode"], answer.error["is_transient"]) == (
        190,
        460,
        False,
    )
    assert emulator.accepted == []


def test_unknown_pixel_answers_100_subcode_33_when_tokens_are_configured(emulator, http):
    # GIVEN a pixel that access_tokens does not list
    # WHEN posted
    answer = post(http, emulator, [make_event()], path=f"/v25.0/{OTHER_PIXEL}/events")
    # THEN Meta's "object does not exist" error
    assert answer.status == 400
    assert (answer.error["code"], answer.error["error_subcode"]) == (100, 33)
    assert OTHER_PIXEL in answer.error["message"]


def test_open_emulator_accepts_any_non_empty_token(http):
    # GIVEN an emulator without access_tokens
    with GraphEmulator(now=lambda: NOW) as emu:
        # WHEN any token is used, then an empty one
        accepted = post(http, emu, [make_event()], token="anything", path=f"/v26.0/{OTHER_PIXEL}/events")
        empty = post(http, emu, [make_event()], token="", path=f"/v26.0/{OTHER_PIXEL}/events")
    # THEN the first is accepted and the empty one answers 190
    assert accepted.status == 200
    assert (empty.status, empty.error["code"]) == (400, 190)
    assert emu.accepted_keys() == [(OTHER_PIXEL, "Purchase", "order-1")]


def test_set_token_rotates_the_valid_token(emulator, http):
    # GIVEN the old token works
    assert post(http, emulator, [make_event("a")]).status == 200
    # WHEN the token is rotated
    emulator.set_token(PIXEL, "token-new")
    old = post(http, emulator, [make_event("b")])
    new = post(http, emulator, [make_event("b")], token="token-new")
    # THEN the old token answers 190/460 and the new one delivers
    assert (old.status, old.error["code"], old.error["error_subcode"]) == (400, 190, 460)
    assert new.status == 200
    assert emulator.accepted_keys() == [(PIXEL, "Purchase", "a"), (PIXEL, "Purchase", "b")]


@pytest.mark.parametrize(
    ("kind", "status", "code", "subcode", "transient"),
    [
        ("http_500", 500, 1, None, True),
        ("http_503", 503, 2, None, True),
        ("http_429", 429, 4, None, True),
        ("throttle_4", 400, 4, None, True),
        ("throttle_17", 400, 17, 2446079, True),
        ("transient", 400, 2, None, True),
        ("invalid_100", 400, 100, 2804050, False),
        ("auth_190", 400, 190, 463, False),
        ("version_2635", 400, 2635, None, False),
    ],
)
def test_fault_answers_like_meta_and_is_consumed_after_times(
    emulator, http, kind, status, code, subcode, transient
):
    # GIVEN a fault injected for two requests
    emulator.inject(Fault(kind, times=2))
    # WHEN three valid requests are posted
    answers = [post(http, emulator, [make_event(f"e{i}")]) for i in range(3)]
    # THEN the first two get the fault, the third is accepted
    for answer in answers[:2]:
        assert answer.status == status
        assert answer.error["code"] == code
        assert answer.error.get("error_subcode") == subcode
        assert answer.error["is_transient"] is transient
        assert answer.error["type"] == "OAuthException"
        assert answer.error["fbtrace_id"]
    assert answers[2].status == 200
    assert emulator.accepted_keys() == [(PIXEL, "Purchase", "e2")]
    assert [r.error_code for r in emulator.requests] == [code, code, None]


def test_version_2635_message_names_the_deprecated_version(emulator, http):
    # GIVEN a version fault
    emulator.inject(Fault("version_2635"))
    # WHEN posted
    answer = post(http, emulator, [make_event()])
    # THEN Meta's wording
    assert "You are calling a deprecated version of the Ads API" in answer.error["message"]


def test_faults_are_consumed_in_order_and_respect_pixel_id(emulator, http):
    # GIVEN a fault for another pixel queued before two faults for any pixel
    emulator.set_token(OTHER_PIXEL, TOKEN)
    emulator.inject(Fault("auth_190", pixel_id=OTHER_PIXEL))
    emulator.inject(Fault("http_500"))
    emulator.inject(Fault("throttle_17"))
    # WHEN four requests go to PIXEL, then one to OTHER_PIXEL
    codes = [post(http, emulator, [make_event(f"e{i}")]).json.get("error", {}).get("code") for i in range(3)]
    other = post(http, emulator, [make_event("o")], path=f"/v25.0/{OTHER_PIXEL}/events")
    # THEN PIXEL sees 1 then 17 then success; OTHER_PIXEL sees its own fault
    assert codes == [1, 17, None]
    assert (other.status, other.error["code"], other.error["error_subcode"]) == (400, 190, 463)


def test_poisoned_event_rejects_the_whole_batch(emulator, http):
    # GIVEN a poisoned event id in the middle of a batch
    emulator.poison("order-bad")
    batch = [make_event("order-1"), make_event("order-bad"), make_event("order-3")]
    # WHEN the batch is posted, then the batch without it
    rejected = post(http, emulator, batch)
    accepted = post(http, emulator, [batch[0], batch[2]])
    # THEN the whole first batch fails with code 100 naming data[1]; the second is accepted
    assert rejected.status == 400
    assert (rejected.error["code"], rejected.error["error_subcode"]) == (100, 2804050)
    assert "data[1]" in rejected.error["message"]
    assert accepted.status == 200
    assert emulator.accepted_keys() == [(PIXEL, "Purchase", "order-1"), (PIXEL, "Purchase", "order-3")]


def test_batch_limit_is_max_events_per_request(emulator, http):
    # GIVEN batches of exactly the limit and one more
    full = [make_event(f"e{i}") for i in range(MAX_EVENTS_PER_REQUEST)]
    # WHEN both are posted
    ok = post(http, emulator, full)
    too_many = post(http, emulator, [*full, make_event("extra")])
    # THEN the limit is accepted and limit+1 is rejected whole with code 100 naming the count
    assert ok.json["events_received"] == MAX_EVENTS_PER_REQUEST
    assert too_many.status == 400
    assert too_many.error["code"] == 100
    assert f"{MAX_EVENTS_PER_REQUEST + 1} events" in too_many.error["message"]
    assert str(MAX_EVENTS_PER_REQUEST) in too_many.error["message"]
    assert len(emulator.accepted) == MAX_EVENTS_PER_REQUEST
    assert emulator.requests[1].event_count == MAX_EVENTS_PER_REQUEST + 1


@pytest.mark.parametrize("body", [{"data": []}, {"data": "x"}, {"events": [1]}, [1, 2]])
def test_missing_or_empty_data_is_rejected(emulator, http, body):
    # GIVEN a body without a non-empty data array
    # WHEN posted
    answer = post(http, emulator, body=body)
    # THEN 400 code 100
    assert answer.status == 400
    assert answer.error["code"] == 100
    assert emulator.accepted == []


def test_stale_event_time_rejects_the_whole_request(emulator, http):
    # GIVEN a batch whose second event is one second older than MAX_EVENT_AGE
    stale = NOW - int(MAX_EVENT_AGE.total_seconds()) - 1
    batch = [make_event("fresh"), make_event("stale", event_time=stale)]
    # WHEN posted
    answer = post(http, emulator, batch)
    # THEN 400 code 100 subcode 2804003 naming data[1], and nothing is accepted
    assert answer.status == 400
    assert (answer.error["code"], answer.error["error_subcode"]) == (100, 2804003)
    assert "data[1].event_time" in answer.error["message"]
    assert "too far in the past" in answer.error["message"]
    assert emulator.accepted == []


def test_event_time_at_the_age_limit_and_old_physical_store_events_are_accepted(emulator, http):
    # GIVEN an event exactly MAX_EVENT_AGE old and a 30-day-old physical_store event
    edge = make_event("edge", event_time=NOW - int(MAX_EVENT_AGE.total_seconds()))
    store = make_event("store", action_source="physical_store", event_time=NOW - 30 * 86_400)
    # WHEN posted
    answer = post(http, emulator, [edge, store])
    # THEN both are accepted
    assert answer.json["events_received"] == 2


@pytest.mark.parametrize(
    ("user_data", "field"),
    [
        ({"em": "jane@example.com", "client_user_agent": UA}, "em"),
        ({"em": [EMAIL_HASH, "jane@example.com"], "client_user_agent": UA}, "em"),
        ({"ph": EMAIL_HASH.upper(), "client_user_agent": UA}, "ph"),
        ({"external_id": "user-1", "client_user_agent": UA}, "external_id"),
    ],
)
def test_unhashed_match_key_is_rejected(emulator, http, user_data, field):
    # GIVEN an event whose hashed key is not 64 lower-case hex
    # WHEN posted after a valid event
    answer = post(http, emulator, [make_event("ok"), make_event("bad", user_data=user_data)])
    # THEN 400 code 100 subcode 2804050 naming data[1] and the field
    assert answer.status == 400
    assert (answer.error["code"], answer.error["error_subcode"]) == (100, 2804050)
    assert f"data[1].user_data.{field}" in answer.error["message"]
    assert emulator.accepted == []


def test_website_event_without_user_agent_is_rejected(emulator, http):
    # GIVEN a website event without client_user_agent
    event = make_event(user_data={"em": EMAIL_HASH})
    # WHEN posted
    answer = post(http, emulator, [event])
    # THEN 400 code 100 naming the field
    assert answer.status == 400
    assert answer.error["code"] == 100
    assert "data[0].user_data.client_user_agent" in answer.error["message"]
    assert emulator.accepted == []


def test_non_website_event_needs_no_user_agent_or_url(emulator, http):
    # GIVEN a system_generated event with only a hashed email
    event = make_event(action_source="system_generated", user_data={"em": EMAIL_HASH})
    del event["event_source_url"]
    # WHEN posted
    answer = post(http, emulator, [event])
    # THEN it is accepted
    assert answer.status == 200


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"event_source_url": ""}, "data[0].event_source_url"),
        ({"event_name": None}, "data[0].event_name"),
        ({"event_time": 1.5e9}, "data[0].event_time"),
        ({"action_source": "web"}, "data[0].action_source"),
        ({"user_data": {}}, "data[0].user_data"),
        ({"custom_data": {"value": 10}}, "data[0].custom_data"),
        ({"custom_data": {"value": "10", "currency": "USD"}}, "data[0].custom_data"),
    ],
)
def test_invalid_event_fields_are_rejected(emulator, http, overrides, needle):
    # GIVEN an event with one invalid field
    # WHEN posted
    answer = post(http, emulator, [make_event(**overrides)])
    # THEN 400 code 100 naming it
    assert answer.status == 400
    assert answer.error["code"] == 100
    assert needle in answer.error["message"]


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"[" * 100_000, "application/json"),
        (b"null", "application/json"),
        (b'{"data": [1]}', "application/json"),
        (b'{"data": [{"event_name": ["x"], "action_source": {}, "user_data": []}]}', "application/json"),
        (b'{"data": [{"event_id": ["x"]}]}', "application/json"),
        (b"", "application/json"),
        (json.dumps({"data": [make_event()]}).encode(), "text/plain"),
    ],
)
def test_malformed_bodies_answer_400_code_100_and_the_server_survives(emulator, http, raw, content_type):
    # GIVEN a malformed body or content type
    # WHEN posted
    answer = post(http, emulator, raw=raw, content_type=content_type)
    # THEN 400 code 100, and a valid request still works afterwards
    assert answer.status == 400
    assert answer.error["code"] == 100
    assert post(http, emulator, [make_event()]).status == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v25.0/me/events"),
        ("POST", "/v25.1/1234567890/events"),
        ("POST", "/1234567890/events"),
        ("POST", "/v25.0/1234567890/activities"),
        ("GET", "/v25.0/1234567890/events"),
    ],
)
def test_other_paths_answer_404_code_803(emulator, http, method, path):
    # GIVEN a path or method other than POST /{version}/{pixel_id}/events
    # WHEN requested
    answer = post(http, emulator, [make_event()], path=path, method=method)
    # THEN 404 with Graph's unknown-path error, recorded without pixel/version
    assert answer.status == 404
    assert answer.error["code"] == 803
    assert (emulator.requests[0].pixel_id, emulator.requests[0].version) == (None, None)
    assert emulator.accepted == []


def test_timeout_sleeps_past_the_client_read_timeout_and_does_not_accept(http):
    # GIVEN a timeout fault that sleeps 0.5 s
    with GraphEmulator(access_tokens={PIXEL: TOKEN}, now=lambda: NOW, timeout_sleep_s=0.5) as emu:
        emu.inject(Fault("timeout"))
        # WHEN the client reads with a 0.2 s timeout
        started = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            post(http, emu, [make_event()], read_timeout=0.2)
        assert time.monotonic() - started < 0.5
        wait_for_requests(emu, 1)
        # THEN the server answered 200 later but accepted nothing, and the retry is accepted once
        assert (emu.requests[0].status, emu.requests[0].error_code) == (200, None)
        assert emu.accepted == []
        assert post(http, emu, [make_event()]).status == 200
    assert emu.accepted_keys() == [(PIXEL, "Purchase", "order-1")]
    assert emu.duplicates() == []


def test_timeout_accepts_makes_a_retry_a_duplicate(http):
    # GIVEN timeout_accepts=True: Meta got the events although the client gave up
    with GraphEmulator(
        access_tokens={PIXEL: TOKEN}, now=lambda: NOW, timeout_sleep_s=0.5, timeout_accepts=True
    ) as emu:
        emu.inject(Fault("timeout"))
        with pytest.raises(ReadTimeoutError):
            post(http, emu, [make_event()], read_timeout=0.2)
        wait_for_requests(emu, 1)
        # WHEN the client retries the same event
        assert post(http, emu, [make_event()]).status == 200
    # THEN the key was accepted twice and duplicates() reports it
    assert emu.accepted_keys() == [(PIXEL, "Purchase", "order-1")] * 2
    assert emu.duplicates() == [(PIXEL, "Purchase", "order-1")]


def test_duplicates_reports_repeated_keys_only_with_an_event_id(emulator, http):
    # GIVEN one key sent twice, another once, and two events without event_id
    no_id = make_event()
    del no_id["event_id"]
    post(http, emulator, [make_event("a"), make_event("b")])
    post(http, emulator, [make_event("a"), no_id, no_id])
    # WHEN duplicates are computed
    duplicates = emulator.duplicates()
    # THEN only the repeated key with an id is reported
    assert duplicates == [(PIXEL, "Purchase", "a")]
    assert emulator.accepted_keys()[-1] == (PIXEL, "Purchase", "")


def test_deprecated_version_adds_the_warning_header_and_still_answers(http):
    # GIVEN v24.0 is configured as deprecated
    with GraphEmulator(access_tokens={PIXEL: TOKEN}, now=lambda: NOW, deprecated_versions={"v24.0"}) as emu:
        # WHEN both versions are called
        old = post(http, emu, [make_event("a")], path=f"/v24.0/{PIXEL}/events")
        current = post(http, emu, [make_event("b")])
    # THEN only the deprecated one carries the header, and both are accepted
    assert old.status == 200
    assert "v24.0" in old.headers[VERSION_WARNING_HEADER]
    assert current.status == 200
    assert VERSION_WARNING_HEADER not in current.headers
    assert len(emu.accepted) == 2


def test_latency_delays_every_answer(http):
    # GIVEN 0.1 s of latency
    with GraphEmulator(now=lambda: NOW, latency_s=0.1) as emu:
        # WHEN a request is sent
        started = time.monotonic()
        answer = post(http, emu, [make_event()])
        elapsed = time.monotonic() - started
    # THEN it is answered after the latency
    assert answer.status == 200
    assert elapsed >= 0.1


def test_failure_rates_are_seeded_and_reproducible(http):
    # GIVEN two emulators with the same seed and a 50 % 503 rate
    statuses: list[list[int]] = []
    for _ in range(2):
        with GraphEmulator(now=lambda: NOW, failure_rates={"http_503": 0.5}, seed=7) as emu:
            # WHEN ten requests are sent to each
            statuses.append([post(http, emu, [make_event(f"e{i}")]).status for i in range(10)])
    # THEN both see the same mix of 503 and 200
    assert statuses[0] == statuses[1]
    assert set(statuses[0]) == {200, 503}


def test_failure_rate_one_fails_every_request(http):
    # GIVEN a 100 % throttle rate
    with GraphEmulator(now=lambda: NOW, failure_rates={"throttle_4": 1.0}) as emu:
        # WHEN three requests are sent
        codes = [post(http, emu, [make_event()]).error["code"] for _ in range(3)]
    # THEN all are throttled and nothing is accepted
    assert codes == [4, 4, 4]
    assert emu.accepted == []


def test_invalid_configuration_is_refused():
    # GIVEN / WHEN / THEN unknown fault kinds, rates outside [0, 1] and times < 1 raise ValueError
    with pytest.raises(ValueError, match="failure_rates"):
        GraphEmulator(failure_rates={"http_418": 0.1})
    with pytest.raises(ValueError, match="failure_rates"):
        GraphEmulator(failure_rates={"http_500": 1.5})
    with pytest.raises(ValueError, match="invalid fault"):
        Fault("http_418")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid fault"):
        Fault("http_500", times=0)


def test_concurrent_requests_are_all_recorded(emulator, http):
    # GIVEN 20 requests sent from 8 threads
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda i: post(http, emulator, [make_event(f"e{i}")]).status, range(20)))
    # THEN every one is answered, recorded and accepted exactly once
    assert statuses == [200] * 20
    assert len(emulator.requests) == 20
    assert sorted(key[2] for key in emulator.accepted_keys()) == sorted(f"e{i}" for i in range(20))
    assert emulator.duplicates() == []


def test_reset_forgets_requests_events_faults_and_poison(emulator, http):
    # GIVEN recorded traffic, a queued fault and a poisoned id
    post(http, emulator, [make_event("a")])
    emulator.inject(Fault("http_500"))
    emulator.poison("a")
    # WHEN reset
    emulator.reset()
    answer = post(http, emulator, [make_event("a")])
    # THEN the next request is accepted and is the only one recorded
    assert answer.status == 200
    assert len(emulator.requests) == 1
    assert emulator.accepted_keys() == [(PIXEL, "Purchase", "a")]


def test_stop_is_idempotent_and_start_serves_again(http):
    # GIVEN a stopped emulator
    emu = GraphEmulator(now=lambda: NOW)
    emu.start()
    emu.stop()
    emu.stop()
    # WHEN started again
    url = emu.start()
    try:
        answer = post(http, emu, [make_event()])
    finally:
        emu.stop()
    # THEN it serves on loopback
    assert url.startswith("http://127.0.0.1:")
    assert answer.status == 200


@pytest.mark.parametrize(
    ("kind", "status"), [("html_403", 403), ("html_404", 404), ("html_502", 502), ("html_200", 200)]
)
def test_proxy_pages_answer_html_with_their_status_and_accept_nothing(emulator, http, kind, status):
    # GIVEN a fault answering like something in front of Meta (a WAF, a proxy, a wrong URL)
    emulator.inject(Fault(kind))
    # WHEN a valid request is posted
    response = http.request(
        "POST",
        f"{emulator.url}/v25.0/{PIXEL}/events",
        body=json.dumps({"data": [make_event()]}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    # THEN an HTML page with that status, no Graph JSON, nothing accepted, the request recorded
    assert response.status == status
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.data.startswith(b"<html>")
    assert emulator.accepted == []
    assert [(r.status, r.error_code, r.event_count) for r in emulator.requests] == [(status, None, 1)]


def test_redirect_302_points_elsewhere_and_accepts_nothing(http):
    # GIVEN a redirect fault with a Location
    with GraphEmulator(redirect_location="http://127.0.0.1:9/login") as emu:
        emu.inject(Fault("redirect_302"))
        # WHEN posted without following redirects
        response = http.request(
            "POST",
            f"{emu.url}/v25.0/{PIXEL}/events",
            body=json.dumps({"data": [make_event()]}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
            redirect=False,
        )
    # THEN 302 to that Location, nothing accepted
    assert (response.status, response.headers["Location"]) == (302, "http://127.0.0.1:9/login")
    assert emu.accepted == []


def test_received_none_answers_a_success_counting_zero_events_and_accepts_nothing(emulator, http):
    # GIVEN a fault answering a success that counts no event
    emulator.inject(Fault("received_none"))
    # WHEN two valid events are posted
    answer = post(http, emulator, [make_event("a"), make_event("b")])
    # THEN 200, events_received 0, nothing accepted
    assert (answer.status, answer.json["events_received"]) == (200, 0)
    assert emulator.accepted == []


def test_trickle_sends_the_headers_then_a_byte_per_interval_until_the_client_leaves(http):
    # GIVEN a trickle fault at one byte every 0.05 s
    with GraphEmulator(trickle_interval_s=0.05) as emu:
        emu.inject(Fault("trickle"))
        response = http.request(
            "POST",
            f"{emu.url}/v25.0/{PIXEL}/events",
            body=json.dumps({"data": [make_event()]}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
            preload_content=False,
        )
        # WHEN five bytes are read
        started = time.monotonic()
        got = b"".join(response.read(1) for _ in range(5))
        elapsed = time.monotonic() - started
        response.close()
    # THEN 200 announcing a long body, arriving one byte per interval; nothing accepted
    assert (response.status, response.headers["Content-Length"]) == (200, "1000000")
    assert got == b"     "
    assert 0.15 <= elapsed < 1.0
    assert emu.accepted == []
