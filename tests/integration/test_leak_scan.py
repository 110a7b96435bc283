"""Leak scan: the deliver handler in-process with every log switch at its most verbose, over events full of
distinctive raw personal values and secrets. No raw value and no access token may appear in any log line
(stdout, stderr and every logging record, Relay's own JSON lines included: Powertools writes them
to the stream of the first Logger built in the process, so the records are what the scan reads), EMF metric, table item (debugger, ledger, integrations), DLQ message
attribute, handler answer or Graph request body.

The one place the raw event rests is a parked message's body in the DLQ: it is the original event, kept
(encrypted) for the redrive; the scan checks that body is exactly the original and reads only its
attributes. client_ip_address is sent to Meta in clear by design (DESIGN §6): the context IP may appear
there and nowhere else (the debugger stores its network prefix).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.local.graph import GraphEmulator
from relay.local.runner import _integration
from relay.local.stack import LocalStack
from tests.support import LambdaContext, load_handler_module

PIXEL = "1234567890"
BROKEN_PIXEL = "2222222222"
SOURCE = "src-leak"
TOKEN = "EAAleakscanTOKENq7Zr9w0Xv3Ks1Bn4Md8"  # the secret the scan looks for
REFUSED_TOKEN = "EAArefusedTOKENp2Lx6c5Tj8Hv0Gm1Nq"  # a second integration's, refused by Meta

CONTEXT_IP = "198.51.100.77"
RAW = {
    "email": "Leak.Zebulon.Quillfeather@leakmail.example",
    "email_in_text": "ottoline.vexley@leakmail.example",
    "phone": "+1 212 555 0199",
    "phone_digits": "12125550199",
    "custom_phone": "+1 (646) 555-0142",
    "custom_phone_digits": "6465550142",
    "first_name": "Zebulon",
    "last_name": "Quillfeather",
    "billing_name": "Ottoline Vexley",
    "street": "742 Evergreen Terrace",
    "shipping_address": "13 Quirkstone Lane",
    "city": "Springfieldia",
    "postal_code": "SW9Q 7XZ",
    "birthday": "1966-07-19",
    "client_ip": "203.0.113.201",
    "ipv6": "2001:db8:feed:beef::42",
    "context_ip": CONTEXT_IP,
    "reset_token": "RSTtokQ9v8",
    "session": "SESSxyz654w",
    "access_token_fragment": "ACCtok321zz",
    "userinfo_user": "leakuserq",
    "userinfo_password": "leakpassw0rd",
    "user_id": "user-q7-zebulon",
    "anonymous_id": "anon-q7-quill",
}
PAGE_URL = (
    f"https://shop.example.com/landing?reset_token={RAW['reset_token']}&session={RAW['session']}"
    f"&utm_source=news&fbclid=AbCleak123#access_token={RAW['access_token_fragment']}"
)
REFERRER = f"https://{RAW['userinfo_user']}:{RAW['userinfo_password']}@ref.example.com/from?q=1"


def _traits() -> dict[str, Any]:
    return {
        "email": RAW["email"],
        "phone": RAW["phone"],
        "firstName": RAW["first_name"],
        "lastName": RAW["last_name"],
        "birthday": RAW["birthday"],
        "address": {
            "street": RAW["street"],
            "city": RAW["city"],
            "postalCode": RAW["postal_code"],
            "country": "GB",
        },
    }


def _event(n: int, when: datetime, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "track",
        "event": "Leak Probe",
        "messageId": f"leak-{n}",
        "anonymousId": RAW["anonymous_id"],
        "userId": RAW["user_id"],
        "timestamp": when.isoformat(),
        "properties": {
            "customer_phone": RAW["custom_phone"],
            "billing_name": RAW["billing_name"],
            "shipping_address": RAW["shipping_address"],
            "client_ip": RAW["client_ip"],
            "note": f"write to {RAW['email_in_text']}",
            "callback": RAW["custom_phone"],
            "origin": RAW["ipv6"],
            "profile": {"email": RAW["email"]},
            "plan": "pro",
        },
        "context": {
            "ip": CONTEXT_IP,
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) LeakScan/1.0",
            "page": {"url": PAGE_URL, "referrer": REFERRER},
            "traits": _traits(),
            "consent": {"categoryPreferences": {"advertising": True}},
            "source_id": SOURCE,
        },
    }
    event.update(overrides)
    return event


def _bodies(now: datetime) -> list[str]:
    when = now - timedelta(minutes=1)
    events = [_event(n, when) for n in range(4)]
    # a Purchase without a currency (parked invalid), one too old (parked expired), one whose consent
    # is the string "yes" (skipped), one whose type is unknown (parked malformed), one Meta rejects
    purchase = {
        "order_id": "O-1",
        "total": 10,
        "note": RAW["email_in_text"],
        "billing_name": RAW["billing_name"],
    }
    events.append(_event(10, when, event="Order Completed", properties=purchase))
    events.append(_event(11, now - timedelta(days=9)))
    refused = _event(12, when)
    refused["context"]["consent"] = {"categoryPreferences": {"advertising": "yes"}}
    events.append(refused)
    events.append(_event(13, when, type=RAW["billing_name"]))
    events.append(_event(14, when, properties={"event_id": "poisoned-14", "plan": "pro"}))
    # a web page call whose URL is only in properties (Segment's page spec), with the same secrets
    page = _event(15, when, type="page", properties={"url": PAGE_URL, "referrer": REFERRER})
    del page["event"]
    page["context"]["page"] = {}
    events.append(page)
    return [json.dumps(e) for e in events]


def _sqs_event(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"00000000-0000-4000-8000-{n:012d}",
                "receiptHandle": f"handle-{n}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795694400000"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for n, body in enumerate(bodies)
        ]
    }


@pytest.fixture
def verbose_everything(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """POWERTOOLS_LOGGER_LOG_EVENT=true, POWERTOOLS_LOG_LEVEL=DEBUG, Powertools' package logger at DEBUG on
    stdout (what POWERTOOLS_DEBUG does) and the libraries at NOTSET; restored afterwards."""
    from aws_lambda_powertools.logging.logger import set_package_logger

    from relay.observability import HELD_LOGGERS

    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    package = logging.getLogger("aws_lambda_powertools")
    saved = {name: logging.getLogger(name).level for name in HELD_LOGGERS}
    handlers = list(package.handlers)
    for name in HELD_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    set_package_logger(stream=sys.stdout)
    yield
    package.handlers = handlers
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _hits(text: str, forbidden: dict[str, str]) -> list[str]:
    lowered = text.lower()
    return sorted(name for name, value in forbidden.items() if value.lower() in lowered)


def _without_client_ip(body: Any) -> tuple[Any, list[str]]:
    """The Graph body with each event's user_data.client_ip_address removed, and the values removed."""
    body = json.loads(json.dumps(body))
    ips = []
    for event in body.get("data", []) if isinstance(body, dict) else []:
        user = event.get("user_data", {})
        if "client_ip_address" in user:
            ips.append(user.pop("client_ip_address"))
    return body, ips


