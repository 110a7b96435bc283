"""The collector's routes over one API Gateway HTTP API (payload v2) event; errors answered in one place.

Routes (Segment's HTTP Tracking API): POST /v1/{track,page,screen,identify,group,alias,batch};
GET /v1/df.js (the browser tag); OPTIONS (CORS preflight). Seven fixed routes are a dict lookup: the
Event Handler's resolver would add ~120 ms to the cold import for nothing the collector uses.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Protocol

import orjson

from relay.collector import cors
from relay.collector.cookies import Jar
from relay.collector.errors import (
    BadRequest,
    CollectError,
    NotFound,
    OriginRefused,
    QueueUnavailable,
    Unauthorized,
)
from relay.collector.ingest import Intake, Seen, take
from relay.collector.request import Request, body_bytes, client_ip, read, write_key
from relay.observability import Log
from relay.queue import send_batched
from relay.sources import Source
from relay.static import Asset, serve

TRACK_TYPES = {
    "/v1/track": "track",
    "/v1/page": "page",
    "/v1/screen": "screen",
    "/v1/identify": "identify",
    "/v1/group": "group",
    "/v1/alias": "alias",
}
BATCH_PATH = "/v1/batch"
TAG_PATH = "/v1/df.js"
JSON = "application/json"
# df.js: cached a day by browsers and CDNs, then revalidated by its ETag (a week served stale meanwhile).
TAG_CACHE_CONTROL = "public, max-age=86400, stale-while-revalidate=604800"
SUCCESS = b'{"success":true}'


class ProfileWriter(Protocol):
    def remember(
        self,
        source_id: str,
        *,
        anonymous_id: str | None,
        user_id: str | None,
        hashed: Any,
        fbp: str | None,
        fbc: str | None,
        now: datetime,
    ) -> int: ...


@dataclass
class CollectDeps:
    """What the collector talks to, passed in (relay.apps.collect builds them over AWS)."""

    source_of: Callable[[str], Source | None]  # by write key (cached by the caller)
    origins: Callable[[], frozenset[str]]  # every enabled source's allowed origins (for preflights)
    sqs: Any
    queue_url: str
    profiles: ProfileWriter
    log: Callable[[], Log]
    trusted_hops: int = 0
    cookie_secure: bool = True
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    rng: random.Random | None = None
    remaining_s: Callable[[], float] | None = None
    sleep: Callable[[float], None] = time.sleep
    # Counts for the function's metrics (EventsCollected, EventsRejected, EventsNotQueued).
    count: Callable[[str, int], None] = field(default=lambda name, value: None)


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)
    content_type: str = JSON
    base64: bool = False

    def v2(self) -> dict[str, Any]:
        headers = {"Content-Type": self.content_type, **self.headers}
        out: dict[str, Any] = {
            "statusCode": self.status,
            "headers": headers,
            "body": base64.b64encode(self.body).decode("ascii") if self.base64 else self.body.decode("utf-8"),
            "isBase64Encoded": self.base64,
        }
        if self.cookies:
            out["cookies"] = self.cookies
        return out


def handle(event: Mapping[str, Any], deps: CollectDeps) -> dict[str, Any]:
    """Answer one HTTP API (payload v2) request to the collector; never raises for client input."""
    request = read(event)
    grant: dict[str, str] = {}
    try:
        if request.method == "OPTIONS":
            return _preflight(request, deps).v2()
        if request.method in ("GET", "HEAD") and request.path == TAG_PATH:
            return tag(request).v2()
        if request.method != "POST" or (request.path not in TRACK_TYPES and request.path != BATCH_PATH):
            raise NotFound(f"no route {request.method} {request.path[:100]}")
        answer = _collect(request, deps, grant)
    except CollectError as exc:
        answer = _refusal(exc)
    except Exception as exc:  # a defect: the client retries (5xx), the log says what kind, never the data
        deps.log().error("collector failed", extra={"error": type(exc).__name__})
        answer = Answer(500, b'{"success":false,"code":"internal","message":"internal error; retry"}')
    answer.headers.update(grant)
    answer.headers.setdefault("Cache-Control", "no-store")
    return answer.v2()


def _collect(request: Request, deps: CollectDeps, grant: dict[str, str]) -> Answer:
    body = _document(body_bytes(request.raw, request.headers))
    key = write_key(request.headers, body)
    if key is None:
        raise Unauthorized("no write key: send it as the HTTP Basic user name or as writeKey in the body")
    source = deps.source_of(key)
    if source is None:
        raise Unauthorized("unknown write key")
    if not source.enabled:
        raise Unauthorized("this write key's source is disabled")
    origin = request.origin
    if origin is not None:
        if not cors.allows(source.allowed_origins, origin):
            raise OriginRefused("origin not allowed for this source (see the source's allowed_origins)")
        grant.update(cors.grant(origin))
    raws, route_type, shared = _events(request.path, body)
    now = deps.clock()
    referer = request.headers.get("referer") or None
    seen = Seen(
        source_id=source.id,
        ip=client_ip(request, deps.trusted_hops),
        user_agent=request.headers.get("user-agent") or None,
        referer=referer,
        browser=origin is not None,
        received_at=now,
        cross_site=request.headers.get("sec-fetch-site", "").strip().lower() == "cross-site",
    )
    jar = Jar.from_cookies(request.cookies, domain=source.cookie_domain or request.host)
    intake = take(raws, seen, jar, route_type=route_type, shared_context=shared, rng=deps.rng)
    # Profiles first: a track queued in the same request must find its identify's profile when delivered.
    _remember(intake, source, deps, now)
    _enqueue(intake, deps)
    deps.count("EventsCollected", len(intake.entries))
    deps.count("EventsRejected", len(intake.rejected))
    cookies = jar.headers(domain=source.cookie_domain, secure=deps.cookie_secure) if origin else []
    if intake.rejected:
        exc = BadRequest(
            f"{len(intake.rejected)} of {len(raws)} event(s) rejected; the others were accepted",
            "invalid_event",
            rejected=intake.rejected,
            accepted=len(intake.entries),
        )
        answer = _refusal(exc)
        answer.cookies = cookies
        return answer
    return Answer(200, SUCCESS, cookies=cookies)


def _document(data: bytes) -> dict[str, Any]:
    """The body as a JSON object, whatever the Content-Type (df.js sends text/plain: no preflight)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:  # lone surrogates (\ud800), which browsers' JSON.stringify can write and orjson refuses
            doc = json.loads(data)
        except (ValueError, RecursionError) as exc:
            detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
            raise BadRequest(f"body: not valid JSON ({detail})", "invalid_json") from None
    if not isinstance(doc, dict):
        raise BadRequest(f"body: expected a JSON object, got {type(doc).__name__}", "invalid_json")
    return doc


