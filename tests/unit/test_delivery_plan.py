"""Phase 1, plan: parse, look up each source's integrations once, map for each target (fakes, no AWS)."""

from __future__ import annotations

from typing import Any

from relay.delivery.plan import plan
from relay.integrations import BrokenIntegration
from relay.queue import string_value
from tests.fakes import FakeIntegrations, Fakes, lead, sqs_record
from tests.support import SAMPLE_NOW, integration, track

NOW = SAMPLE_NOW
KEY = "1234567890#Lead#m-{}"


def _from_source(n: int, source_id: str) -> dict[str, Any]:
    raw = track("Lead Generated", messageId=f"m-{n}")
    raw["context"]["source_id"] = source_id
    return raw


def _jobs(planned: Any) -> list[tuple[str, list[str]]]:
    return [(ident, [p.record.message_id for p in job.items]) for ident, job in planned.jobs.items()]


def test_a_body_that_is_not_an_event_is_parked_malformed_with_body_and_attributes():
    # GIVEN a body that is not JSON (with a custom attribute) next to a good event
    fakes = Fakes()
    bad = sqs_record("{not json", message_id="r-bad", trace="t-1")
    # WHEN the batch is planned
    planned = plan([bad, lead(1)], fakes.deps(), NOW)
    # THEN the bad one is parked malformed as it came, naming no integration; the good one is a job
    assert len(planned.parked) == 1
    parked = planned.parked[0]
    assert (parked.record_id, parked.body, parked.reason, parked.integration_id) == (
        "r-bad",
        "{not json",
        "malformed",
        None,
    )
    assert parked.detail.startswith("body: not valid JSON")
    assert parked.attributes == {"trace": string_value("t-1")}
    assert _jobs(planned) == [("int-1", ["m-1"])]
    assert planned.jobs["int-1"].items[0].key == KEY.format(1)
    assert (planned.skips, planned.failed) == ([], set())


def test_rejected_events_are_parked_with_their_code_and_the_integration():
    # GIVEN an event without a user agent (invalid) and one past Meta's age limit (expired)
    fakes = Fakes()
    no_agent = sqs_record(
        track("Lead Generated", messageId="m-ua", context={"page": {"url": "https://a.example/"}})
    )
    old = sqs_record(track("Lead Generated", messageId="m-old", timestamp="2026-11-10T12:00:00Z"))
    # WHEN planned
    planned = plan([no_agent, old], fakes.deps(), NOW)
    # THEN each is parked with the vendor's code, for int-1, with a detail naming the field
    assert [(p.record_id, p.reason, p.integration_id) for p in planned.parked] == [
        ("m-ua", "invalid", "int-1"),
        ("m-old", "expired", "int-1"),
    ]
    assert planned.parked[0].detail.startswith("context.userAgent: ")
    assert planned.parked[1].detail.startswith("timestamp: ")
    assert planned.jobs == {}


def test_skips_are_listed_per_record_with_their_reason():
    # GIVEN an identify call, an event for a disabled integration's source, and one for a source
    # without integrations
    fakes = Fakes(
        integrations=FakeIntegrations({"src-1": [integration()], "src-off": [integration(enabled=False)]})
    )
    identify = sqs_record({"type": "identify", "messageId": "m-id", "anonymousId": "a-1"})
    # WHEN planned
    planned = plan(
        [identify, sqs_record(_from_source(2, "src-off")), sqs_record(_from_source(3, "src-none"))],
        fakes.deps(),
        NOW,
    )
    # THEN each is skipped once with its reason, nothing parked or to send
    assert planned.skips == [("m-id", "identify"), ("m-2", "disabled"), ("m-3", "no_integration")]
    assert (planned.jobs, planned.parked, planned.failed) == ({}, [], set())


