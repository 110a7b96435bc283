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

from relay.apps.deliver import build_deps
from relay.delivery import BatchOutcome, Deps, deliver_batch
from relay.integrations import IntegrationInput, IntegrationStore, StoredIntegration, register
from relay.local.template import load_template
from relay.queue import RECEIVE_MAX, Entry, SqsRecord, delete, lambda_record, release, send_batched
from relay.secrets import TokenVault
from relay.settings import AdminSettings, CollectSettings, DeliverSettings

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "template.yaml"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
# The template's Mappings in the resolving context, under a key no logical id can take (those are alphanumeric).
MAPPINGS = "::Mappings"


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
        if key == "Fn::FindInMap":
            mapping, top, second = (_resolve(part, context) for part in arg)
            return context[MAPPINGS][mapping][str(top)][second]
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
            MAPPINGS: self.template.get("Mappings", {}),
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

    def settings(self, graph_url: str | None) -> DeliverSettings:
        """The DeliverFunction's environment as the template wires it, pointed at `graph_url`."""
        env = _resolve(
            self.template["Resources"]["DeliverFunction"]["Properties"]["Environment"]["Variables"],
            self.context,
        )
        values = {k.lower(): v for k, v in env.items()}
        return DeliverSettings.model_validate(
            {**values, "graph_url": graph_url, "integrations_cache_s": 0, "token_cache_s": 0}
        )

    def admin_settings(
        self, graph_url: str | None, admin_token: str, collector_url: str | None = None
    ) -> AdminSettings:
        """The AdminFunction's environment as the template wires it, with the admin token given directly
        (RELAY_ADMIN_TOKEN) instead of its secret, pointed at `graph_url`, with the local collector's
        `collector_url` (the template's is the deployed API's)."""
        variables = dict(
            self.template["Resources"]["AdminFunction"]["Properties"]["Environment"]["Variables"]
        )
        variables.pop("ADMIN_TOKEN_SECRET", None)  # a generated secret: locally the token is passed in
        variables.pop("COLLECTOR_URL", None)
        env = _resolve(variables, self.context)
        values = {k.lower(): v for k, v in env.items()}
        return AdminSettings.model_validate(
            {
                **values,
                "graph_url": graph_url,
                "relay_admin_token": admin_token,
                "admin_token_cache_s": 0,
                "collector_url": collector_url,
            }
        )

    def collect_settings(self) -> CollectSettings:
        """The CollectFunction's environment as the template wires it; sources are read afresh on every
        request and cookies go without `Secure` (the local collector answers plain http on loopback)."""
        env = _resolve(
            self.template["Resources"]["CollectFunction"]["Properties"]["Environment"]["Variables"],
            self.context,
        )
        values = {k.lower(): v for k, v in env.items()}
        return CollectSettings.model_validate({**values, "source_cache_s": 0, "cookie_secure": False})

    def clients(self, service: str) -> Any:
        """This stack's client for `service` (dynamodb, sqs, secretsmanager): the factory the composition
        roots take, so every part shares the same moto clients."""
        return {"dynamodb": self.dynamodb, "sqs": self.sqs, "secretsmanager": self.secretsmanager}[service]

    @property
    def events_queue_url(self) -> str:
        return self.queue_urls["EventsQueue"]

    @property
    def dlq_url(self) -> str:
        return self.queue_urls["DeadLetterQueue"]

    def vault(self, settings: DeliverSettings) -> TokenVault:
        return TokenVault(self.secretsmanager, settings.token_secret_prefix, cache_s=0)

    def add_integration(self, new: IntegrationInput, settings: DeliverSettings) -> StoredIntegration:
        """Store an integration as the admin API does (relay.integrations.register): token in Secrets
        Manager, the item without it."""
        store = IntegrationStore(self.dynamodb, settings.integrations_table, ttl_s=0)
        return register(new, store=store, vault=self.vault(settings))

    def put_token(self, integration_id: str, token: str, settings: DeliverSettings) -> None:
        self.vault(settings).put_version(integration_id, token)

    def deps(self, settings: DeliverSettings, **overrides: Any) -> Deps:
        deps = build_deps(settings, clients=self.clients)
        for key, value in overrides.items():
            setattr(deps, key, value)
        return deps

    def enqueue(self, bodies: Iterable[str], queue_url: str) -> int:
        """One event per message, as the collector sends them (the batched sender of relay.queue)."""
        entries = [Entry(str(n), body) for n, body in enumerate(bodies)]
        result = send_batched(self.sqs, queue_url, entries)
        if result.failed:
            raise RuntimeError(f"local queue refused {len(result.failed)} message(s)")
        return len(entries)

    @property
    def batch_size(self) -> int:
        """DeliverBatchSize as the template declares it (the event source mapping's batch)."""
        return int(self.context["DeliverBatchSize"])

    def drain(
        self,
        queue_url: str,
        deps: Deps,
        totals: Totals,
        *,
        batch_size: int | None = None,
        max_batches: int = 100_000,
    ) -> None:
        """Play the event source mapping until the queue is empty (redeliveries included)."""
        size = batch_size or self.batch_size
        for _ in range(max_batches):
            messages: list[dict[str, Any]] = []
            while len(messages) < size:
                got = self.sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=min(RECEIVE_MAX, size - len(messages)),
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
            done = [m["ReceiptHandle"] for m in messages if m["MessageId"] not in failed]
            if delete(self.sqs, queue_url, done):
                raise RuntimeError("local queue: a delivered message could not be deleted")
            # SQS would wait out the visibility timeout; locally the retry comes at once
            release(self.sqs, queue_url, [m["ReceiptHandle"] for m in messages if m["MessageId"] in failed])

    def pump(
        self,
        bodies: list[str],
        queue_url: str,
        deps: Deps,
        totals: Totals,
        *,
        window: int | None = None,
        batch_size: int | None = None,
    ) -> None:
        """Enqueue and drain `bodies` in windows of one batch: moto's SQS scans the whole queue on every
        send and receive, so a window bounds that work (batches stay the template's size)."""
        step = window or batch_size or self.batch_size
        for i in range(0, len(bodies), step):
            totals.accepted += self.enqueue(bodies[i : i + step], queue_url)
            self.drain(queue_url, deps, totals, batch_size=batch_size)

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
