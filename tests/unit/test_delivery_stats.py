"""Each integration's tally of a batch (settle fills BatchOutcome.by_integration) and its roll-up into the
stats sink (relay.delivery.roll_up): fakes, no moto."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

from relay.aws import AWS_CALL_S
from relay.delivery import deliver_batch
from relay.delivery.model import BatchOutcome
from relay.stats import Tally
from relay.vendors import VENDORS
from tests.fakes import (
    FakeAwsError,
    FakeDeadLetters,
    FakeIntegrations,
    Fakes,
    FakeSender,
    invalid,
    lead,
    receipt,
    sqs_record,
    transient,
)
from tests.support import SAMPLE_NOW, UA, integration, tally_of

if TYPE_CHECKING:
    from relay.delivery.model import StatsSink
    from relay.outbound import Receipt

NOW = SAMPLE_NOW
SECOND_PIXEL = "2222222222"
# What every lead() event carries: its anonymousId, the browser's IP and user agent.
BROWSER_KEYS = {"external_id": 1, "client_ip_address": 1, "client_user_agent": 1}


@dataclass(frozen=True)
class Added:
    integration_id: str
    tally: Tally
    at: datetime


class FakeStats:
    """relay.stats.DeliveryStats: records each add (a copy of the tally); ids in `fail` raise `error`."""

    def __init__(self, *, fail: Iterable[str] = (), error: Exception | None = None) -> None:
        self.fail = set(fail)
        self.error = error if error is not None else FakeAwsError()
        self.added: list[Added] = []

    def add(self, integration_id: str, tally: Tally, *, at: datetime) -> None:
        if integration_id in self.fail:
            raise self.error
        copy = Tally(tally.delivered, Counter(tally.match_keys), Counter(tally.dead_lettered), tally.retrying)
        self.added.append(Added(integration_id, copy, at))


if TYPE_CHECKING:  # FakeStats satisfies delivery's Protocol (checked by mypy, never run)
    _stats: StatsSink = FakeStats()


def _two_integrations(**fakes: Any) -> Fakes:
    """int-1 (pixel 1234567890) and int-2 (SECOND_PIXEL), both on src-1."""
    second = integration(pixel_id=SECOND_PIXEL).model_copy(update={"id": "int-2"})
    return Fakes(integrations=FakeIntegrations({"src-1": [integration(), second]}), **fakes)


def _second_pixel_refuses(request: Any) -> Receipt:
    if request.pixel_id == SECOND_PIXEL:
        raise invalid()
    return receipt(request)


def _identified(n: int) -> Any:
    """lead(n) of a visitor who gave an email, a phone number and a name."""
    traits = {"email": f"v{n}@example.com", "phone": "+44 7700 900123", "firstName": "Ana", "lastName": "Lee"}
    context = {"userAgent": UA, "ip": "198.51.100.7", "traits": traits}
    return lead(n, context=context)


def test_the_match_keys_counted_are_the_vendors_nine():
    # GIVEN Meta's vendor
    # WHEN its match keys are read
    # THEN they are the nine of the match-quality guide, in its order
    assert VENDORS["meta_capi"].MATCH_KEYS == (
        "em",
        "ph",
        "fn",
        "ln",
        "external_id",
        "fbp",
        "fbc",
        "client_ip_address",
        "client_user_agent",
    )


def test_two_integrations_of_one_batch_are_tallied_and_added_each_with_its_own_outcome():
    # GIVEN two integrations of src-1, the second's pixel refusing every event as invalid; one of the
    # two events is of a visitor who gave an email, a phone number and a name
    stats = FakeStats()
    fakes = _two_integrations(sender=FakeSender(default=_second_pixel_refuses))
    # WHEN the batch is delivered
    out = deliver_batch([lead(1), _identified(2)], fakes.deps(stats=stats))
    # THEN int-1 delivered both (with the match keys each carried), int-2 dead-lettered both as invalid
    int_1 = tally_of(delivered=2, keys={"em": 1, "ph": 1, "fn": 1, "ln": 1, **dict.fromkeys(BROWSER_KEYS, 2)})
    int_2 = tally_of(parked={"invalid": 2})
    assert out.by_integration == {"int-1": int_1, "int-2": int_2}
    assert (int_1.outcome(), int_2.outcome()) == ("delivered", "invalid")
    # AND each tally was added once, at the batch's time
    assert stats.added == [Added("int-1", int_1, NOW), Added("int-2", int_2, NOW)]
    # AND the batch's own counts are the sums of the integrations'
    assert (out.delivered, out.dead_lettered, out.failures) == (2, Counter({"invalid": 2}), [])
    assert out.match_keys == int_1.match_keys


def test_events_going_back_to_sqs_are_retrying_and_the_last_receive_is_dead_lettered():
    # GIVEN Meta failing every call transiently: one event on its first receive, one on its last
    stats = FakeStats()
    fakes = Fakes(sender=FakeSender(default=lambda r: transient()))
    # WHEN the batch is delivered
    out = deliver_batch([lead(1), lead(2, receive_count=5)], fakes.deps(stats=stats, max_receive_count=5))
    # THEN int-1's tally has one retrying and one retries_exhausted, nothing delivered
    tally = tally_of(parked={"retries_exhausted": 1}, retrying=1)
    assert stats.added == [Added("int-1", tally, NOW)]
    assert tally.outcome() == "retries_exhausted"
    assert out.failures == ["m-1"]


def test_a_park_whose_dlq_send_failed_is_not_counted_for_its_integration():
    # GIVEN int-2 refusing both events as invalid, and a DLQ refusing int-2's message of m-1
    stats = FakeStats()
    fakes = _two_integrations(
        sender=FakeSender(default=_second_pixel_refuses),
        dead_letters=FakeDeadLetters(fail=[("m-1", "int-2")]),
    )
    # WHEN the batch is delivered
    out = deliver_batch([lead(1), lead(2)], fakes.deps(stats=stats))
    # THEN int-2 counts only the park that reached the DLQ (m-1 goes back to SQS, nothing lost);
    # int-1's deliveries of both stand
    assert out.by_integration == {
        "int-1": tally_of(delivered=2, keys=dict.fromkeys(BROWSER_KEYS, 2)),
        "int-2": tally_of(parked={"invalid": 1}),
    }
    assert fakes.dead_letters.reasons() == [("m-2", "invalid", "int-2")]
    assert out.failures == ["m-1"]


def test_a_park_for_one_integration_waiting_on_another_integrations_retry_is_not_counted():
    # GIVEN m-1 refused as invalid by int-2 and failing transiently for int-1
    stats = FakeStats()

    def answer(request: Any) -> Receipt:
        raise invalid() if request.pixel_id == SECOND_PIXEL else transient()

    fakes = _two_integrations(sender=FakeSender(default=answer))
    # WHEN the batch is delivered
    out = deliver_batch([lead(1)], fakes.deps(stats=stats))
    # THEN int-1 is retrying it and int-2 has nothing yet (the redelivery decides its park again)
    assert out.by_integration == {"int-1": tally_of(retrying=1), "int-2": tally_of()}
    assert [(a.integration_id, a.tally.outcome()) for a in stats.added] == [
        ("int-1", "retrying"),
        ("int-2", None),
    ]
    assert (fakes.dead_letters.parked, out.failures) == ([], ["m-1"])


def test_parks_and_skips_before_any_integration_tally_nothing():
    # GIVEN a body that is not JSON and an identify call (no vendor event)
    stats = FakeStats()
    fakes = Fakes()
    records = [sqs_record("{broken", message_id="r-1"), sqs_record({"type": "identify", "messageId": "m-2"})]
    # WHEN the batch is delivered
    out = deliver_batch(records, fakes.deps(stats=stats))
    # THEN they are counted for the batch, but no integration has a tally and nothing is added
    assert (out.dead_lettered, out.skipped) == (Counter({"malformed": 1}), Counter({"identify": 1}))
    assert (out.by_integration, stats.added) == ({}, [])


def _batch(fakes: Fakes, **deps: Any) -> BatchOutcome:
    return deliver_batch([lead(1), _identified(2)], fakes.deps(**deps))


@pytest.mark.parametrize(
    ("error", "code"),
    [(FakeAwsError(), "ProvisionedThroughputExceededException"), (RuntimeError("boom"), None)],
)
def test_a_stats_sink_that_fails_is_logged_and_changes_nothing_of_the_batch(error, code):
    # GIVEN a stats sink failing for int-1, and the same batch delivered without a sink for comparison
    stats = FakeStats(fail={"int-1"}, error=error)
    without = _batch(_two_integrations(sender=FakeSender(default=_second_pixel_refuses)))
    fakes = _two_integrations(sender=FakeSender(default=_second_pixel_refuses))
    # WHEN the batch is delivered
    out = _batch(fakes, stats=stats)
    # THEN the failure is a warning naming the integration and the error (no message), and no other write
    # waits on a failing table
    assert fakes.log.lines == [
        (
            "warning",
            "delivery stats not recorded",
            {"integration_id": "int-1", "error": type(error).__name__, "code": code},
        )
    ]
    assert stats.added == []
    # AND the batch's outcome is what it is without any stats sink
    assert out == without
    assert out.response() == {"batchItemFailures": []}


def test_without_a_stats_sink_the_batch_is_still_tallied():
    # GIVEN delivery deps without a stats sink
    fakes = Fakes()
    # WHEN a batch is delivered
    out = deliver_batch([lead(1)], fakes.deps(stats=None))
    # THEN the tally is there, and nothing was logged
    assert out.by_integration == {"int-1": tally_of(delivered=1, keys=BROWSER_KEYS)}
    assert fakes.log.lines == []


def test_stats_are_not_written_when_the_invocation_is_about_to_end():
    # GIVEN an invocation with plenty of time until the first stats write, then almost none
    left = [600.0]

    class Slow(FakeStats):
        def add(self, integration_id: str, tally: Tally, *, at: datetime) -> None:
            super().add(integration_id, tally, at=at)
            left[0] = AWS_CALL_S - 1

    stats = Slow()
    fakes = _two_integrations(sender=FakeSender(default=_second_pixel_refuses))
    # WHEN a batch for two integrations is delivered
    out = _batch(fakes, stats=stats, remaining_s=lambda: left[0])
    # THEN the first integration's tally is written, the second's skipped with a warning, the batch stands
    assert [a.integration_id for a in stats.added] == ["int-1"]
    assert fakes.log.lines == [("warning", "delivery stats skipped: the invocation is about to end", {})]
    assert set(out.by_integration) == {"int-1", "int-2"}
    assert out.response() == {"batchItemFailures": []}
