"""relay.ledger.Ledger against the template's LedgerTable in moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from relay.ledger import Ledger, ledger_key
from tests.fakes import WrappedClient, client_error

NOW = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
TABLE = "LedgerTable"


def test_recorded_keys_are_reported_delivered_and_others_not(local):
    # GIVEN a ledger with two keys recorded (one of them twice)
    ledger = Ledger(local.dynamodb, TABLE)
    a, b, c = (ledger_key("123", "Lead", f"m-{i}") for i in range(3))
    ledger.record([a, b, a], now=NOW)
    # WHEN asked about three keys / THEN exactly the two recorded ones are delivered
    assert set(ledger.delivered([a, c, b])) == {a, b}
    assert ledger.delivered([]) == {}
    assert a == "123#Lead#m-0"


def test_many_keys_are_read_in_batches_of_100_and_written_in_batches_of_25(local):
    # GIVEN 250 keys recorded through a client that counts calls
    spy = WrappedClient(local.dynamodb)
    ledger = Ledger(spy, TABLE, sleep=lambda s: None)
    keys = [f"123#Lead#m-{i}" for i in range(250)]
    ledger.record(keys, now=NOW)
    # WHEN 255 keys are looked up (5 never recorded)
    found = ledger.delivered([*keys, *(f"123#Lead#x-{i}" for i in range(5))])
    # THEN all 250 are found, in 3 BatchGetItem calls and after 10 BatchWriteItem calls
    assert set(found) == set(keys)
    assert [len(r["RequestItems"][TABLE]["Keys"]) for r in spy.requests("batch_get_item")] == [100, 100, 55]
    assert [len(r["RequestItems"][TABLE]) for r in spy.requests("batch_write_item")] == [25] * 10


def test_an_item_expires_one_day_after_the_retention_and_the_table_ttl_reads_that_attribute(local):
    # GIVEN a key recorded at NOW with the default retention (Meta's 7 days + 1 day)
    Ledger(local.dynamodb, TABLE).record(["123#Lead#m-1"], now=NOW)
    Ledger(local.dynamodb, TABLE, retention=timedelta(days=2)).record(["123#Lead#m-2"], now=NOW)
    # WHEN the table is read
    items = sorted(local.dynamodb.scan(TableName=TABLE)["Items"], key=lambda i: i["key"]["S"])
    ttl = local.dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    # THEN expires_at is the epoch second of NOW + retention, the attribute the table's TTL uses
    assert items == [
        {
            "key": {"S": "123#Lead#m-1"},
            "expires_at": {"N": str(int(datetime(2026, 12, 4, 13, tzinfo=UTC).timestamp()))},
        },
        {
            "key": {"S": "123#Lead#m-2"},
            "expires_at": {"N": str(int(datetime(2026, 11, 28, 13, tzinfo=UTC).timestamp()))},
        },
    ]
    assert ttl["AttributeName"] == "expires_at"


def test_unprocessed_keys_and_items_are_asked_again(local):
    # GIVEN a client that processes only the first key / item of a call on the first call
    def first_only_get(call, kwargs):
        request = kwargs["RequestItems"][TABLE]
        if len(spy.requests("batch_get_item")) > 1:
            return call(**kwargs)
        answer = call(RequestItems={TABLE: {**request, "Keys": request["Keys"][:1]}})
        answer["UnprocessedKeys"] = {TABLE: {**request, "Keys": request["Keys"][1:]}}
        return answer

    def first_only_write(call, kwargs):
        items = kwargs["RequestItems"][TABLE]
        if len(spy.requests("batch_write_item")) > 1:
            return call(**kwargs)
        answer = call(RequestItems={TABLE: items[:1]})
        answer["UnprocessedItems"] = {TABLE: items[1:]}
        return answer

    spy = WrappedClient(local.dynamodb, batch_get_item=first_only_get, batch_write_item=first_only_write)
    sleeps: list[float] = []
    ledger = Ledger(spy, TABLE, sleep=sleeps.append)
    keys = ["123#Lead#m-1", "123#Lead#m-2", "123#Lead#m-3"]
    # WHEN three keys are recorded and read back
    ledger.record(keys, now=NOW)
    found = ledger.delivered(keys)
    # THEN the rest of each call is sent again after a short backoff, and nothing is missed
    assert set(found) == set(keys)
    assert [len(r["RequestItems"][TABLE]) for r in spy.requests("batch_write_item")] == [3, 2]
    assert [len(r["RequestItems"][TABLE]["Keys"]) for r in spy.requests("batch_get_item")] == [3, 2]
    assert sleeps == [0.05, 0.05]


def test_a_write_that_keeps_failing_raises_after_five_attempts(local):
    # GIVEN a client whose writes are always throttled
    def throttled(call, kwargs):
        raise client_error("ProvisionedThroughputExceededException", "BatchWriteItem")

    spy = WrappedClient(local.dynamodb, batch_write_item=throttled)
    sleeps: list[float] = []
    ledger = Ledger(spy, TABLE, sleep=sleeps.append)
    # WHEN a key is recorded / THEN the error comes out after five attempts with capped backoff
    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        ledger.record(["123#Lead#m-1"], now=NOW)
    assert len(spy.requests("batch_write_item")) == 5
    assert sleeps == [0.05, 0.1, 0.2, 0.4]


def test_each_key_remembers_the_record_that_delivered_it(local):
    # GIVEN keys recorded with the SQS record ids that delivered them, and one recorded without
    ledger = Ledger(local.dynamodb, TABLE)
    ledger.record(["123#Lead#m-1", "123#Lead#m-2"], now=NOW, record_of={"123#Lead#m-1": "sqs-1"})
    # WHEN read back / THEN each key maps to its record id ("" when none was given)
    assert ledger.delivered(["123#Lead#m-1", "123#Lead#m-2", "123#Lead#m-3"]) == {
        "123#Lead#m-1": "sqs-1",
        "123#Lead#m-2": "",
    }