def test_no_raw_personal_value_or_token_leaves_the_deliver_handler(
    monkeypatch, verbose_everything, capfd, caplog
):
    # GIVEN the template's resources in moto, a debug-enabled integration whose token is in Secrets
    # Manager, a second one whose token Meta refuses, and the handler's environment
    now = datetime.now(UTC)
    with (
        GraphEmulator(access_tokens={PIXEL: TOKEN, BROKEN_PIXEL: "something-else"}) as graph,
        LocalStack() as local,
    ):
        config = local.settings(graph.url)
        for pixel, token, ident in (
            (PIXEL, TOKEN, "leak-debug"),
            (BROKEN_PIXEL, REFUSED_TOKEN, "leak-refused"),
        ):
            integration = _integration(pixel, "default", token=token).model_copy(
                update={"id": ident, "source_id": SOURCE, "debug": True}
            )
            local.add_integration(integration, config)
        for key, value in config.model_dump(exclude_none=True).items():
            monkeypatch.setenv(key.upper(), str(value))
        graph.poison("poisoned-14")
        handler = load_handler_module("deliver").handler
        bodies = _bodies(now)
        event = _sqs_event(bodies)
        capfd.readouterr()  # the setup's output is not the handler's
        # ... and every log level at DEBUG from here on: root, Powertools, the libraries
        caplog.set_level(logging.DEBUG)
        # WHEN the handler delivers the batch
        answer = handler(event, LambdaContext(function_name="relay-deliver"))
        output = capfd.readouterr()
        records = "\n".join(
            f"{r.name} {r.levelname} {r.getMessage()} {json.dumps(r.__dict__, default=str)}"
            for r in caplog.records
        )
        tables = {name: local.dynamodb.scan(TableName=table)["Items"] for name, table in local.tables.items()}
        parked = local.queue_messages(local.dlq_url)
        requests = list(graph.requests)
    # THEN the batch was really worked: delivered, skipped, parked, recorded in the debugger
    assert answer == {"batchItemFailures": []}
    assert graph.accepted, "nothing reached Meta"
    assert tables["DebuggerTable"], "the debugger recorded nothing"
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in parked)
    assert {"invalid", "expired", "malformed", "auth"} <= set(reasons)
    assert '"Delivered"' in output.out  # the EMF document was written
    summaries = [r.__dict__["summary"] for r in caplog.records if r.getMessage() == "batch delivered"]
    assert summaries[0]["skipped"] == {"consent": 2}  # "yes" is not consent, for either integration
    assert "leak-12" not in {e.event["event_id"] for e in graph.accepted}
    assert caplog.records, "no log record was captured"
    # ... and no raw value, nor either token, appears anywhere but where the design puts it
    forbidden = {**RAW, "token": TOKEN, "refused_token": REFUSED_TOKEN}
    no_ip = {k: v for k, v in forbidden.items() if k != "context_ip"}
    assert _hits(output.out, forbidden) == []
    assert _hits(output.err, forbidden) == []
    assert _hits(records, forbidden) == []
    assert _hits(json.dumps(answer), forbidden) == []
    for name, items in tables.items():
        assert _hits(json.dumps(items), forbidden) == [], name
    for message in parked:
        assert _hits(json.dumps(message["MessageAttributes"]), forbidden) == []
        assert message["Body"] in bodies  # the original event, untouched, for the redrive
    for request in requests:
        body, ips = _without_client_ip(request.body)
        assert set(ips) <= {CONTEXT_IP}
        assert _hits(json.dumps(body), no_ip) == []
        assert _hits(json.dumps(request.query) + request.path, forbidden) == []
    # ... while the token did authenticate (in the header) and the marketing parameters survived
    assert any(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in requests)
    sent = [e.event for e in graph.accepted]
    assert {e["event_source_url"] for e in sent} == {
        "https://shop.example.com/landing?utm_source=news&fbclid=AbCleak123"
    }
    assert {e.get("referrer_url") for e in sent} == {"https://ref.example.com/from"}
    assert {
        json.dumps(e.get("custom_data", {}), sort_keys=True) for e in sent if e["event_name"] == "Leak Probe"
    } == {'{"plan": "pro"}'}
