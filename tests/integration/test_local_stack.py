"""relay.local.stack builds what template.yaml declares: queue attributes (mappings included), batch size."""

from __future__ import annotations

import json

from relay.local.stack import LocalStack

DAY = 24 * 3600


def test_local_queues_have_the_template_retention_visibility_and_redrive(local: LocalStack):
    # GIVEN the local stack / WHEN its queues' attributes are read back from moto
    attributes = {
        name: local.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for name, url in local.queue_urls.items()
    }
    # THEN the events queue keeps 8 days, the DLQ DlqRetentionDays' default (8) through DaysInSeconds
    assert sorted(attributes) == ["DeadLetterQueue", "EventsQueue"]
    assert attributes["EventsQueue"]["MessageRetentionPeriod"] == str(8 * DAY)
    assert attributes["DeadLetterQueue"]["MessageRetentionPeriod"] == str(8 * DAY)
    # AND the events queue keeps its visibility timeout and dead-letters to the DLQ after 5 receives
    assert attributes["EventsQueue"]["VisibilityTimeout"] == "360"
    assert json.loads(attributes["EventsQueue"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": attributes["DeadLetterQueue"]["QueueArn"],
        "maxReceiveCount": 5,
    }


def test_local_batches_are_the_event_source_mapping_batches(local: LocalStack):
    # GIVEN the template's event source mapping / WHEN the local stack's drain batch size is read
    mapping = local.template["Resources"]["DeliverFunctionQueue"]["Properties"]
    # THEN it is the parameter the mapping's BatchSize names, at its default
    assert mapping["BatchSize"] == {"Ref": "DeliverBatchSize"}
    assert local.batch_size == local.template["Parameters"]["DeliverBatchSize"]["Default"] == 1000