def _events(path: str, body: dict[str, Any]) -> tuple[list[object], str | None, dict[str, Any] | None]:
    if path != BATCH_PATH:
        return [body], TRACK_TYPES[path], None
    batch = body.get("batch")
    if not isinstance(batch, list) or not batch:
        raise BadRequest("batch: expected a non-empty array of events", "invalid_event")
    shared = body.get("context")
    return batch, None, shared if isinstance(shared, dict) else None


def _enqueue(intake: Intake, deps: CollectDeps) -> None:
    if not intake.entries:
        return
    result = send_batched(
        deps.sqs, deps.queue_url, intake.entries, sleep=deps.sleep, remaining_s=deps.remaining_s
    )
    if result.failed:
        deps.count("EventsNotQueued", len(result.failed))
        codes = sorted(set(result.failed.values()))
        deps.log().error(
            "events not queued; the client is told to retry",
            extra={"failed": len(result.failed), "queued": len(result.sent), "codes": codes[:5]},
        )
        raise QueueUnavailable(
            f"{len(result.failed)} event(s) could not be queued; send the request again",
            accepted=len(result.sent),
        )


def _remember(intake: Intake, source: Source, deps: CollectDeps, now: datetime) -> None:
    for found in intake.identified:
        # An identify with both ids links them even when it brings nothing else.
        if not (found.hashed or found.fbp or found.fbc or (found.anonymous_id and found.user_id)):
            continue
        try:
            deps.profiles.remember(
                source.id,
                anonymous_id=found.anonymous_id,
                user_id=found.user_id,
                hashed=found.hashed,
                fbp=found.fbp,
                fbc=found.fbc,
                now=now,
            )
        except Exception as exc:
            from relay.aws import error_fields

            deps.log().error("profile not stored; the client is told to retry", extra=error_fields(exc))
            raise QueueUnavailable(
                "the visitor's profile could not be stored; send the request again", accepted=0
            ) from None


def _refusal(exc: CollectError) -> Answer:
    """The one mapping of a refusal to its HTTP answer (Segment's shape: `success` false)."""
    doc: dict[str, Any] = {"success": False, "code": exc.code, "message": exc.message}
    if exc.rejected or exc.accepted:
        doc["accepted"] = exc.accepted
    if exc.rejected:
        doc["rejected"] = [
            {"index": r.index, "message": r.message, **({"messageId": r.message_id} if r.message_id else {})}
            for r in exc.rejected
        ]
    headers = {"WWW-Authenticate": 'Basic realm="relay"'} if exc.status == 401 else {}
    if exc.retryable:
        headers["Retry-After"] = "1"
    return Answer(exc.status, orjson.dumps(doc), headers)


def _preflight(request: Request, deps: CollectDeps) -> Answer:
    """204; with the CORS grant when some enabled source allows the origin (a preflight has no key)."""
    origin = request.origin
    if origin is None or not cors.allows(deps.origins(), origin):
        return Answer(204, b"", {"Cache-Control": "no-store"})
    return Answer(204, b"", cors.preflight(origin))


@cache
def _tag() -> Asset:
    text = resources.files("relay.collector").joinpath("static/df.js").read_bytes()
    return Asset.of(text, "application/javascript; charset=utf-8")


def tag(request: Request) -> Answer:
    """GET /v1/df.js: the browser tag, gzipped when accepted, with its ETag (304 when it matches)."""
    script = _tag()
    served = serve(script, method=request.method, headers=request.headers, cache_control=TAG_CACHE_CONTROL)
    headers = dict(served.headers)
    kind = headers.pop("Content-Type")
    return Answer(served.status, served.body, headers, content_type=kind, base64=served.gzipped)
