"""events/: the SQS-wrapped samples wrap exactly the Segment-spec samples, one event per message."""

from __future__ import annotations

import json

import pytest

from tests.support import EVENTS

VARIANTS = ["default", "retail", "travel", "b2b_saas"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_sqs_samples_wrap_the_plain_samples(variant):
    # GIVEN the plain and the SQS-wrapped sample file of a variant
    plain = json.loads((EVENTS / f"{variant}.json").read_text())
    sqs = json.loads((EVENTS / "sqs" / f"{variant}.json").read_text())
    # WHEN the SQS bodies are decoded
    bodies = [json.loads(r["body"]) for r in sqs["Records"]]
    # THEN they are the plain events, each record shaped like Lambda's SQS event
    assert bodies == plain
    assert all(
        r["eventSource"] == "aws:sqs" and r["messageId"] and r["receiptHandle"] for r in sqs["Records"]
    )


def test_every_mapped_spec_event_of_each_variant_has_a_sample():
    # GIVEN the variant tables
    from relay.vendors.meta_capi.variants import event_key, variant_rows

    # WHEN the samples' event names are collected per variant (default samples count for all)
    base = {
        event_key(e["event"])
        for e in json.loads((EVENTS / "default.json").read_text())
        if e["type"] == "track"
    }
    for variant in VARIANTS:
        own = {
            event_key(e["event"])
            for e in json.loads((EVENTS / f"{variant}.json").read_text())
            if e["type"] == "track"
        }
        # THEN every row of the variant has at least one sample
        assert set(variant_rows(variant)) <= base | own, variant
