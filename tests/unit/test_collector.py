"""The collector over fakes: request reading, cookies, CORS, enrichment, limits, answers."""

from __future__ import annotations

import base64
import gzip
import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

import pytest

from relay.collector import cors
from relay.collector.app import CollectDeps, handle
from relay.collector.cookies import COOKIE_MAX_AGE_S, Jar, set_cookie
from relay.collector.request import MAX_EVENT_BYTES, MAX_REQUEST_BYTES, client_ip, read, write_key
from relay.local.serve import http_api_event
from relay.sources import Source
from tests.fakes import FakeLog

NOW = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)
NOW_MS = 1796385600000
KEY = "wk_test_0123456789"
SHOP = "https://shop.example.com"
FBCLID = "IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk"


@dataclass
class FakeSqs:
    """SendMessageBatch: records every call; `fail` entry ids (per call, in order) are answered Failed."""

    calls: list[list[dict[str, Any]]] = field(default_factory=list)
    fail: list[set[str]] = field(default_factory=list)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        failing = self.fail.pop(0) if self.fail else set()
        return {
            "Successful": [{"Id": e["Id"]} for e in Entries if e["Id"] not in failing],
            "Failed": [
                {"Id": e["Id"], "Code": "InternalError", "SenderFault": False}
                for e in Entries
                if e["Id"] in failing
            ],
        }

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(e["MessageBody"]) for call in self.calls for e in call]


@dataclass
class FakeProfiles:
    calls: list[dict[str, Any]] = field(default_factory=list)
    broken: bool = False

    def remember(self, source_id: str, **kwargs: Any) -> int:
        if self.broken:
            raise RuntimeError("dynamodb down")
        self.calls.append({"source_id": source_id, **kwargs})
        return 1


@dataclass
class World:
    sqs: FakeSqs = field(default_factory=FakeSqs)
    profiles: FakeProfiles = field(default_factory=FakeProfiles)
    log: FakeLog = field(default_factory=FakeLog)
    sources: dict[str, Source] = field(
        default_factory=lambda: {
            KEY: Source(
                id="web", allowed_origins=[SHOP, "https://*.example.org"], cookie_domain="example.com"
            )
        }
    )
    hops: int = 0
    counts: list[tuple[str, int]] = field(default_factory=list)

    def deps(self) -> CollectDeps:
        return CollectDeps(
            source_of=self.sources.get,
            origins=lambda: frozenset(
                o for s in self.sources.values() if s.enabled for o in s.allowed_origins
            ),
            sqs=self.sqs,
            queue_url="https://sqs.local/events",
            profiles=self.profiles,
            log=lambda: self.log,
            trusted_hops=self.hops,
            clock=lambda: NOW,
            rng=random.Random(7),
            sleep=lambda s: None,
            count=lambda name, value: self.counts.append((name, value)),
        )

    def post(
        self,
        path: str,
        body: dict[str, Any] | bytes,
        *,
        headers: dict[str, str] | None = None,
        ip: str = "203.0.113.7",
    ) -> dict[str, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        event = http_api_event("POST", path, headers or {}, data, source_ip=ip, request_id="req-1")
        return handle(event, self.deps())


def basic(key: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def browser(**extra: str) -> dict[str, str]:
    return {
        "origin": SHOP,
        "user-agent": "Mozilla/5.0 (X11) Chrome/156",
        "content-type": "text/plain",
        **extra,
    }


def answer_json(answer: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(answer["body"])
    return body


# ---- reading a request ------------------------------------------------------------------------


def test_write_key_from_basic_auth_then_body():
    # GIVEN / WHEN / THEN: the Basic user (password empty) wins, else writeKey in the body
    assert write_key(basic("abc"), {"writeKey": "zzz"}) == "abc"
    assert write_key({}, {"writeKey": " zzz "}) == "zzz"
    assert write_key({"authorization": "Basic !!!"}, {}) is None
    assert write_key({"authorization": "Bearer abc"}, {}) is None
    assert write_key({}, {"writeKey": 5}) is None


def test_cookies_from_the_v2_list_and_the_header():
    # GIVEN a payload v2 event (cookies listed) and one with a Cookie header
    listed = read({"cookies": ["_fbp=fb.1.1.2", "_fbp=other", "x=1"], "requestContext": {"http": {}}})
    header = read({"headers": {"Cookie": '_fbc="fb.1.2.abc"; _df_aid=aid-12345678'}, "requestContext": {}})
    # THEN the first value of a name wins and quotes are taken off
    assert listed.cookies == {"_fbp": "fb.1.1.2", "x": "1"}
    assert header.cookies == {"_fbc": "fb.1.2.abc", "_df_aid": "aid-12345678"}


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "203.0.113.7"),  # no proxy declared: a forged header is ignored
        (1, "198.51.100.1", "198.51.100.1"),  # CloudFront: the viewer is one hop left of the source IP
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # a forged first entry is not trusted
        (1, "198.51.100.1, 203.0.113.7", "198.51.100.1"),  # API Gateway appended the source IP already
        (2, "6.6.6.6, 198.51.100.1, 192.0.2.9", "198.51.100.1"),
        (1, "not-an-ip", None),  # the trusted entry is junk: unknown, never the proxy's own address
        (1, "198.51.100.1:4433", None),
        (1, "2001:DB8::1", "2001:DB8::1"),  # IPv6 kept as written
    ],
)
def test_client_ip_trusts_only_declared_proxies(hops, forwarded, expected):
    # GIVEN a request from 203.0.113.7 with an X-Forwarded-For header
    request = read(
        {"headers": {"x-forwarded-for": forwarded}, "requestContext": {"http": {"sourceIp": "203.0.113.7"}}}
    )
    # WHEN / THEN
    assert client_ip(request, hops) == expected


