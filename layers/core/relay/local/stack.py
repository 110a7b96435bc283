"""The embedded local stack: in-process moto with the queues, tables and secrets template.yaml declares.

Names, keys, indexes, TTLs and queue attributes are read from the template, never kept here a second
time. The drain loop plays the SQS event source mapping: it receives batches, calls the same delivery
entry point as DeliverFunction, deletes what succeeded and makes failures visible again at once.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.delivery import BatchOutcome, Deps, SqsRecord, deliver_batch
from relay.integrations import Integration
from relay.local.template import load_template
from relay.services import build_deliver_deps, secret_name
from relay.settings import Settings

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "template.yaml"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
RECEIVE_MAX = 10  # SQS ReceiveMessage limit
SEND_MAX = 10


@dataclass
class Totals:
    """The accounting of a local run: every accepted event ends in exactly one of these states."""

    accepted: int = 0
    delivered: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    dead_lettered: Counter[str] = field(default_factory=Counter)
    graph_requests: int = 0
    batches: int = 0

    def add(self, outcome: BatchOutcome) -> None:
        self.delivered += outcome.delivered
        self.skipped.update(outcome.skipped)
        self.dead_lettered.update(outcome.dead_lettered)
        self.graph_requests += outcome.graph_requests
        self.batches += 1

    def summary(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "delivered": self.delivered,
            "skipped": dict(self.skipped),
            "dead_lettered": dict(self.dead_lettered),
            "graph_requests": self.graph_requests,
        }


def _resolve(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return context[arg]
        if key == "Fn::GetAtt":
            return context[f"{arg[0]}.{arg[1]}"]
        if key == "Fn::Sub":
            text = str(arg)
            for name, resolved in context.items():
                text = text.replace("${" + name + "}", str(resolved))
            return text
    if isinstance(value, dict):
        return {k: _resolve(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, context) for v in value]
    return value


class LocalStack:
    """moto-backed AWS resources from template.yaml. Use as a context manager."""

    def __init__(self, template: Path = TEMPLATE) -> None:
        self.template = load_template(template)
        self._mock: Any = None
        self.context: dict[str, Any] = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
        }
        for name, spec in self.template.get("Parameters", {}).items():
            self.context[name] = spec.get("Default")
        self.queue_urls: dict[str, str] = {}
        self.tables: dict[str, str] = {}

    def __enter__(self) -> LocalStack:
        for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
            os.environ.setdefault(key, value)
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        from moto import mock_aws

        self._mock = mock_aws()
        self._mock.start()
        self.sqs = self.client("sqs")
        self.dynamodb = self.client("dynamodb")
        self.secretsmanager = self.client("secretsmanager")
        self._create()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._mock is not None:
            self._mock.stop()

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=REGION)

    def _resources(self, type_: str) -> Iterable[tuple[str, dict[str, Any]]]:
        for name, resource in self.template["Resources"].items():
            if resource["Type"] == type_:
                yield name, resource.get("Properties", {})

    def _create(self) -> None:
        queues = sorted(self._resources("AWS::SQS::Queue"), key=lambda q: "RedrivePolicy" in q[1])
        for name, props in queues:
            props = _resolve(props, self.context)
            attributes = {
                k: str(props[k]) for k in ("VisibilityTimeout", "MessageRetentionPeriod") if k in props
            }
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            url = self.sqs.create_queue(QueueName=props.get("QueueName", name), Attributes=attributes)[
                "QueueUrl"
            ]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            self.queue_urls[name] = url
            self.context[f"{name}.Arn"] = arn
            self.context[name] = url
        for name, props in self._resources("AWS::DynamoDB::Table"):
            props = _resolve(props, self.context)
            table = props.get("TableName", name)
            kwargs: dict[str, Any] = {
                "TableName": table,
                "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if props.get("GlobalSecondaryIndexes"):
                kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            self.dynamodb.create_table(**kwargs)
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                self.dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification=ttl)
            self.tables[name] = table
            self.context[name] = table

    def settings(self, graph_url: str) -> Settings:
        """The DeliverFunction's environment as the template wires it, pointed at `graph_url`."""
        env = _resolve(
            self.template["Resources"]["DeliverFunction"]["Properties"]["Environment"]["Variables"],
            self.context,
        )
        values = {k.lower(): v for k, v in env.items()}
        return Settings.model_validate(
            {**values, "graph_url": graph_url, "integrations_cache_s": 0, "token_cache_s": 0}
        )

    def add_integration(self, integration: Integration, token: str, settings: Settings) -> None:
        """Store an integration as the admin API would: token in Secrets Manager, never in the table."""
        from boto3.dynamodb.types import TypeSerializer

        serialize = TypeSerializer().serialize
        item = integration.model_dump(mode="json", exclude_none=True)
        item["config"].pop("access_token", None)
        item["token_last4"] = token[-4:]
        self.dynamodb.put_item(
            TableName=settings.integrations_table, Item={k: serialize(v) for k, v in item.items()}
        )
        self.put_token(integration.id, token, settings)

    def put_token(self, integration_id: str, token: str, settings: Settings) -> None:
        name = secret_name(settings.token_secret_prefix, integration_id)
        try:
            self.secretsmanager.create_secret(Name=name, SecretString=token)
        except self.secretsmanager.exceptions.ResourceExistsException:
            self.secretsmanager.put_secret_value(SecretId=name, SecretString=token)

    def deps(self, settings: Settings, **overrides: Any) -> Deps:
        clients = {"dynamodb": self.dynamodb, "sqs": self.sqs, "secretsmanager": self.secretsmanager}
        deps = build_deliver_deps(settings, clients=lambda service: clients[service])
        for key, value in overrides.items():
            setattr(deps, key, value)
        return deps

    def enqueue(self, bodies: Iterable[str], queue_url: str) -> int:
        """One event per message, as the collector sends them (SendMessageBatch of 10)."""
        batch: list[dict[str, Any]] = []
        count = 0
        for body in bodies:
            batch.append({"Id": str(len(batch)), "MessageBody": body})
            count += 1
            if len(batch) == SEND_MAX:
                self.sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
                batch = []
        if batch:
            self.sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
        return count

    def drain(
        self, queue_url: str, deps: Deps, totals: Totals, *, batch_size: int = 100, max_batches: int = 100_000
    ) -> None:
        """Play the event source mapping until the queue is empty (redeliveries included)."""
        for _ in range(max_batches):
            messages: list[dict[str, Any]] = []
            while len(messages) < batch_size:
                got = self.sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=min(RECEIVE_MAX, batch_size - len(messages)),
                    MessageAttributeNames=["All"],
                    AttributeNames=["All"],
                ).get("Messages", [])
                if not got:
                    break
                messages.extend(got)
            if not messages:
                return
            records = [SqsRecord.from_lambda(lambda_record(m)) for m in messages]
            outcome = deliver_batch(records, deps)
            totals.add(outcome)
            failed = set(outcome.failures)
            for i in range(0, len(messages), SEND_MAX):
                chunk = messages[i : i + SEND_MAX]
                done = [
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(chunk)
                    if m["MessageId"] not in failed
                ]
                again = [
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for n, m in enumerate(chunk)
                    if m["MessageId"] in failed
                ]
                if done:
                    self.sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)
                if again:  # SQS would wait out the visibility timeout; locally the retry comes at once
                    self.sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=again)

    def pump(
        self, bodies: list[str], queue_url: str, deps: Deps, totals: Totals, *, window: int = 100
    ) -> None:
        """Enqueue and drain `bodies` in windows: moto scans a whole queue per receive, so keep it short."""
        for i in range(0, len(bodies), window):
            totals.accepted += self.enqueue(bodies[i : i + window], queue_url)
            self.drain(queue_url, deps, totals)

    def receive_records(self, queue_url: str, max_messages: int = RECEIVE_MAX) -> list[SqsRecord]:
        """One ReceiveMessage, as delivery sees it (Lambda's record shape, receive counts included)."""
        got = self.sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=max_messages,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        return [SqsRecord.from_lambda(lambda_record(m)) for m in got]

    def queue_messages(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message currently in a queue (made visible again afterwards)."""
        seen: dict[str, dict[str, Any]] = {}
        while True:
            got = self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=RECEIVE_MAX,
                MessageAttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not got:
                break
            for m in got:
                seen[m["MessageId"]] = m
        for m in seen.values():
            self.sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )
        return list(seen.values())


def lambda_record(message: dict[str, Any]) -> dict[str, Any]:
    """An SQS API message in the shape Lambda's event source mapping delivers it."""
    attributes = {
        k: {"dataType": v["DataType"], "stringValue": v.get("StringValue")}
        for k, v in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "eventSource": "aws:sqs",
    }
