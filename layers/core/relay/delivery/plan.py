"""Phase 1, plan: parse every record, look up its source's integrations once, map it for each target.

Nothing is sent here. A body that is not an event is parked (malformed), a rejected event is parked
with the vendor's reason, a skipped one is counted with its reason, and a record whose integrations
cannot be read now is handed back to SQS (parked `unavailable` on its last receive).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from relay import profiles
from relay.aws import error_fields
from relay.delivery.model import Deps, Job, Pending, Plan
from relay.events import Event, EventError, context, parse_event_json
from relay.integrations import BrokenIntegration, Integration
from relay.ledger import ledger_key
from relay.outbound import Rejected, Skipped
from relay.profiles import Profile
from relay.queue import INTEGRATION_ID, DlqReason, Parked, SqsRecord
from relay.vendors import VENDORS

# A source id is the sender's text until the collector stamps it: log lines carry its first characters.
SOURCE_ID_LOGGED = 64


# Event types that reach a vendor (identify, group and alias are skipped): only these read profiles.
_PROFILED_TYPES = frozenset({"track", "page", "screen"})


def plan(records: Sequence[SqsRecord], deps: Deps, now: datetime) -> Plan:
    """The batch's jobs per integration, parks, skips and records to retry (see the module docstring)."""
    result = Plan()
    parsed: list[tuple[SqsRecord, Event]] = []
    for record in records:
        try:
            parsed.append((record, parse_event_json(record.body)))
        except EventError as exc:
            result.parked.append(
                Parked(record.message_id, record.body, "malformed", None, exc.reason, record.attributes)
            )
        except Exception as exc:  # a defect, not the sender's fault: still only this record is parked
            _defect(deps, "parsing", exc)
            detail = f"body: could not be read ({type(exc).__name__})"
            result.parked.append(
                Parked(record.message_id, record.body, "malformed", None, detail, record.attributes)
            )
    if deps.profiles is not None:
        parsed = _enriched(parsed, deps, deps.profiles)
    # Each source's integrations, or why they could not be read.
    per_source: dict[str, Sequence[Integration | BrokenIntegration] | str] = {}
    for record, event in parsed:
        source = context(event).get("source_id") or deps.default_source
        if source not in per_source:
            per_source[source] = _integrations(source, deps)
        integrations = per_source[source]
        if isinstance(integrations, str):  # DynamoDB trouble: SQS retries the message, parked at the end
            if record.receive_count >= deps.max_receive_count:
                result.parked.append(_park(record, "unavailable", None, integrations))
            else:
                result.failed.add(record.message_id)
            continue
        only = record.string_attribute(INTEGRATION_ID)
        targets = [i for i in integrations if only is None or i.id == only]
        if not targets:
            result.skips.append((record.message_id, "no_integration"))
        for target in targets:
            _map(record, event, target, result, now, deps)
    return result


def _enriched(
    parsed: list[tuple[SqsRecord, Event]],
    deps: Deps,
    lookup: Callable[[list[str]], Mapping[str, Profile]],
) -> list[tuple[SqsRecord, Event]]:
    """Each event with its visitor's profile filled in (relay.profiles.with_profile), all read at once.

    Profiles only add match keys: when they cannot be read, the batch goes on without them (logged).
    """
    wanted = [
        i
        for i, (_, e) in enumerate(parsed)
        if e["type"] in _PROFILED_TYPES and (e.get("anonymous_id") or e.get("user_id"))
    ]
    if not wanted:
        return parsed
    ids = []
    for i in wanted:
        event = parsed[i][1]
        source = context(event).get("source_id") or deps.default_source
        ids.append((source, event.get("anonymous_id"), event.get("user_id")))
    try:
        found = profiles.for_events(lookup, ids)
    except Exception as exc:
        deps.logger().warning(
            "profiles unreadable; the batch is delivered without them", extra=error_fields(exc)
        )
        return parsed
    out = list(parsed)
    for i, profile in zip(wanted, found, strict=True):
        if profile is not None:
            record, event = out[i]
            out[i] = (record, profiles.with_profile(event, profile))
    return out


def _integrations(source: str, deps: Deps) -> Sequence[Integration | BrokenIntegration] | str:
    """The source's integrations, or the DLQ detail saying why they could not be read."""
    try:
        return deps.integrations(source)
    except Exception as exc:
        fields = error_fields(exc)
        deps.logger().warning(
            "integrations unreadable; the source's records go back to SQS",
            extra={"source_id": source[:SOURCE_ID_LOGGED], **fields},
        )
        return f"integrations unreadable ({fields['code'] or fields['error']})"


def _map(
    record: SqsRecord,
    event: Event,
    target: Integration | BrokenIntegration,
    result: Plan,
    now: datetime,
    deps: Deps,
) -> None:
    if isinstance(target, BrokenIntegration):
        detail = f"integration {target.id} is unreadable: {target.problem}"
        result.parked.append(_park(record, "config", target.id, detail))
        return
    try:
        outcome = VENDORS[target.vendor].map_event(event, target, now=now)
    except Exception as exc:  # map_event never raises for bad data; a defect must not cost the batch
        _defect(deps, "mapping", exc)
        detail = f"event: could not be mapped ({type(exc).__name__})"
        result.parked.append(_park(record, "invalid", target.id, detail))
        return
    if isinstance(outcome, Skipped):
        result.skips.append((record.message_id, outcome.reason))
    elif isinstance(outcome, Rejected):
        result.parked.append(_park(record, outcome.code, target.id, outcome.reason))
    else:
        job = result.jobs.get(target.id)
        if job is None:
            job = result.jobs[target.id] = Job(target, [])
        job.items.append(
            Pending(record, outcome, ledger_key(outcome.pixel_id, outcome.event_name, outcome.event_id))
        )


def _park(record: SqsRecord, reason: DlqReason, integration_id: str | None, detail: str) -> Parked:
    return Parked(record.message_id, record.body, reason, integration_id, detail, record.attributes)


def _defect(deps: Deps, phase: str, exc: Exception) -> None:
    # The exception's type only: its message may quote the event.
    deps.logger().error(
        f"unexpected error while {phase} one record; it is parked", extra={"error": type(exc).__name__}
    )
