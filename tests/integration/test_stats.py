"""relay.stats: Tally's outcome, and DeliveryStats against the template's StatsTable in moto."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.local.graph import GraphEmulator
from relay.local.runner import LOCAL_SOURCE, THROWAWAY_TOKEN
from relay.local.stack import Totals
from relay.stats import MAX_WINDOW_HOURS, RETENTION, DeliveryStats, Tally, hour_of
from tests.fakes import WrappedClient
from tests.integration.conftest import PIXEL
from tests.support import order, tally_of

TABLE = "StatsTable"
# Half past one: the window's hours start on the hour, its end is this very moment.
NOW = datetime(2026, 12, 4, 13, 30, 15, tzinfo=UTC)
# What an item may hold besides its counters (k_<match key>, p_<dead-letter reason>, delivered, retrying).
NOT_COUNTS = {"integration_id", "hour", "last_outcome", "last_at", "expires_at"}


def _items(local: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = local.dynamodb.scan(TableName=TABLE)["Items"]
    return sorted(items, key=lambda i: (i["integration_id"]["S"], i["hour"]["S"]))


# ---- Tally.outcome ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tally", "outcome"),
    [
        (tally_of(delivered=1, parked={"invalid": 5}, retrying=3), "delivered"),
        (tally_of(parked={"invalid": 1, "auth": 2}, retrying=3), "auth"),
        (tally_of(parked={"expired": 1}), "expired"),
        (tally_of(retrying=2), "retrying"),
        (tally_of(keys={"em": 1}), None),
        (tally_of(), None),
    ],
)
def test_the_outcome_is_delivered_then_the_commonest_reason_then_retrying(tally, outcome):
    # GIVEN an integration's tally of a batch
    # WHEN its outcome is asked for
    # THEN anything delivered wins, else the commonest dead-letter reason, else retrying, else none
    assert tally.outcome() == outcome


# ---- add ---------------------------------------------------------------------------------------------


def test_a_tally_is_one_update_item_adding_to_its_integrations_hour(local):
    # GIVEN a tally of 3 delivered (2 with an email, 1 with a phone) and one parked invalid
    spy = WrappedClient(local.dynamodb)
    tally = tally_of(delivered=3, keys={"em": 2, "ph": 1}, parked={"invalid": 1})
    # WHEN added at NOW
    DeliveryStats(spy, TABLE).add("int-1", tally, at=NOW)
    # THEN one UpdateItem, and int-1's 13:00 item holds the counts, the outcome and when, expiring 8 days on
    assert [name for name, _ in spy.calls] == ["update_item"]
    assert _items(local) == [
        {
            "integration_id": {"S": "int-1"},
            "hour": {"S": "2026-12-04T13"},
            "delivered": {"N": "3"},
            "k_em": {"N": "2"},
            "k_ph": {"N": "1"},
            "p_invalid": {"N": "1"},
            "last_outcome": {"S": "delivered"},
            "last_at": {"S": "2026-12-04T13:30:15+00:00"},
            "expires_at": {"N": str(int((NOW + RETENTION).timestamp()))},
        }
    ]
    assert int((NOW + RETENTION).timestamp()) == 1_797_082_215


def test_adds_to_the_same_hour_add_up_and_the_last_outcome_is_the_latest(local):
    # GIVEN a delivered batch at 13:05, then a batch of retries only at 13:40, for the same integration
    stats = DeliveryStats(local.dynamodb, TABLE)
    stats.add("int-1", tally_of(delivered=2, keys={"em": 1}), at=NOW.replace(minute=5))
    # WHEN the second is added
    stats.add("int-1", tally_of(keys={"em": 1}, retrying=4), at=NOW.replace(minute=40))
    # THEN one item with the sums; its outcome and time are the second batch's; zero counts are not written
    [item] = _items(local)
    assert {k: v for k, v in item.items() if k not in NOT_COUNTS} == {
        "delivered": {"N": "2"},
        "k_em": {"N": "2"},
        "retrying": {"N": "4"},
    }
    assert (item["last_outcome"], item["last_at"]) == ({"S": "retrying"}, {"S": "2026-12-04T13:40:15+00:00"})


def _one_at_a_time(lock: threading.Lock) -> Any:
    """An UpdateItem applied whole, as DynamoDB applies each (moto 5 does not: two concurrent first updates
    of an item each create it, and one is lost)."""

    def around(call: Any, kwargs: dict[str, Any]) -> Any:
        with lock:
            return call(**kwargs)

    return around


def test_concurrent_adds_to_the_same_hour_all_count(local):
    # GIVEN 8 batches, each of 5 delivered events with an email, of one integration in one hour
    spy = WrappedClient(local.dynamodb, update_item=_one_at_a_time(threading.Lock()))
    stats = DeliveryStats(spy, TABLE)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def batch(n: int) -> None:
        start.wait()
        try:
            stats.add("int-1", tally_of(delivered=5, keys={"em": 5}), at=NOW + timedelta(seconds=n))
        except BaseException as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=batch, args=(n,)) for n in range(8)]
    # WHEN they are added at the same time
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN every one counts: the table adds the counters (one update each, no read of the item first)
    assert errors == []
    assert [name for name, _ in spy.calls] == ["update_item"] * 8
    assert {r["UpdateExpression"] for r in spy.requests("update_item")} == {
        "SET #o = :o, #t = :t, #e = :e ADD #a0 :a0, #a1 :a1"
    }
    [item] = _items(local)
    assert (item["delivered"], item["k_em"]) == ({"N": "40"}, {"N": "40"})


def test_a_tally_with_no_outcome_writes_nothing(local):
    # GIVEN a tally of an integration the batch had nothing for
    spy = WrappedClient(local.dynamodb)
    # WHEN added
    DeliveryStats(spy, TABLE).add("int-1", Tally(), at=NOW)
    # THEN no call is made and there is no item
    assert (spy.calls, _items(local)) == ([], [])


def test_items_hold_only_counts_an_outcome_and_times(local):
    # GIVEN every kind of count for two integrations, in two hours
    stats = DeliveryStats(local.dynamodb, TABLE)
    every_key = dict.fromkeys(("em", "ph", "fn", "ln", "external_id", "fbp", "fbc", "client_ip_address"), 1)
    stats.add("int-1", tally_of(delivered=1, keys=every_key, parked={"invalid": 1, "auth": 1}), at=NOW)
    stats.add("int-2", tally_of(parked={"expired": 2}, retrying=1), at=NOW - timedelta(hours=1))
    # WHEN the table is read
    items = _items(local)
    # THEN each attribute is a key, a count (k_*, p_*, delivered, retrying), the outcome or a time
    assert [(i["integration_id"]["S"], i["hour"]["S"], i["last_outcome"]["S"]) for i in items] == [
        ("int-1", "2026-12-04T13", "delivered"),
        ("int-2", "2026-12-04T12", "expired"),
    ]
    for item in items:
        counters = {k: v for k, v in item.items() if k not in NOT_COUNTS}
        assert all(k in {"delivered", "retrying"} or k[:2] in {"k_", "p_"} for k in counters), counters
        assert all(set(v) == {"N"} and int(v["N"]) > 0 for v in counters.values()), counters
        assert set(item["expires_at"]) == {"N"}
        assert datetime.fromisoformat(item["last_at"]["S"]).tzinfo == UTC
    assert sorted(items[1]) == sorted([*NOT_COUNTS, "p_expired", "retrying"])


# ---- window ------------------------------------------------------------------------------------------


def _hours_ago(n: int) -> datetime:
    return NOW - timedelta(hours=n)


def test_a_24_hour_window_sums_the_current_hour_and_the_23_before_it(local):
    # GIVEN int-1's items now, 1 h, 23 h, 24 h and 25 h ago, and another integration's item now
    stats = DeliveryStats(local.dynamodb, TABLE)
    stats.add("int-1", tally_of(delivered=1, keys={"em": 1}), at=NOW)
    stats.add("int-1", tally_of(delivered=2, keys={"em": 2, "ph": 1}, parked={"auth": 1}), at=_hours_ago(1))
    stats.add(
        "int-1", tally_of(delivered=4, retrying=3), at=NOW.replace(minute=0, second=0) - timedelta(hours=23)
    )
    stats.add("int-1", tally_of(delivered=100, keys={"fbc": 100}), at=_hours_ago(24))
    stats.add("int-1", tally_of(delivered=1000, parked={"invalid": 9}), at=_hours_ago(25))
    stats.add("int-2", tally_of(delivered=7), at=NOW)
    # WHEN the last 24 hours are asked for
    window = DeliveryStats(local.dynamodb, TABLE).window("int-1", now=NOW, hours=24)
    # THEN the three items from 14:00 yesterday on are summed; 24 h and 25 h ago are out
    assert (window.since, window.until) == (datetime(2026, 12, 3, 14, tzinfo=UTC), NOW)
    assert (window.delivered, window.retrying) == (7, 3)
    assert window.match_keys == Counter({"em": 3, "ph": 1})
    assert window.dead_lettered == Counter({"auth": 1})
    assert window.by_hour == {
        "2026-12-03T14:00:00+00:00": 4,
        "2026-12-04T12:00:00+00:00": 2,
        "2026-12-04T13:00:00+00:00": 1,
    }
    # AND the last outcome is the newest item's
    assert (window.last_outcome, window.last_at) == ("delivered", "2026-12-04T13:30:15+00:00")


def test_the_last_outcome_comes_from_the_item_with_the_newest_time(local):
    # GIVEN an hour ending in a delivery, and the hour after it ending in auth refusals only
    stats = DeliveryStats(local.dynamodb, TABLE)
    stats.add("int-1", tally_of(parked={"auth": 2}), at=NOW.replace(minute=10))
    stats.add("int-1", tally_of(delivered=1), at=_hours_ago(1))
    # WHEN a window over both is read
    window = stats.window("int-1", now=NOW, hours=2)
    # THEN the last outcome is the later hour's (auth), with its time; an hour without deliveries has no bar
    assert (window.last_outcome, window.last_at) == ("auth", "2026-12-04T13:10:15+00:00")
    assert window.by_hour == {"2026-12-04T12:00:00+00:00": 1}
    assert (window.delivered, window.dead_lettered) == (1, Counter({"auth": 2}))


def test_a_one_hour_window_is_the_current_hour_only(local):
    # GIVEN items in the current hour and at 12:59:59
    stats = DeliveryStats(local.dynamodb, TABLE)
    stats.add("int-1", tally_of(delivered=1), at=NOW.replace(minute=0, second=0))
    stats.add("int-1", tally_of(delivered=5), at=NOW.replace(minute=0, second=0) - timedelta(seconds=1))
    # WHEN the last hour is read
    window = stats.window("int-1", now=NOW, hours=1)
    # THEN only 13:00 counts
    assert (window.since, window.delivered) == (datetime(2026, 12, 4, 13, tzinfo=UTC), 1)


def test_a_window_never_includes_hours_after_its_end(local):
    # GIVEN items at 11:00 and 13:00
    stats = DeliveryStats(local.dynamodb, TABLE)
    stats.add("int-1", tally_of(delivered=1), at=_hours_ago(2))
    stats.add("int-1", tally_of(delivered=50, parked={"auth": 1}), at=NOW)
    # WHEN the 24 hours up to 11:30 are read
    window = stats.window("int-1", now=_hours_ago(2), hours=24)
    # THEN the 13:00 item, after the window's end, is not part of it
    assert (window.until, window.delivered, window.dead_lettered) == (_hours_ago(2), 1, Counter())
    assert window.last_outcome == "delivered"
    assert window.by_hour == {"2026-12-04T11:00:00+00:00": 1}


def test_a_window_of_a_week_reads_every_page_of_168_items(local):
    # GIVEN one delivered event in each of the last 168 hours
    stats = DeliveryStats(local.dynamodb, TABLE)
    for n in range(MAX_WINDOW_HOURS):
        stats.add("int-1", tally_of(delivered=1, keys={"em": 1}), at=_hours_ago(n))
    spy = WrappedClient(local.dynamodb)
    # WHEN the week is read, a page holding at most 50 items
    paged = WrappedClient(spy, query=lambda call, kwargs: call(**{**kwargs, "Limit": 50}))
    window = DeliveryStats(paged, TABLE).window("int-1", now=NOW, hours=MAX_WINDOW_HOURS)
    # THEN every hour counts, read in four queries
    assert (window.delivered, window.match_keys, len(window.by_hour)) == (168, Counter({"em": 168}), 168)
    assert len(spy.requests("query")) == 4


def test_an_integration_without_items_has_an_empty_window(local):
    # GIVEN nothing recorded
    # WHEN a window is read
    window = DeliveryStats(local.dynamodb, TABLE).window("int-1", now=NOW)
    # THEN it is empty, over the default 24 hours
    assert (window.since, window.delivered, window.retrying) == (datetime(2026, 12, 3, 14, tzinfo=UTC), 0, 0)
    assert (window.match_keys, window.dead_lettered, window.by_hour) == (Counter(), Counter(), {})
    assert (window.last_outcome, window.last_at) == (None, None)


@pytest.mark.parametrize("hours", [0, -1, MAX_WINDOW_HOURS + 1])
def test_a_window_outside_1_to_168_hours_is_refused(local, hours):
    # GIVEN a stats reader over a client that would record a call
    spy = WrappedClient(local.dynamodb)
    # WHEN a window of `hours` is asked for
    with pytest.raises(ValueError, match=r"^hours must be 1\.\.168$"):
        DeliveryStats(spy, TABLE).window("int-1", now=NOW, hours=hours)
    # THEN it is refused before any query
    assert spy.calls == []


# ---- delivery end to end -----------------------------------------------------------------------------


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    """The Graph emulator accepting the `stack` fixture's integration's token."""
    with GraphEmulator(access_tokens={PIXEL: THROWAWAY_TOKEN}) as emulator:
        yield emulator


def test_a_delivered_purchase_with_an_email_counts_k_em_in_its_integrations_hour(stack, graph):
    # GIVEN two fresh Purchases (Order Completed) for the local integration, only the first with an email
    local, settings = stack
    now = datetime.now(UTC).replace(microsecond=0)
    moment = (now - timedelta(minutes=1)).isoformat()
    with_email = order("m-1", timestamp=moment, source_id=LOCAL_SOURCE)
    without = order("m-2", timestamp=moment, source_id=LOCAL_SOURCE)
    del without["context"]["traits"]["email"]
    # WHEN they flow through the queue and delivery with the template's wiring, at `now`
    totals = Totals(
        accepted=local.enqueue([json.dumps(with_email), json.dumps(without)], local.events_queue_url)
    )
    deps = local.deps(settings, default_source=LOCAL_SOURCE, sleep=lambda s: None, now=lambda: now)
    local.drain(local.events_queue_url, deps, totals)
    # THEN Meta accepted both as Purchase, with an email for the first only
    assert sorted((k[1], k[2]) for k in graph.accepted_keys()) == [("Purchase", "m-1"), ("Purchase", "m-2")]
    assert {e.event["event_id"]: "em" in e.event["user_data"] for e in graph.accepted} == {
        "m-1": True,
        "m-2": False,
    }
    # AND the integration's hour counts 2 delivered, 1 with an email, and when
    items: list[dict[str, Any]] = local.dynamodb.scan(TableName=settings.stats_table)["Items"]
    [item] = items
    assert (item["integration_id"], item["hour"]) == ({"S": "local-meta"}, {"S": hour_of(now)})
    assert {k: v["N"] for k, v in item.items() if k not in NOT_COUNTS} == {
        "delivered": "2",
        "k_em": "1",
        "k_fn": "2",
        "k_external_id": "2",
        "k_client_ip_address": "2",
        "k_client_user_agent": "2",
    }
    assert (item["last_outcome"], item["last_at"]) == ({"S": "delivered"}, {"S": now.isoformat()})
    # AND the item holds no payload value, neither in clear nor hashed
    text = json.dumps(items)
    hashed_email = hashlib.sha256(b"m-1@example.com").hexdigest()
    for value in ("m-1@example.com", hashed_email, "198.51.100.7", "Ana", "o-m-1", "25.5", "Purchase"):
        assert value not in text
    # AND the admin API's reader sees the same
    window = DeliveryStats(local.dynamodb, settings.stats_table).window("local-meta", now=now)
    assert (window.delivered, window.match_keys["em"], window.last_outcome) == (2, 1, "delivered")