# ---- cookies ------------------------------------------------------------------------------------


def test_set_cookie_attributes():
    assert set_cookie("_fbp", "fb.1.2.3", domain=".example.com") == (
        f"_fbp=fb.1.2.3; Max-Age={COOKIE_MAX_AGE_S}; Path=/; Domain=example.com; Secure; SameSite=Lax"
    )
    assert (
        set_cookie("_fbp", "v", domain=None, secure=False) == "_fbp=v; Max-Age=7776000; Path=/; SameSite=Lax"
    )


def test_jar_keeps_a_valid_fbp_and_replaces_an_invalid_one():
    # GIVEN a valid and an invalid _fbp cookie
    kept = Jar.from_cookies({"_fbp": "fb.1.1700000000000.123"})
    replaced = Jar.from_cookies({"_fbp": "fb.1.x.123"})
    # WHEN asked for the browser id
    # THEN the valid one stays, the invalid one is replaced by a new fb.1.{ms}.{random}
    assert kept.browser_id(NOW_MS) == "fb.1.1700000000000.123"
    assert re.fullmatch(rf"fb\.1\.{NOW_MS}\.\d+", replaced.browser_id(NOW_MS, random.Random(1)))
    assert set(kept.to_set) == {"_fbp"}


def test_jar_fbc_follows_the_url_fbclid():
    # GIVEN a cookie for one fbclid
    jar = Jar.from_cookies({"_fbc": "fb.1.1700000000000.OldClick"})
    # WHEN the same fbclid comes again, then a different one (case kept)
    same = jar.click_id(None, "https://shop.example.com/?fbclid=OldClick", NOW_MS)
    new = jar.click_id(None, f"https://shop.example.com/p?x=1&fbclid={FBCLID}#top", NOW_MS)
    # THEN the cookie is kept, then replaced with a fresh creation time
    assert same == "fb.1.1700000000000.OldClick"
    assert new == f"fb.1.{NOW_MS}.{FBCLID}"
    assert jar.to_set["_fbc"] == new


def test_jar_anonymous_id_from_cookie_or_new():
    assert Jar.from_cookies({"_df_aid": "aid-12345678"}).anonymous() == "aid-12345678"
    assert Jar.from_cookies({"_df_aid": "<script>"}).anonymous(lambda: "new-id-0001") == "new-id-0001"


# ---- CORS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.example.com", True),
        ("https://shop.example.com/", True),
        ("HTTPS://SHOP.EXAMPLE.COM", True),
        ("http://shop.example.com", False),
        ("https://shop.example.com:8443", False),
        ("https://evil.example.com", False),
        ("https://a.example.org", True),
        ("https://a.b.example.org", True),
        ("https://example.org", False),
        ("https://evilexample.org", False),
        ("null", False),
    ],
)
def test_origin_patterns(origin, allowed):
    assert cors.allows(["https://shop.example.com", "https://*.example.org"], origin) is allowed


