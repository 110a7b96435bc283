"""Phase 2, dedupe: what the ledger already has and repeats within the batch are not sent again."""

from __future__ import annotations

from relay.delivery.dedupe import dedupe
from relay.delivery.model import BatchOutcome
from relay.delivery.plan import plan
from tests.fakes import FakeIntegrations, FakeLedger, Fakes, lead, sqs_record
from tests.support import SAMPLE_NOW, integration

NOW = SAMPLE_NOW
KEY = "1234567890#Lead#m-{}"


def _ids(jobs) -> list[tuple[str, list[str]]]:
    return [(j.integration.id, [p.record.message_id for p in j.items]) for j in jobs]


def test_ledger_hits_are_counted_as_already_delivered_and_not_sent():
    # GIVEN a ledger that already has m-1 and m-3
    fakes = Fakes(ledger=FakeLedger({KEY.format(1), KEY.format(3)}))
    deps = fakes.deps()
    planned = plan([lead(1), lead(2), lead(3)], deps, NOW)
    out = BatchOutcome()
    # WHEN deduplicated
    jobs = dedupe(planned, deps, out)
    # THEN only m-2 is left, two are counted, and the ledger was asked once for the three keys
    assert _ids(jobs) == [("int-1", ["m-2"])]
    assert out.already_delivered == 2
    assert fakes.ledger.reads == [[KEY.format(1), KEY.format(2), KEY.format(3)]]


def test_a_job_whose_events_were_all_delivered_is_dropped():
    # GIVEN a ledger holding every event of the batch
    fakes = Fakes(ledger=FakeLedger({KEY.format(1)}))
    deps = fakes.deps()
    planned = plan([lead(1)], deps, NOW)
    out = BatchOutcome()
    # WHEN deduplicated / THEN nothing is left to send
    assert dedupe(planned, deps, out) == []
    assert out.already_delivered == 1


def test_duplicate_keys_within_one_batch_are_sent_once():
    # GIVEN two SQS records carrying the same event (same messageId, so the same ledger key)
    fakes = Fakes()
    deps = fakes.deps()
    first = sqs_record(lead(1).body, message_id="r-a")
    again = sqs_record(lead(1).body, message_id="r-b")
    planned = plan([first, again], deps, NOW)
    out = BatchOutcome()
    # WHEN deduplicated
    jobs = dedupe(planned, deps, out)
    # THEN the first record carries the event, the repeat is counted as already delivered
    assert _ids(jobs) == [("int-1", ["r-a"])]
    assert out.already_delivered == 1


def test_an_unreadable_ledger_sends_every_pending_record_back_and_logs_it():
    # GIVEN a ledger that cannot be read, and a batch with two mappable events and a malformed body
    fakes = Fakes(ledger=FakeLedger(fail_reads=True))
    deps = fakes.deps()
    planned = plan([lead(1), sqs_record("nope", message_id="r-bad"), lead(2)], deps, NOW)
    out = BatchOutcome()
    # WHEN deduplicated
    jobs = dedupe(planned, deps, out)
    # THEN nothing is sent blind: both pending records go back to SQS, the malformed park stands
    assert jobs == []
    assert planned.failed == {"m-1", "m-2"}
    assert [p.record_id for p in planned.parked] == ["r-bad"]
    assert out.already_delivered == 0
    assert fakes.log.lines == [
        (
            "warning",
            "ledger unreadable; the batch's mapped records go back to SQS",
            {"records": 2, "error": "FakeAwsError", "code": "ProvisionedThroughputExceededException"},
        )
    ]


def test_nothing_pending_asks_the_ledger_nothing():
    # GIVEN a batch with only a malformed body
    fakes = Fakes()
    deps = fakes.deps()
    planned = plan([sqs_record("nope", message_id="r-bad")], deps, NOW)
    # WHEN deduplicated / THEN the ledger is not read
    assert dedupe(planned, deps, BatchOutcome()) == []
    assert fakes.ledger.reads == []


def test_two_integrations_on_the_same_pixel_send_an_event_once():
    # GIVEN two integrations of the source pointing at the same pixel
    second = integration().model_copy(update={"id": "int-2"})
    fakes = Fakes(integrations=FakeIntegrations({"src-1": [integration(), second]}))
    deps = fakes.deps()
    planned = plan([lead(1)], deps, NOW)
    out = BatchOutcome()
    # WHEN deduplicated
    jobs = dedupe(planned, deps, out)
    # THEN the ledger key (pixel, event name, event id) is the same: Meta gets the event once
    assert _ids(jobs) == [("int-1", ["m-1"])]
    assert out.already_delivered == 1


def test_duplicates_are_skips_but_a_redelivery_of_the_delivering_record_is_not_counted_again():
    # GIVEN a ledger where m-1 was delivered by record m-1 itself and m-2 by another record (r-old),
    # and a batch repeating m-3 in two records
    ledger = FakeLedger({KEY.format(1), KEY.format(2)})
    ledger.by = {KEY.format(1): "m-1", KEY.format(2): "r-old"}
    fakes = Fakes(ledger=ledger)
    deps = fakes.deps()
    again = sqs_record(lead(3).body, message_id="r-3b")
    planned = plan([lead(1), lead(2), lead(3), again], deps, NOW)
    out = BatchOutcome()
    # WHEN deduplicated
    jobs = dedupe(planned, deps, out)
    # THEN only the first m-3 is sent; m-2 and the repeated m-3 are duplicate skips, and m-1 (SQS
    # redelivering the record whose delivery was already counted) is not counted a second time
    assert _ids(jobs) == [("int-1", ["m-3"])]
    assert planned.skips == [("m-2", "duplicate"), ("r-3b", "duplicate")]
    assert out.already_delivered == 3
