"""Small cached factories that build the AWS-facing dependencies of the handlers on first use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

from relay.delivery import Deps, MissingToken
from relay.integrations import Integration
from relay.settings import Settings, settings

AWS_CONNECT_TIMEOUT_S = 2
AWS_READ_TIMEOUT_S = 5
AWS_MAX_ATTEMPTS = 5
# Secrets Manager answers that no retry will fix: park the events as "auth" until the token is set.
MISSING_SECRET_CODES = frozenset({"ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure"})


@cache
def aws_client(service: str) -> Any:
    """A boto3 client with explicit timeouts and standard (throttling-aware) retries."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=AWS_CONNECT_TIMEOUT_S,
        read_timeout=AWS_READ_TIMEOUT_S,
        retries={"mode": "standard", "max_attempts": AWS_MAX_ATTEMPTS},
    )
    return boto3.client(service, config=config)


def secret_name(prefix: str, integration_id: str) -> str:
    return f"{prefix}{integration_id}/access-token"


def token_reader(config: Settings, secretsmanager: Any) -> Any:
    """Integration → access token, through Powertools Parameters with a max_age cache."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    provider = SecretsProvider(boto3_client=secretsmanager)

    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    def token(integration: Integration) -> str:
        name = secret_name(config.token_secret_prefix, integration.id)
        try:
            value = provider.get(name, max_age=config.token_cache_s)
        except GetParameterError as exc:
            # Powertools wraps the botocore error; its code tells a missing secret from throttling.
            response = getattr(exc.__context__, "response", None) or {}
            if response.get("Error", {}).get("Code") in MISSING_SECRET_CODES:
                raise MissingToken(f"no readable secret {name}") from None
            raise
        if not isinstance(value, str) or not value.strip():
            raise MissingToken(f"secret {name} holds no token")
        return value.strip()

    return token


def build_deliver_deps(config: Settings, clients: Any = aws_client) -> Deps:
    """Delivery dependencies over real (or moto) AWS clients and the Graph API at `config.graph_url`."""
    from relay.debugger import Debugger
    from relay.integrations import IntegrationStore
    from relay.ledger import Ledger
    from relay.queue import DeadLetters
    from relay.vendors.meta_capi.client import GraphClient

    dynamodb = clients("dynamodb")
    store = IntegrationStore(dynamodb, config.integrations_table, ttl_s=config.integrations_cache_s)
    return Deps(
        integrations=store.for_source,
        token=token_reader(config, clients("secretsmanager")),
        sender=GraphClient(config.graph_url),
        ledger=Ledger(dynamodb, config.ledger_table),
        dead_letters=DeadLetters(clients("sqs"), config.dlq_url),
        debugger=Debugger(dynamodb, config.debugger_table),
        max_receive_count=config.max_receive_count,
    )


@cache
def deliver_deps() -> Deps:
    return build_deliver_deps(settings())


def handle_sqs_event(
    event: dict[str, Any],
    *,
    metrics: Any,
    logger: Any,
    remaining_ms: Callable[[], int] | None = None,
    deps: Deps | None = None,
) -> dict[str, Any]:
    """DeliverFunction's body: deliver the SQS batch, report metrics and logs, answer the partial batch result.

    `remaining_ms` (Lambda's context.get_remaining_time_in_millis) keeps retries inside the timeout.
    """
    from relay.delivery import SqsRecord, deliver_batch
    from relay.observability import report

    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("event.Records: expected the list of an SQS event")
    base = deps or deliver_deps()
    if remaining_ms is not None:
        base = replace(base, remaining_s=lambda: remaining_ms() / 1000)
    outcome = deliver_batch([SqsRecord.from_lambda(r) for r in records], base)
    report(outcome, metrics=metrics, logger=logger)
    return outcome.response()