# ---- collecting ---------------------------------------------------------------------------------


def test_a_browser_track_is_enriched_queued_and_answered_like_segment():
    # GIVEN a browser on the shop, arriving from an ad click, with no cookies yet
    world = World()
    body = {
        "writeKey": KEY,
        "event": "Order Completed",
        "properties": {"total": 12.5, "currency": "EUR"},
        "context": {"page": {"url": f"https://shop.example.com/?fbclid={FBCLID}"}},
    }
    # WHEN it sends a track call
    answer = world.post("/v1/track", body, headers=browser())
    # THEN Segment's answer, the CORS grant with credentials, and three first-party cookies
    assert answer["statusCode"] == 200
    assert answer_json(answer) == {"success": True}
    assert answer["headers"]["Access-Control-Allow-Origin"] == SHOP
    assert answer["headers"]["Access-Control-Allow-Credentials"] == "true"
    assert answer["headers"]["Cache-Control"] == "no-store"
    cookies = {c.split("=", 1)[0]: c for c in answer["cookies"]}
    assert set(cookies) == {"_df_aid", "_fbp", "_fbc"}
    assert cookies["_fbc"] == (
        f"_fbc=fb.1.{NOW_MS}.{FBCLID}; Max-Age=7776000; Path=/; Domain=example.com; Secure; SameSite=Lax"
    )
    # AND one queued message: the event as sent, plus what only the server knows
    (queued,) = world.sqs.bodies()
    fbp = cookies["_fbp"].split(";")[0].split("=", 1)[1]
    aid = cookies["_df_aid"].split(";")[0].split("=", 1)[1]
    assert re.fullmatch(rf"fb\.1\.{NOW_MS}\.\d+", fbp)
    assert queued == {
        "event": "Order Completed",
        "properties": {"total": 12.5, "currency": "EUR"},
        "context": {
            "page": {"url": f"https://shop.example.com/?fbclid={FBCLID}"},
            "source_id": "web",
            "ip": "203.0.113.7",
            "userAgent": "Mozilla/5.0 (X11) Chrome/156",
            "fbp": fbp,
            "fbc": f"fb.1.{NOW_MS}.{FBCLID}",
        },
        "type": "track",
        "messageId": queued["messageId"],
        "receivedAt": "2026-12-04T12:00:00.000Z",
        "anonymousId": aid,
    }
    assert "writeKey" not in json.dumps(queued)


def test_existing_cookies_and_the_events_own_signals_are_kept():
    # GIVEN a returning browser: cookies set, and an event carrying its own ip, userAgent and anonymousId
    world = World()
    headers = browser(
        cookie="_fbp=fb.1.1700000000000.42; _fbc=fb.1.1700000000000.Click; _df_aid=aid-12345678"
    )
    body = {
        "writeKey": KEY,
        "type": "page",
        "anonymousId": "aid-12345678",
        "messageId": "m-1",
        "receivedAt": "2026-12-01T00:00:00Z",
        "context": {"ip": "2001:db8::7", "userAgent": "Own/1.0", "source_id": "someone-else"},
    }
    # WHEN it sends a page call (the endpoint decides the type)
    answer = world.post("/v1/page", body, headers=headers)
    # THEN nothing is replaced but the source, and the cookies are set again (90 more days)
    (queued,) = world.sqs.bodies()
    assert queued["messageId"] == "m-1"
    assert queued["receivedAt"] == "2026-12-01T00:00:00Z"
    assert queued["context"] == {
        "ip": "2001:db8::7",
        "userAgent": "Own/1.0",
        "source_id": "web",
        "fbp": "fb.1.1700000000000.42",
        "fbc": "fb.1.1700000000000.Click",
    }
    assert sorted(c.split("=", 1)[0] for c in answer["cookies"]) == ["_df_aid", "_fbc", "_fbp"]


def test_advertising_refused_means_no_fbp_or_fbc():
    # GIVEN consent that refuses advertising
    world = World()
    body = {
        "writeKey": KEY,
        "event": "Viewed",
        "context": {
            "consent": {"categoryPreferences": {"advertising": False}},
            "page": {"url": "https://shop.example.com/?fbclid=Abc"},
        },
    }
    # WHEN a browser sends it
    answer = world.post("/v1/track", body, headers=browser(cookie="_fbp=fb.1.1700000000000.42"))
    # THEN neither cookie is set nor copied into the event; the anonymous id still is
    (queued,) = world.sqs.bodies()
    assert "fbp" not in queued["context"]
    assert "fbc" not in queued["context"]
    assert [c.split("=", 1)[0] for c in answer["cookies"]] == ["_df_aid"]
    assert queued["context"]["consent"] == {"categoryPreferences": {"advertising": False}}


