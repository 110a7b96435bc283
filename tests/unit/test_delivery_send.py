"""Phase 3, send: requests per integration, classified by the vendor's answer (fakes, no network)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from relay.delivery.dedupe import dedupe
from relay.delivery.model import BatchOutcome, Deps, Job
from relay.delivery.plan import plan
from relay.delivery.send import LOCAL_WORK_S, send_all, send_job
from relay.vendors import VENDORS
from tests.fakes import (
    TOKEN,
    FakeDebugger,
    FakeIntegrations,
    FakeLedger,
    Fakes,
    FakeSender,
    FakeVault,
    invalid,
    lead,
    receipt,
    refused,
    transient,
)
from tests.support import SAMPLE_NOW, integration

NOW = SAMPLE_NOW
KEY = "1234567890#Lead#m-{}"
# No call starts unless more than this is left of the invocation.
BUDGET_S = VENDORS["meta_capi"].CALL_TIMEOUT_S + LOCAL_WORK_S


def _jobs(fakes: Fakes, n: int, **deps: Any) -> tuple[Deps, list[Job]]:
    d = fakes.deps(**deps)
    return d, dedupe(plan([lead(i) for i in range(n)], d, NOW), d, BatchOutcome())


def _ids(items) -> list[str]:
    return [p.record.message_id for p in items]


def test_an_accepted_request_is_recorded_in_the_ledger_and_delivered():
    # GIVEN three fresh events and a vendor accepting everything
    fakes = Fakes()
    deps, jobs = _jobs(fakes, 3)
    # WHEN the job is sent
    result = send_job(jobs[0], deps, NOW)
    # THEN one call with the vault's token carried all three, and the ledger has them at NOW
    assert [(c.message_ids, c.token) for c in fakes.sender.calls] == [(("m-0", "m-1", "m-2"), TOKEN)]
    assert _ids(result.delivered) == ["m-0", "m-1", "m-2"]
    assert fakes.ledger.writes == [([KEY.format(0), KEY.format(1), KEY.format(2)], NOW)]
    assert (result.requests, result.retry, result.parked, result.refused) == (1, [], [], None)
    assert [r.events_received for r in result.receipts] == [3]
    assert fakes.debugger.records == []  # debug is off: successes are not recorded


def test_successes_are_recorded_before_debug_until_and_not_after():
    # GIVEN one integration debugging until an hour after NOW, another whose window ended a minute before
    for until, recorded in ((NOW + timedelta(hours=1), True), (NOW - timedelta(minutes=1), False)):
        window = integration().model_copy(update={"debug_until": until})
        fakes = Fakes(integrations=FakeIntegrations({"src-1": [window]}))
        deps, jobs = _jobs(fakes, 2)
        # WHEN sent
        send_job(jobs[0], deps, NOW)
        # THEN the success is in the debugger only inside the window, with Meta's trace id
        assert [r.outcome for r in fakes.debugger.records] == (["delivered"] if recorded else [])


def test_a_success_is_recorded_in_the_debugger_when_the_integration_debugs():
    # GIVEN an integration with debug on
    debugging = integration().model_copy(update={"debug": True})
    fakes = Fakes(integrations=FakeIntegrations({"src-1": [debugging]}))
    deps, jobs = _jobs(fakes, 2)
    # WHEN sent
    send_job(jobs[0], deps, NOW)
    # THEN the delivery is recorded with the vendor's trace id
    assert [(r.integration_id, r.event_ids, r.outcome, r.detail) for r in fakes.debugger.records] == [
        ("int-1", ("m-0", "m-1"), "delivered", "fbtrace trace-ok")
    ]


def test_transient_errors_are_retried_with_backoff_then_handed_back():
    # GIVEN a vendor failing every call transiently
    fakes = Fakes(sender=FakeSender(default=lambda request: transient(503)))
    deps, jobs = _jobs(fakes, 2)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN three attempts with 0.2 s and 0.4 s backoff (jitter at its top), then the events go back
    assert fakes.sender.sizes == [2, 2, 2]
    assert fakes.sleeps == [0.2, 0.4]
    assert _ids(result.retry) == ["m-0", "m-1"]
    assert (result.delivered, result.parked, result.requests) == ([], [], 3)
    assert [(r.event_ids, r.outcome, r.detail) for r in fakes.debugger.records] == [
        (("m-0", "m-1"), "retry", "http 503")
    ]
    assert fakes.ledger.writes == []


def test_a_transient_error_followed_by_success_delivers():
    # GIVEN a vendor answering 503, then 429, then OK
    fakes = Fakes(sender=FakeSender([transient(503), transient(429), None]))
    deps, jobs = _jobs(fakes, 2)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN the third call delivers both
    assert (fakes.sender.sizes, fakes.sleeps) == ([2, 2, 2], [0.2, 0.4])
    assert _ids(result.delivered) == ["m-0", "m-1"]
    assert result.retry == []


def test_an_invalid_request_is_bisected_down_to_the_offending_event():
    # GIVEN eight events of which m-5 makes any request containing it fail (Meta's code 100)
    fakes = Fakes(sender=FakeSender(poison={"m-5"}))
    deps, jobs = _jobs(fakes, 8)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN the halves containing m-5 are split until it is alone: 7 calls, one event parked
    assert fakes.sender.sizes == [8, 4, 4, 2, 1, 1, 2]
    assert [(p.record.message_id, reason, detail) for p, reason, detail in result.parked] == [
        ("m-5", "invalid", "http 400, code 100/2804003, fbtrace trace-bad")
    ]
    assert sorted(_ids(result.delivered)) == ["m-0", "m-1", "m-2", "m-3", "m-4", "m-6", "m-7"]
    assert [keys for keys, _ in fakes.ledger.writes] == [
        [KEY.format(i) for i in range(4)],
        [KEY.format(4)],
        [KEY.format(6), KEY.format(7)],
    ]
    assert result.requests == 7
    assert [(r.event_ids, r.outcome) for r in fakes.debugger.records] == [(("m-5",), "invalid")]


def test_a_refused_token_parks_the_job_invalidates_the_token_and_makes_no_further_calls():
    # GIVEN six events in requests of two and a vendor refusing the token
    fakes = Fakes(sender=FakeSender([refused()]))
    deps, jobs = _jobs(fakes, 6, max_events_per_request=2)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN one call only; all six parked as auth; the cached token is invalidated once
    assert fakes.sender.sizes == [2]
    detail = "auth: http 400, code 190, fbtrace trace-auth"
    assert [(p.record.message_id, reason, d) for p, reason, d in result.parked] == [
        (f"m-{i}", "auth", detail) for i in range(6)
    ]
    assert result.refused == detail
    assert fakes.vault.invalidations == {"int-1": 1}
    assert (result.delivered, result.retry, result.version_errors) == ([], [], 0)
    assert [(r.event_ids, r.outcome) for r in fakes.debugger.records] == [(("m-0", "m-1"), "auth")]


class TokenFixedMeanwhile(FakeVault):
    """The job reads the old token; by the time it is refused, the stored token is a new one."""

    def get(self, integration_id: str) -> str:
        token = super().get(integration_id)
        self.tokens[integration_id] = "fixed-token"
        return token


def test_a_token_fixed_since_it_was_read_is_tried_at_once_instead_of_parking_the_events():
    # GIVEN a cached token the vendor refuses, and a fixed token stored meanwhile (a PATCH, then a redrive)
    fakes = Fakes(sender=FakeSender([refused()]), vault=TokenFixedMeanwhile())
    deps, jobs = _jobs(fakes, 3)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN the token is re-read once and the same request succeeds with the fixed one: nothing parked
    assert [(c.token, len(c.message_ids)) for c in fakes.sender.calls] == [(TOKEN, 3), ("fixed-token", 3)]
    assert sorted(_ids(result.delivered)) == ["m-0", "m-1", "m-2"]
    assert (result.parked, result.refused) == ([], None)
    assert fakes.vault.invalidations == {"int-1": 1}


def test_a_fixed_token_that_is_refused_too_parks_the_events_after_two_calls():
    # GIVEN a refused cached token, a new stored one, and the vendor refusing that as well
    fakes = Fakes(sender=FakeSender([refused(), refused()]), vault=TokenFixedMeanwhile())
    deps, jobs = _jobs(fakes, 2)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN two calls (old token, new token), then the events are parked as auth
    assert [c.token for c in fakes.sender.calls] == [TOKEN, "fixed-token"]
    assert [reason for _, reason, _ in result.parked] == ["auth", "auth"]


def test_a_refused_api_version_parks_as_auth_with_a_version_detail():
    # GIVEN a vendor refusing the API version (code 2635)
    fakes = Fakes(sender=FakeSender([refused(version=True)]))
    deps, jobs = _jobs(fakes, 1)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN the event is parked as auth, the detail says version, and it is counted
    assert [(reason, d) for _, reason, d in result.parked] == [
        ("auth", "version: http 400, code 2635, fbtrace trace-auth")
    ]
    assert result.version_errors == 1


def test_a_token_refused_during_bisection_parks_the_rest_without_calls():
    # GIVEN four events: the first call fails as invalid, the next one refuses the token
    fakes = Fakes(sender=FakeSender([invalid(), refused()]))
    deps, jobs = _jobs(fakes, 4)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN the second half is not sent with a refused token: every event is parked as auth
    assert fakes.sender.sizes == [4, 2]
    assert sorted((p.record.message_id, reason) for p, reason, _ in result.parked) == [
        (f"m-{i}", "auth") for i in range(4)
    ]
    assert fakes.vault.invalidations == {"int-1": 1}


def test_a_missing_token_parks_the_job_as_auth_without_a_call():
    # GIVEN an integration without a readable token
    fakes = Fakes(vault=FakeVault(missing={"int-1"}))
    deps, jobs = _jobs(fakes, 2)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN nothing is sent; both events are parked as auth naming the secret; a warning says why (code)
    assert fakes.sender.calls == []
    detail = "no readable secret fake/int-1/access-token (ResourceNotFoundException)"
    assert [(p.record.message_id, r, d) for p, r, d in result.parked] == [
        ("m-0", "auth", detail),
        ("m-1", "auth", detail),
    ]
    assert result.retry == []
    assert fakes.log.lines == [
        (
            "warning",
            "token missing; the integration's events are parked (auth)",
            {"integration_id": "int-1", "error": "MissingToken", "code": "ResourceNotFoundException"},
        )
    ]


def test_an_unavailable_token_hands_the_job_back_and_warns():
    # GIVEN Secrets Manager unable to answer for the integration
    fakes = Fakes(vault=FakeVault(unavailable={"int-1"}))
    deps, jobs = _jobs(fakes, 2)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN nothing is sent, both go back to SQS (parked `unavailable` should it be their last receive),
    # and the warning names the integration, the error and Secrets Manager's code
    assert fakes.sender.calls == []
    detail = "token secret unreadable (ThrottlingException)"
    assert [(p.record.message_id, r, d) for p, r, d in result.returned] == [
        ("m-0", "unavailable", detail),
        ("m-1", "unavailable", detail),
    ]
    assert (result.retry, result.parked) == ([], [])
    assert fakes.log.lines == [
        (
            "warning",
            "token unavailable; the integration's records go back to SQS",
            {"integration_id": "int-1", "error": "TokenUnavailable", "code": "ThrottlingException"},
        )
    ]


def test_no_call_starts_when_the_invocation_is_about_to_end():
    # GIVEN exactly one call's budget left (a call needs more than that)
    fakes = Fakes()
    deps, jobs = _jobs(fakes, 2, remaining_s=lambda: BUDGET_S)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN no call; everything goes back to SQS
    assert fakes.sender.calls == []
    assert _ids(result.retry) == ["m-0", "m-1"]
    assert (result.requests, result.delivered) == (0, [])


def test_a_call_starts_with_just_enough_time_left():
    # GIVEN a tenth of a second more than one call's budget
    fakes = Fakes()
    deps, jobs = _jobs(fakes, 2, remaining_s=lambda: BUDGET_S + 0.1)
    # WHEN sent / THEN the call is made
    result = send_job(jobs[0], deps, NOW)
    assert fakes.sender.sizes == [2]
    assert _ids(result.delivered) == ["m-0", "m-1"]


def test_a_transient_error_is_not_retried_when_time_ran_out_meanwhile():
    # GIVEN a vendor failing transiently and time running short after the first call
    left = [100.0, 1.0]
    fakes = Fakes(sender=FakeSender(default=lambda request: transient(500)))
    deps, jobs = _jobs(fakes, 1, remaining_s=lambda: left.pop(0) if len(left) > 1 else left[0])
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN one call, no backoff, the event goes back to SQS
    assert (fakes.sender.sizes, fakes.sleeps) == ([1], [])
    assert _ids(result.retry) == ["m-0"]


def test_bisection_stops_calling_when_time_ran_out():
    # GIVEN a poison event among four and time running short after the first call
    left = [100.0, 1.0]
    fakes = Fakes(sender=FakeSender(poison={"m-3"}))
    deps, jobs = _jobs(fakes, 4, remaining_s=lambda: left.pop(0) if len(left) > 1 else left[0])
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN the halves are not sent: every event goes back to SQS (the next receive bisects again)
    assert fakes.sender.sizes == [4]
    assert sorted(_ids(result.retry)) == ["m-0", "m-1", "m-2", "m-3"]
    assert (result.parked, result.delivered) == ([], [])


def test_a_failed_ledger_write_still_counts_as_delivered_and_is_logged():
    # GIVEN a vendor accepting and a ledger refusing writes
    fakes = Fakes(ledger=FakeLedger(fail_writes=True))
    deps, jobs = _jobs(fakes, 2)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN the events are delivered (they reached the vendor) and the error says what could happen
    assert _ids(result.delivered) == ["m-0", "m-1"]
    assert fakes.log.lines == [
        (
            "error",
            "ledger write failed after the vendor accepted the events (a redelivery could resend them)",
            {
                "integration_id": "int-1",
                "events": 2,
                "error": "FakeAwsError",
                "code": "ProvisionedThroughputExceededException",
            },
        )
    ]


def test_a_failing_debugger_never_changes_the_outcome():
    # GIVEN a debugger that raises and a vendor failing transiently
    fakes = Fakes(debugger=FakeDebugger(fail=True), sender=FakeSender(default=lambda r: transient()))
    deps, jobs = _jobs(fakes, 1)
    # WHEN sent
    result = send_job(jobs[0], deps, NOW)
    # THEN the event still goes back to SQS; the debugger failure is a warning
    assert _ids(result.retry) == ["m-0"]
    assert fakes.log.lines == [
        (
            "warning",
            "debugger record failed",
            {"integration_id": "int-1", "error": "FakeAwsError", "code": "ValidationException"},
        )
    ]


def test_send_all_sends_each_integrations_job_and_keeps_their_order():
    # GIVEN one source with two integrations on two pixels; the second pixel refuses the token
    second = integration(pixel_id="2222").model_copy(update={"id": "int-2"})
    sender = FakeSender(default=lambda r: refused() if r.pixel_id == "2222" else receipt(r))
    fakes = Fakes(integrations=FakeIntegrations({"src-1": [integration(), second]}), sender=sender)
    deps, jobs = _jobs(fakes, 2)
    # WHEN every job is sent (concurrently)
    results = send_all(jobs, deps, NOW)
    # THEN the results line up with the jobs: int-1 delivered, int-2 parked as auth and invalidated
    assert [j.integration.id for j in jobs] == ["int-1", "int-2"]
    assert [_ids(r.delivered) for r in results] == [["m-0", "m-1"], []]
    assert [[reason for _, reason, _ in r.parked] for r in results] == [[], ["auth", "auth"]]
    assert fakes.vault.invalidations == {"int-2": 1}
    assert sorted(c.request.pixel_id for c in sender.calls) == ["1234567890", "2222"]
    assert send_all([], deps, NOW) == []


def test_a_defect_while_sending_keeps_what_was_delivered_and_sends_the_rest_back():
    # GIVEN four events sent two per request, and a sender whose second call fails with a defect
    calls = []

    def second_breaks(request: Any) -> Any:
        calls.append(request)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return None

    fakes = Fakes(sender=FakeSender(default=second_breaks))
    deps, jobs = _jobs(fakes, 4, max_events_per_request=2)
    # WHEN the jobs are sent
    (result,) = send_all(jobs, deps, NOW)
    # THEN the first request's events stay delivered (and in the ledger), the second's go back to SQS
    # with the error class as their last-receive detail, and the error class is logged
    assert _ids(result.delivered) == ["m-0", "m-1"]
    assert [(p.record.message_id, r, d) for p, r, d in result.returned] == [
        ("m-2", "retries_exhausted", "sending failed (RuntimeError)"),
        ("m-3", "retries_exhausted", "sending failed (RuntimeError)"),
    ]
    assert (result.retry, result.parked) == ([], [])
    assert fakes.ledger.keys == {KEY.format(0), KEY.format(1)}
    assert fakes.log.lines == [
        (
            "error",
            "unexpected error while sending; the integration's unsettled records go back to SQS",
            {"integration_id": "int-1", "error": "RuntimeError"},
        )
    ]
