"""Per-integration delivery rollups: what was delivered, which match keys it carried, what was
dead-lettered, and the last outcome — one DynamoDB item per integration and UTC hour, added to with one
UpdateItem per integration per batch. The console's integration list and match-quality chart read a
day of them with one Query, never the event debugger's records.

Counts only: no payload value, no identifier of a person is ever part of an item.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# Hours kept (the console reads the last 24; a week lets a weekend be looked at on Monday).
RETENTION = timedelta(days=8)
MAX_WINDOW_HOURS = 168
HOUR_KEY = "%Y-%m-%dT%H"
_KEY_PREFIX = "k_"  # counts of events carrying a match key: k_em, k_ph, ...
_PARKED_PREFIX = "p_"  # dead-lettered by reason: p_auth, p_invalid, ...


@dataclass
class Tally:
    """One integration's share of one batch."""

    delivered: int = 0
    match_keys: Counter[str] = field(default_factory=Counter)
    dead_lettered: Counter[str] = field(default_factory=Counter)
    retrying: int = 0

    def outcome(self) -> str | None:
        """The batch's outcome for the integration: `delivered` when anything was, else the commonest
        dead-letter reason, else `retrying`; None when the batch had nothing for it."""
        if self.delivered:
            return "delivered"
        if self.dead_lettered:
            return self.dead_lettered.most_common(1)[0][0]
        return "retrying" if self.retrying else None


@dataclass
class Window:
    """The sum of an integration's hourly items over a window."""

    since: datetime
    until: datetime
    delivered: int = 0
    match_keys: Counter[str] = field(default_factory=Counter)
    dead_lettered: Counter[str] = field(default_factory=Counter)
    retrying: int = 0
    last_outcome: str | None = None
    last_at: str | None = None
    by_hour: dict[str, int] = field(default_factory=dict)  # hour (ISO, UTC) → delivered


@dataclass(frozen=True, slots=True)
class KeyGuide:
    """How a vendor's match key is shown: its label, the share of delivered events below which it is
    low, and what to do then."""

    label: str
    low_below: float
    advice: str


@dataclass(frozen=True, slots=True)
class Coverage:
    """One match key over a window: `share` = events carrying it / events delivered (0 when none were),
    rounded to 4 places; `low` below its guide's threshold (never when nothing was delivered)."""

    key: str
    label: str
    events: int
    share: float
    low: bool
    advice: str | None


def coverage(window: Window, guide: Mapping[str, KeyGuide]) -> list[Coverage]:
    """Each key of `guide`, in its order, over `window`; `advice` only for a low share."""
    out = []
    for key, g in guide.items():
        count = window.match_keys.get(key, 0)
        share = count / window.delivered if window.delivered else 0.0
        low = bool(window.delivered) and share < g.low_below
        out.append(Coverage(key, g.label, count, round(share, 4), low, g.advice if low else None))
    return out


def hour_of(at: datetime) -> str:
    return at.astimezone(UTC).strftime(HOUR_KEY)


class DeliveryStats:
    """DynamoDB table keyed by integration_id + hour (`2026-12-04T13`, UTC), TTL attribute expires_at."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def add(self, integration_id: str, tally: Tally, *, at: datetime) -> None:
        """Add `tally` to the item of `at`'s hour (one UpdateItem; counters are atomic, so concurrent
        batches add up). Raises the client's error (the caller decides whether it matters)."""
        outcome = tally.outcome()
        if outcome is None:
            return
        names: dict[str, str] = {"#o": "last_outcome", "#t": "last_at", "#e": "expires_at"}
        values: dict[str, Any] = {
            ":o": {"S": outcome},
            ":t": {"S": at.astimezone(UTC).isoformat(timespec="seconds")},
            ":e": {"N": str(int((at + RETENTION).timestamp()))},
        }
        adds = []
        counts = {
            "delivered": tally.delivered,
            "retrying": tally.retrying,
            **{_KEY_PREFIX + k: n for k, n in tally.match_keys.items()},
            **{_PARKED_PREFIX + r: n for r, n in tally.dead_lettered.items()},
        }
        for n, (name, count) in enumerate(sorted(counts.items())):
            if count:
                names[f"#a{n}"] = name
                values[f":a{n}"] = {"N": str(count)}
                adds.append(f"#a{n} :a{n}")
        expression = "SET #o = :o, #t = :t, #e = :e" + (" ADD " + ", ".join(adds) if adds else "")
        self._db.update_item(
            TableName=self._table,
            Key={"integration_id": {"S": integration_id}, "hour": {"S": hour_of(at)}},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def window(self, integration_id: str, *, now: datetime, hours: int = 24) -> Window:
        """The last `hours` hours of `integration_id` (the current hour included), summed; raises
        ValueError for `hours` outside 1..MAX_WINDOW_HOURS."""
        if not 1 <= hours <= MAX_WINDOW_HOURS:
            raise ValueError(f"hours must be 1..{MAX_WINDOW_HOURS}")
        until = now.astimezone(UTC)
        since = until.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
        out = Window(since=since, until=until)
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "integration_id = :i AND #h BETWEEN :since AND :until",
            "ExpressionAttributeNames": {"#h": "hour"},
            "ExpressionAttributeValues": {
                ":i": {"S": integration_id},
                ":since": {"S": hour_of(since)},
                ":until": {"S": hour_of(until)},
            },
        }
        while True:  # at most MAX_WINDOW_HOURS small items: one page, in practice
            answer = self._db.query(**kwargs)
            for item in answer.get("Items", []):
                _merge(out, item)
            if not answer.get("LastEvaluatedKey"):
                return out
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _merge(out: Window, item: Mapping[str, Any]) -> None:
    hour = item["hour"]["S"]
    for name, value in item.items():
        if "N" not in value or name == "expires_at":
            continue
        count = int(value["N"])
        if name == "delivered":
            out.delivered += count
            out.by_hour[datetime.strptime(hour, HOUR_KEY).replace(tzinfo=UTC).isoformat()] = count
        elif name == "retrying":
            out.retrying += count
        elif name.startswith(_KEY_PREFIX):
            out.match_keys[name.removeprefix(_KEY_PREFIX)] += count
        elif name.startswith(_PARKED_PREFIX):
            out.dead_lettered[name.removeprefix(_PARKED_PREFIX)] += count
    at = item.get("last_at", {}).get("S")
    if at and (out.last_at is None or at >= out.last_at):
        out.last_at = at
        out.last_outcome = item.get("last_outcome", {}).get("S")