def test_a_server_client_gets_no_cookies_and_needs_an_id():
    # GIVEN a backend (no Origin) with Basic auth
    world = World()
    ok = world.post("/v1/identify", {"userId": "u-1", "traits": {"email": "A@B.com"}}, headers=basic(KEY))
    # WHEN it sends an event with neither anonymousId nor userId
    bad = world.post("/v1/track", {"event": "X"}, headers=basic(KEY))
    # THEN the first is queued without cookies or fbp; the second is refused naming the field
    assert ok["statusCode"] == 200
    assert "cookies" not in ok
    assert "Access-Control-Allow-Origin" not in ok["headers"]
    assert "fbp" not in world.sqs.bodies()[0]["context"]
    assert bad["statusCode"] == 400
    assert answer_json(bad)["rejected"] == [
        {"index": 0, "message": "anonymousId: one of anonymousId or userId is required"}
    ]


def test_identify_traits_are_hashed_into_the_profile():
    # GIVEN an identify from a browser with both ids
    world = World()
    traits = {
        "email": " Jane@Example.COM ",
        "phone": "+44 7700 900123",
        "firstName": "Jane",
        "city": "London",
    }
    world.post(
        "/v1/identify",
        {"writeKey": KEY, "userId": "user-123", "anonymousId": "aid-12345678", "traits": traits},
        headers=browser(),
    )
    # THEN the profile holds hashes only (and the browser's fbp), never a raw trait
    (call,) = world.profiles.calls
    assert call["source_id"] == "web"
    assert call["anonymous_id"] == "aid-12345678"
    assert call["user_id"] == "user-123"
    assert call["hashed"] == {
        "em": sha256(b"jane@example.com").hexdigest(),
        "ph": sha256(b"447700900123").hexdigest(),
        "fn": sha256(b"jane").hexdigest(),
        "ct": sha256(b"london").hexdigest(),
    }
    assert re.fullmatch(r"fb\.1\.\d{13}\.\d+", call["fbp"])
    assert "Jane" not in json.dumps(call, default=str)


def test_a_batch_keeps_the_good_events_and_names_the_bad_ones():
    # GIVEN a batch of 12 events, one of them with a wrong type and one too large
    world = World()
    events: list[Any] = [{"type": "track", "event": f"E{i}", "userId": "u"} for i in range(12)]
    events[3] = {"type": "track", "event": "E3", "userId": "u", "context": {"page": ["nope"]}}
    events[7] = {"type": "track", "event": "E7", "userId": "u", "properties": {"x": "y" * MAX_EVENT_BYTES}}
    events.append("not an object")
    # WHEN it arrives with a shared context
    answer = world.post("/v1/batch", {"batch": events, "context": {"locale": "en-GB"}}, headers=basic(KEY))
    # THEN the 10 good ones are queued in one SendMessageBatch, the bad ones named by index and field
    assert answer["statusCode"] == 400
    doc = answer_json(answer)
    assert doc["accepted"] == 10
    assert doc["code"] == "invalid_event"
    assert doc["rejected"] == [
        {"index": 3, "message": "context.page: Input should be a valid dictionary"},
        {"index": 7, "message": "event: larger than 32 KB (the limit per event)"},
        {"index": 12, "message": "event: expected a JSON object, got str"},
    ]
    assert len(world.sqs.calls) == 1
    assert [b["event"] for b in world.sqs.bodies()] == [f"E{i}" for i in range(12) if i not in (3, 7)]
    assert world.counts == [("EventsCollected", 10), ("EventsRejected", 3)]
    assert all(b["context"]["locale"] == "en-GB" for b in world.sqs.bodies())