def test_the_integration_id_attribute_limits_the_targets():
    # GIVEN a source with two integrations and records naming one, none, or an unknown one
    second = integration().model_copy(update={"id": "int-2"})
    fakes = Fakes(integrations=FakeIntegrations({"src-1": [integration(), second]}))
    records = [
        sqs_record(track("Lead Generated", messageId="m-1"), integration_id="int-2"),
        sqs_record(track("Lead Generated", messageId="m-2")),
        sqs_record(track("Lead Generated", messageId="m-3"), integration_id="int-9"),
    ]
    # WHEN planned
    planned = plan(records, fakes.deps(), NOW)
    # THEN m-1 goes to int-2 only, m-2 to both, m-3 to none (skipped), and the source was read once
    assert _jobs(planned) == [("int-2", ["m-1", "m-2"]), ("int-1", ["m-2"])]
    assert planned.skips == [("m-3", "no_integration")]
    assert fakes.integrations.calls == {"src-1": 1}


def test_a_broken_integration_parks_its_events_as_config_and_the_others_still_map():
    # GIVEN a source with an unreadable stored integration next to a good one
    broken = BrokenIntegration(id="int-x", source_id="src-1", problem="config.pixel_id: Field required")
    fakes = Fakes(integrations=FakeIntegrations({"src-1": [broken, integration()]}))
    # WHEN an event of the source is planned
    planned = plan([lead(1)], fakes.deps(), NOW)
    # THEN it is parked `config` for int-x with the problem, and still a job for int-1
    assert [(p.record_id, p.reason, p.integration_id, p.detail) for p in planned.parked] == [
        ("m-1", "config", "int-x", "integration int-x is unreadable: config.pixel_id: Field required")
    ]
    assert _jobs(planned) == [("int-1", ["m-1"])]


def test_an_integrations_lookup_that_raises_sends_the_sources_records_back_and_warns():
    # GIVEN a source whose integrations cannot be read now, and a healthy one
    fakes = Fakes(integrations=FakeIntegrations({"src-1": [integration()]}, failing={"src-2"}))
    records = [sqs_record(_from_source(1, "src-2")), lead(2), sqs_record(_from_source(3, "src-2"))]
    # WHEN planned
    planned = plan(records, fakes.deps(), NOW)
    # THEN both src-2 records go back to SQS after one lookup, with one warning naming source, error, code
    assert planned.failed == {"m-1", "m-3"}
    assert fakes.integrations.calls == {"src-2": 1, "src-1": 1}
    assert fakes.log.lines == [
        (
            "warning",
            "integrations unreadable; the source's records go back to SQS",
            {"source_id": "src-2", "error": "FakeAwsError", "code": "ProvisionedThroughputExceededException"},
        )
    ]
    assert _jobs(planned) == [("int-1", ["m-2"])]
    assert (planned.parked, planned.skips) == ([], [])


def test_a_defect_while_mapping_parks_only_that_record(monkeypatch):
    # GIVEN a vendor mapper that raises for one event (a defect: map_event never raises for bad data)
    from relay.vendors import VENDORS

    vendor = VENDORS["meta_capi"]
    real = vendor.map_event

    def flaky(event: Any, target: Any, *, now: Any) -> Any:
        if event.get("message_id") == "m-2":
            raise KeyError("user_data")
        return real(event, target, now=now)

    monkeypatch.setattr(vendor, "map_event", flaky)
    fakes = Fakes()
    # WHEN the batch is planned
    planned = plan([lead(1), lead(2), lead(3)], fakes.deps(), NOW)
    # THEN m-2 is parked invalid naming the error class, its neighbours are mapped, and it is logged
    assert _jobs(planned) == [("int-1", ["m-1", "m-3"])]
    assert [(p.record_id, p.reason, p.integration_id, p.detail) for p in planned.parked] == [
        ("m-2", "invalid", "int-1", "event: could not be mapped (KeyError)")
    ]
    assert fakes.log.lines == [
        ("error", "unexpected error while mapping one record; it is parked", {"error": "KeyError"})
    ]
