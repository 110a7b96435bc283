"""Token health and test events for one integration: what Meta says, in plain words, and what to do.

`check` reads the pixel (`GET /{version}/{pixel_id}`, the token in the header): Meta answers only when
the token is valid, has the permission and may see that pixel, on a version it still serves.
`test_request` builds one test event through the production mapping and request builder.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from relay.outbound import ErrorKind, SendError, ServerEvent
from relay.vendors.meta_capi.errors import DEPRECATED_VERSION, INVALID_PARAMETER, MISSING_OBJECT_SUBCODE
from relay.vendors.meta_capi.limits import CALL_TIMEOUT_S

if TYPE_CHECKING:
    from relay.integrations import Integration
    from relay.vendors.meta_capi.client import GraphClient
    from relay.vendors.meta_capi.request import GraphRequest

Problem = Literal[
    "token_invalid_or_expired",  # 190 (and 102, a session)
    "missing_permission",  # 10, 200-299 (and 3, a capability)
    "unknown_pixel_or_no_access",  # 100 with subcode 33 (or 803 on a read): wrong pixel id or token scope
    "api_version_unsupported",  # 2635
    "invalid_event",  # 100 otherwise: the event itself (only a test event can be)
    "unreachable",  # no answer, not Meta's answer, throttling, or Meta's own trouble
]
HealthStatus = Literal["ok"] | Problem
ADVICE: dict[str, str] = {
    "ok": "the token is valid for this pixel",
    "token_invalid_or_expired": (
        "the access token was revoked or has expired: generate a new system-user token in Events Manager "
        "and PATCH it into config.access_token (parked events are redriven)"
    ),
    "missing_permission": (
        "the token lacks a permission: give the system user ads_management (and the pixel) in Business "
        "Settings, then set the new token"
    ),
    "unknown_pixel_or_no_access": (
        "the pixel does not exist or this token cannot see it: check config.pixel_id and assign the pixel "
        "to the token's system user"
    ),
    "api_version_unsupported": "Meta no longer serves this API version: set config.api_version to a current one",
    "invalid_event": "Meta refused the event's data: see the messages, and the event debugger",
    "unreachable": "Meta's Graph API did not answer as Meta (network, proxy, throttling or an outage): retry later",
}
PERMISSION_CODES = frozenset({3, 10}) | frozenset(range(200, 300))
TOKEN_CODES = frozenset({190, 102})
UNKNOWN_PATH = 803
TEST_MESSAGE_PREFIX = "relay-test-"
TEST_PAGE_URL = "https://relay.invalid/admin/test-event"
TEST_USER_AGENT = "Relay admin test event"
TEST_ANONYMOUS_ID = "relay-admin-test"


@dataclass(frozen=True)
class Diagnosis:
    """Meta's refusal of one call, classified (never Meta's message itself: it may quote values)."""

    problem: Problem
    advice: str
    http_status: int | None
    code: int | None
    subcode: int | None
    fbtrace_id: str | None
    retryable: bool


def diagnose(error: SendError) -> Diagnosis:
    """The plain-words problem behind a GraphError (by code and subcode, never by message)."""
    code, subcode = error.code, error.subcode
    problem: Problem
    if error.kind in (ErrorKind.TRANSPORT, ErrorKind.RETRY) and code not in TOKEN_CODES | PERMISSION_CODES:
        problem = "unreachable"
    elif code == DEPRECATED_VERSION:
        problem = "api_version_unsupported"
    elif code in TOKEN_CODES:
        problem = "token_invalid_or_expired"
    elif code in PERMISSION_CODES:
        problem = "missing_permission"
    elif (code == INVALID_PARAMETER and subcode == MISSING_OBJECT_SUBCODE) or code == UNKNOWN_PATH:
        problem = "unknown_pixel_or_no_access"
    elif code == INVALID_PARAMETER:
        problem = "invalid_event"
    else:
        problem = "unreachable"
    return Diagnosis(problem, ADVICE[problem], error.status, code, subcode, error.fbtrace_id, error.retryable)


@dataclass(frozen=True)
class PixelCheck:
    """`status` ok with the pixel's name, or the diagnosis of Meta's refusal."""

    status: HealthStatus
    advice: str
    pixel_name: str | None = None
    diagnosis: Diagnosis | None = None


def check(
    client: GraphClient, *, pixel_id: str, api_version: str, token: str, budget_s: float = CALL_TIMEOUT_S
) -> PixelCheck:
    """Read the pixel with the token: ok, or the problem Meta's answer shows. Never raises for Meta."""
    try:
        pixel = client.read_object(pixel_id, api_version=api_version, token=token, budget_s=budget_s)
    except SendError as error:
        found = diagnose(error)
        if found.problem == "invalid_event":  # a read has no event: code 100 here is the object
            found = Diagnosis(
                "unknown_pixel_or_no_access",
                ADVICE["unknown_pixel_or_no_access"],
                found.http_status,
                found.code,
                found.subcode,
                found.fbtrace_id,
                found.retryable,
            )
        return PixelCheck(found.problem, found.advice, diagnosis=found)
    name = pixel.get("name")
    return PixelCheck("ok", ADVICE["ok"], pixel_name=name if isinstance(name, str) else None)


def test_event(now: datetime) -> dict[str, Any]:
    """The Segment `page` event a test sends: no personal data, a fresh messageId (its event_id)."""
    return {
        "type": "page",
        "name": "Relay test event",
        "messageId": f"{TEST_MESSAGE_PREFIX}{uuid.uuid4().hex}",
        "anonymousId": TEST_ANONYMOUS_ID,
        "timestamp": now.isoformat(),
        "context": {"userAgent": TEST_USER_AGENT, "page": {"url": TEST_PAGE_URL}},
    }


def test_request(
    integration: Integration, test_event_code: str, now: datetime
) -> tuple[GraphRequest, ServerEvent]:
    """One test event for `integration` with `test_event_code`, mapped and built as delivery does.

    The integration's consent rules and event_mappings do not apply to it (it is the operator's own
    event), nor does `enabled` (a disabled integration can be tested before it is switched on).
    Raises ValueError when the mapping refuses it (it cannot, unless the variant has no page row).
    """
    from relay.events import parse_event
    from relay.vendors.meta_capi.config import MetaConfig
    from relay.vendors.meta_capi.mapping import map_event
    from relay.vendors.meta_capi.request import build_requests

    config: MetaConfig = integration.config.model_copy(
        update={"event_mappings": {}, "test_event_code": test_event_code}
    )
    view = integration.model_copy(
        update={"enabled": True, "consent_categories": [], "require_consent": False, "config": config}
    )
    outcome = map_event(parse_event(test_event(now)), view, now=now)
    if not isinstance(outcome, ServerEvent):
        raise ValueError(f"the test event was not mapped: {outcome}")
    requests, rejected = build_requests(
        [outcome], test_event_code=test_event_code, api_version=config.api_version
    )
    if rejected or not requests:
        raise ValueError("the test event could not be built")
    return requests[0], outcome