def test_one_send_message_batch_per_ten_events_and_retries_failed_entries():
    # GIVEN SQS failing two entries of the first call once
    world = World()
    world.sqs.fail = [{"1", "4"}]
    batch = [{"type": "track", "event": f"E{i}", "userId": "u", "messageId": f"m{i}"} for i in range(25)]
    # WHEN 25 events arrive
    answer = world.post("/v1/batch", {"batch": batch}, headers=basic(KEY))
    # THEN 3 groups (10, 10, 5), the two failed entries sent again, and success
    assert answer["statusCode"] == 200
    assert [len(c) for c in world.sqs.calls] == [10, 2, 10, 5]
    assert sorted(b["messageId"] for b in world.sqs.bodies()) == sorted(
        [f"m{i}" for i in range(25)] + ["m1", "m4"]
    )


def test_events_that_cannot_be_queued_get_a_5xx_so_the_client_retries():
    # GIVEN SQS failing one entry on every attempt
    world = World()
    world.sqs.fail = [{"0"}, {"0"}, {"0"}]
    # WHEN an event arrives
    answer = world.post("/v1/track", {"event": "E", "userId": "u"}, headers=basic(KEY))
    # THEN 503 (never a 2xx for an event that was not queued), Retry-After, and a log line without data
    assert answer["statusCode"] == 503
    assert answer["headers"]["Retry-After"] == "1"
    assert answer_json(answer)["code"] == "unavailable"
    assert world.log.lines[0][0] == "error"
    assert world.log.lines[0][2]["failed"] == 1
    assert world.counts == [("EventsNotQueued", 1)]


def test_a_profile_that_cannot_be_stored_gets_a_5xx():
    world = World()
    world.profiles.broken = True
    answer = world.post("/v1/identify", {"userId": "u", "traits": {"email": "a@b.co"}}, headers=basic(KEY))
    assert answer["statusCode"] == 503


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({}, {"event": "E", "userId": "u"}, 401, "no write key"),
        (basic("wrong"), {"event": "E", "userId": "u"}, 401, "unknown write key"),
        (basic(KEY), b"{not json", 400, "body: not valid JSON"),
        (basic(KEY), b"[1, 2]", 400, "body: expected a JSON object, got list"),
        (basic(KEY), b"", 400, "body: empty"),
        (
            {**basic(KEY), "content-encoding": "br"},
            {"event": "E", "userId": "u"},
            400,
            "Content-Encoding: br is not supported",
        ),
        (basic(KEY), {"event": "x" * MAX_REQUEST_BYTES}, 400, "request: larger than 500 KB"),
        (basic(KEY), {"userId": "u"}, 400, "1 of 1 event(s) rejected"),
    ],
)
def test_refusals_name_the_field_or_limit(headers, body, status, message):
    # GIVEN / WHEN a bad request
    answer = World().post("/v1/track", body, headers=headers)
    # THEN its status, Segment's success=false and a message saying what is wrong
    assert answer["statusCode"] == status
    doc = answer_json(answer)
    assert doc["success"] is False
    assert doc["message"].startswith(message)
    if status == 401:
        assert answer["headers"]["WWW-Authenticate"] == 'Basic realm="relay"'


def test_a_disabled_source_and_a_foreign_origin_are_refused():
    # GIVEN a disabled source and a request from an origin outside the list
    world = World()
    world.sources["off"] = Source(id="off", enabled=False)
    disabled = world.post("/v1/track", {"event": "E", "userId": "u"}, headers=basic("off"))
    foreign = world.post(
        "/v1/track", {"writeKey": KEY, "event": "E"}, headers={"origin": "https://evil.example.net"}
    )
    # THEN 401 and 403, no CORS grant, nothing queued
    assert disabled["statusCode"] == 401
    assert foreign["statusCode"] == 403
    assert "Access-Control-Allow-Origin" not in foreign["headers"]
    assert world.sqs.calls == []


def test_gzip_bodies_are_read_and_bombs_are_refused():
    # GIVEN a gzipped batch (base64, as API Gateway passes binary bodies) and a gzip bomb
    world = World()
    small = gzip.compress(json.dumps({"batch": [{"type": "track", "event": "E", "userId": "u"}]}).encode())
    bomb = gzip.compress(b'{"batch": [' + b" " * (MAX_REQUEST_BYTES * 4) + b"]}")
    headers = {**basic(KEY), "content-encoding": "gzip"}
    # WHEN each arrives
    ok = world.post("/v1/batch", small, headers=headers)
    refused = world.post("/v1/batch", bomb, headers=headers)
    # THEN the first is queued, the second refused at the limit without inflating it all
    assert ok["statusCode"] == 200
    assert refused["statusCode"] == 400
    assert answer_json(refused)["code"] == "request_too_large"


def test_preflight_grants_only_origins_some_source_allows():
    world = World()
    event = http_api_event("OPTIONS", "/v1/track", {"origin": SHOP}, b"", source_ip="1.2.3.4", request_id="r")
    other = http_api_event(
        "OPTIONS",
        "/v1/track",
        {"origin": "https://evil.example.net"},
        b"",
        source_ip="1.2.3.4",
        request_id="r",
    )
    granted = handle(event, world.deps())
    refused = handle(other, world.deps())
    assert granted["statusCode"] == 204
    assert granted["headers"]["Access-Control-Allow-Origin"] == SHOP
    assert granted["headers"]["Access-Control-Allow-Credentials"] == "true"
    assert "Content-Type" in granted["headers"]["Access-Control-Allow-Headers"]
    assert refused["statusCode"] == 204
    assert "Access-Control-Allow-Origin" not in refused["headers"]


def test_the_tag_is_served_with_an_etag_gzip_and_304():
    world = World()
    plain = handle(
        http_api_event("GET", "/v1/df.js", {}, b"", source_ip="1.2.3.4", request_id="r"), world.deps()
    )
    zipped = handle(
        http_api_event(
            "GET", "/v1/df.js", {"accept-encoding": "gzip, br"}, b"", source_ip="1.2.3.4", request_id="r"
        ),
        world.deps(),
    )
    again = handle(
        http_api_event(
            "GET",
            "/v1/df.js",
            {"if-none-match": plain["headers"]["ETag"]},
            b"",
            source_ip="1.2.3.4",
            request_id="r",
        ),
        world.deps(),
    )
    assert plain["statusCode"] == 200
    assert plain["headers"]["Content-Type"] == "application/javascript; charset=utf-8"
    assert plain["headers"]["Cache-Control"].startswith("public, max-age=")
    assert "_df" in plain["body"]
    assert zipped["headers"]["Content-Encoding"] == "gzip"
    assert gzip.decompress(base64.b64decode(zipped["body"])).decode() == plain["body"]
    assert len(base64.b64decode(zipped["body"])) <= 4 * 1024
    assert again["statusCode"] == 304
    assert again["body"] == ""


def test_unknown_routes_are_404():
    answer = World().post("/v1/nope", {"event": "E"}, headers=basic(KEY))
    assert answer["statusCode"] == 404
    assert answer_json(answer)["code"] == "not_found"


# ---- hostile and odd input (review findings) ------------------------------------------------------


def test_a_deeply_nested_event_is_a_400_naming_the_nesting():
    # GIVEN an event nested 988 levels deep (orjson reads it; a naive size check would overflow)
    world = World()
    deep = "[" * 988 + "]" * 988
    body = ('{"type":"track","event":"x","anonymousId":"a-1","properties":{"p":' + deep + "}}").encode()
    # WHEN it arrives
    answer = world.post("/v1/track", body, headers=basic(KEY))
    # THEN 400 naming the nesting, nothing queued
    assert answer["statusCode"] == 400
    assert answer_json(answer)["rejected"][0]["message"] == "body: nested deeper than 32 levels"
    assert world.sqs.calls == []


def test_a_single_event_over_32_kb_is_a_400_naming_the_limit():
    world = World()
    answer = world.post(
        "/v1/track", {"event": "E", "userId": "u", "properties": {"x": "y" * 33000}}, headers=basic(KEY)
    )
    assert answer["statusCode"] == 400
    assert answer_json(answer)["rejected"] == [
        {"index": 0, "message": "event: larger than 32 KB (the limit per event)"}
    ]


def test_snake_case_ids_are_kept_so_a_retry_is_the_same_event():
    # GIVEN an event naming its id message_id (the envelope accepts both spellings), sent twice
    world = World()
    body = {"event": "E", "user_id": "u-1", "message_id": "m-1", "received_at": "2026-12-01T00:00:00Z"}
    world.post("/v1/track", body, headers=basic(KEY))
    world.post("/v1/track", body, headers=basic(KEY))
    # THEN no second id is added: both copies are m-1 (delivery's ledger drops the repeat)
    first, second = world.sqs.bodies()
    assert "messageId" not in first
    assert "receivedAt" not in first
    assert first == second


def test_an_identify_refusing_advertising_stores_no_fbp_or_fbc():
    world = World()
    world.post(
        "/v1/identify",
        {
            "userId": "u-1",
            "traits": {"email": "a@b.co"},
            "context": {
                "fbp": "fb.1.1700000000000.1",
                "consent": {"categoryPreferences": {"advertising": False}},
            },
        },
        headers=basic(KEY),
    )
    (call,) = world.profiles.calls
    assert (call["fbp"], call["fbc"]) == (None, None)
    assert call["hashed"] == {"em": sha256(b"a@b.co").hexdigest()}


def test_an_identify_with_both_ids_links_them_even_without_traits():
    world = World()
    world.post(
        "/v1/identify", {"userId": "u-1", "anonymousId": "a-1", "traits": {"plan": "pro"}}, headers=basic(KEY)
    )
    (call,) = world.profiles.calls
    assert (call["anonymous_id"], call["user_id"], call["hashed"]) == ("a-1", "u-1", {})


def test_fbc_comes_from_the_referer_when_the_event_has_no_page_url():
    world = World()
    world.post(
        "/v1/track",
        {"writeKey": KEY, "event": "E"},
        headers=browser(referer=f"https://shop.example.com/?fbclid={FBCLID}"),
    )
    (queued,) = world.sqs.bodies()
    assert queued["context"]["fbc"] == f"fb.1.{NOW_MS}.{FBCLID}"


def test_cookie_ids_carry_the_subdomain_index_of_the_domain_they_are_saved_on():
    # GIVEN a source without a cookie domain: the cookies are saved on the collector's host
    world = World()
    world.sources[KEY] = Source(id="web", allowed_origins=[SHOP])
    answer = world.post(
        "/v1/track",
        {"writeKey": KEY, "event": "E", "context": {"page": {"url": "https://shop.example.com/?fbclid=Ab"}}},
        headers=browser(host="t.shop.example.com"),
    )
    # THEN t.shop.example.com has 3 dots' worth of labels: index 3 (Meta: com 0, example.com 1, ...)
    values = dict(c.split(";")[0].split("=", 1) for c in answer["cookies"])
    assert values["_fbc"] == f"fb.3.{NOW_MS}.Ab"
    assert values["_fbp"].startswith(f"fb.3.{NOW_MS}.")


def test_a_cross_site_request_gets_no_new_fbp_but_keeps_the_pages_own():
    # GIVEN the collector on another site (its cookies would not be kept): Sec-Fetch-Site cross-site
    world = World()
    bare = world.post(
        "/v1/track", {"writeKey": KEY, "event": "E"}, headers=browser(**{"sec-fetch-site": "cross-site"})
    )
    pixel = world.post(
        "/v1/track",
        {
            "writeKey": KEY,
            "event": "E",
            "anonymousId": "aid-12345678",
            "context": {"fbp": "fb.1.1700000000000.7"},
        },
        headers=browser(**{"sec-fetch-site": "cross-site"}),
    )
    # THEN no random fbp is minted for the first; the second keeps the page's own (the Pixel's) fbp
    first, second = world.sqs.bodies()
    assert "fbp" not in first["context"]
    assert second["context"]["fbp"] == "fb.1.1700000000000.7"
    assert "_fbp" not in {c.split("=", 1)[0] for c in bare["cookies"]}
    assert pixel["statusCode"] == 200


def test_an_anonymous_id_sent_by_the_tag_becomes_the_cookie():
    # GIVEN df.js sending its own anonymousId and no _df_aid cookie yet
    world = World()
    answer = world.post("/v1/page", {"writeKey": KEY, "anonymousId": "aid-from-tag-1"}, headers=browser())
    # THEN the collector keeps it and sets it as the first-party cookie
    (queued,) = world.sqs.bodies()
    assert queued["anonymousId"] == "aid-from-tag-1"
    assert "_df_aid=aid-from-tag-1; Max-Age=7776000" in " ".join(answer["cookies"])


def test_a_body_with_u_fffe_is_queued_in_characters_sqs_accepts_without_growing():
    world = World()
    text = "\U0001f600" * 6000 + "\uffff"
    world.post("/v1/track", {"event": "E", "userId": "u", "properties": {"t": text}}, headers=basic(KEY))
    (call,) = world.sqs.calls
    body = call[0]["MessageBody"]
    assert "\uffff" not in body
    assert "\\uffff" in body
    assert json.loads(body)["properties"]["t"] == text
    assert len(body.encode()) < 32 * 1024
