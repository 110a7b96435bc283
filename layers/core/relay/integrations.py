"""Integrations: one vendor destination (a Meta pixel) hanging off a source, in three shapes.

- `IntegrationInput`: what a client sends (the admin API's body; the product description's shape). The
  access token is part of it, write-only.
- `StoredIntegration`: the DynamoDB item. No token: `token_last4` and the secret's version instead, plus
  the item `version` that makes writes conditional.
- `Integration`: the delivery view, what mapping and delivery read.

`IntegrationStore` reads (cached per source, for delivery) and writes (conditional, for the admin API);
`register` is the one writer of a new integration: token to the vault first, then the item.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relay.aws import error_code
from relay.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from relay.vendors import VendorConfig, VendorName

Variant = Literal["default", "retail", "travel", "b2b_saas"]
VARIANTS: tuple[Variant, ...] = ("default", "retail", "travel", "b2b_saas")

SOURCE_INDEX = "by_source"
TOKEN_LAST = 4

# A source has a handful of integrations (1 MB of items per Query page): more pages than this is a fault
# (a runaway writer, a corrupt index), not data to read to the end.
MAX_QUERY_PAGES = 10


class IntegrationsUnavailable(RuntimeError):
    """The integrations of a source could not be read to the end; retry the events later."""

    retryable = True


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    source_id: str = Field(min_length=1, max_length=128)
    vendor: VendorName = "meta_capi"
    name: str = ""
    enabled: bool = True
    variant: Variant = "default"
    consent_categories: list[str] = Field(default_factory=list)
    require_consent: bool = False
    # Record successful deliveries in the event debugger too (failures are always recorded).
    debug: bool = False


class Integration(_Common):
    """The delivery view: `{id, source_id, vendor, name, enabled, variant, config, consent_categories}`."""

    id: str
    config: VendorConfig


class IntegrationInput(_Common):
    """A new integration as a client describes it; `config.access_token` is required."""

    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    config: VendorConfig

    def token(self) -> str:
        """The access token; raises InvalidInput naming `config.access_token` when it is missing or blank."""
        secret = self.config.access_token
        value = secret.get_secret_value().strip() if secret is not None else ""
        if not value:
            raise InvalidInput("config.access_token", "required")
        return value


class StoredIntegration(_Common):
    """The DynamoDB item: the integration without its token, versioned."""

    id: str
    config: VendorConfig
    token_last4: str = ""
    secret_version: str = ""
    version: int = Field(default=1, ge=1)
    created_at: str = ""
    updated_at: str = ""

    def view(self) -> Integration:
        return Integration.model_validate(self.model_dump(include=set(Integration.model_fields)))

    def to_item(self) -> dict[str, Any]:
        """The DynamoDB attribute-value map (the token is never part of it)."""
        from boto3.dynamodb.types import TypeSerializer

        serialize = TypeSerializer().serialize
        data = self.model_dump(mode="json", exclude_none=True)
        data["config"].pop("access_token", None)
        return {k: serialize(v) for k, v in data.items()}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> StoredIntegration:
        """An item read from DynamoDB; raises pydantic.ValidationError when it is not a valid integration."""
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        data = {k: deserialize(v) for k, v in item.items()}
        data["version"] = int(data.get("version", 1))
        return cls.model_validate(data)


class BrokenIntegration(BaseModel):
    """A stored item of the source that does not validate: its events are parked (reason config)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    source_id: str
    problem: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class IntegrationStore:
    """The integrations table: per-source reads cached for `ttl_s` (delivery), conditional writes (admin)."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._ttl = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, list[Integration | BrokenIntegration]]] = {}

    def for_source(self, source_id: str) -> list[Integration | BrokenIntegration]:
        """Every integration of `source_id` (enabled or not; unreadable items as BrokenIntegration).

        Raises botocore errors, or IntegrationsUnavailable past MAX_QUERY_PAGES pages (the caller retries
        the events).
        """
        hit = self._cache.get(source_id)
        now = self._clock()
        if hit is not None and hit[0] > now:
            return hit[1]
        found: list[Integration | BrokenIntegration] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": SOURCE_INDEX,
            "KeyConditionExpression": "source_id = :s",
            "ExpressionAttributeValues": {":s": {"S": source_id}},
        }
        for _ in range(MAX_QUERY_PAGES):
            page = self._db.query(**kwargs)
            found.extend(_delivery_view(raw, source_id) for raw in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        else:
            raise IntegrationsUnavailable(f"integrations: more than {MAX_QUERY_PAGES} pages for one source")
        if self._ttl > 0:
            self._cache[source_id] = (now + self._ttl, found)
        return found

    def get(self, integration_id: str) -> StoredIntegration:
        """The stored item; raises NotFound."""
        answer = self._db.get_item(
            TableName=self._table, Key={"id": {"S": integration_id}}, ConsistentRead=True
        )
        if "Item" not in answer:
            raise NotFound(f"integration {integration_id}")
        return StoredIntegration.from_item(answer["Item"])

    def create(self, stored: StoredIntegration) -> None:
        """Put a new item; raises Conflict when the id exists."""
        self._put(stored, "attribute_not_exists(id)", {}, Conflict(f"integration {stored.id} exists"))

    def replace(self, stored: StoredIntegration, *, expected_version: int) -> None:
        """Overwrite the item if its stored version is `expected_version`; raises PreconditionFailed."""
        self._put(
            stored,
            "version = :v",
            {":v": {"N": str(expected_version)}},
            PreconditionFailed(f"integration {stored.id} changed (version {expected_version} is stale)"),
        )

    def delete(self, integration_id: str, *, expected_version: int | None = None) -> None:
        """Delete the item (conditionally on its version when given); raises NotFound / PreconditionFailed."""
        kwargs: dict[str, Any] = {"TableName": self._table, "Key": {"id": {"S": integration_id}}}
        if expected_version is None:
            kwargs["ConditionExpression"] = "attribute_exists(id)"
            failure: Exception = NotFound(f"integration {integration_id}")
        else:
            kwargs["ConditionExpression"] = "version = :v"
            kwargs["ExpressionAttributeValues"] = {":v": {"N": str(expected_version)}}
            failure = PreconditionFailed(f"integration {integration_id} changed")
        self._conditional(lambda: self._db.delete_item(**kwargs), failure)
        self._cache.clear()

    def _put(
        self, stored: StoredIntegration, condition: str, values: dict[str, Any], failure: Exception
    ) -> None:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Item": stored.to_item(),
            "ConditionExpression": condition,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        self._conditional(lambda: self._db.put_item(**kwargs), failure)
        self._cache.clear()  # the item may have moved from another source: forget every cached answer

    @staticmethod
    def _conditional(call: Callable[[], Any], failure: Exception) -> None:
        try:
            call()
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise failure from None
            raise


def _delivery_view(raw: dict[str, Any], source_id: str) -> Integration | BrokenIntegration:
    try:
        return StoredIntegration.from_item(raw).view()
    except (ValidationError, TypeError, ValueError) as exc:
        item_id = raw.get("id", {}).get("S", "?") if isinstance(raw.get("id"), dict) else "?"
        problem = (
            "; ".join(
                ".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors(include_url=False)
            )
            if isinstance(exc, ValidationError)
            else type(exc).__name__
        )
        return BrokenIntegration(id=str(item_id), source_id=source_id, problem=problem[:200])


class TokenWriter(Protocol):
    """The part of the token vault `register` needs (relay.secrets.TokenVault)."""

    def put_version(self, integration_id: str, token: str) -> str: ...


def register(
    new: IntegrationInput,
    *,
    store: IntegrationStore,
    vault: TokenWriter,
    new_id: Callable[[], str] | None = None,
) -> StoredIntegration:
    """Store a new integration: its token as a new secret version, then the item (token_last4 only).

    Raises InvalidInput (no token) or Conflict (the id exists). A token written for an item that then
    fails to store stays as an unreferenced secret version; the next register with that id overwrites it.
    """
    token = new.token()
    if new.id:
        integration_id = new.id
    elif new_id is not None:
        integration_id = new_id()
    else:
        import uuid  # only a new integration without a client-supplied id needs one

        integration_id = uuid.uuid4().hex
    version = vault.put_version(integration_id, token)
    now = _now()
    data = new.model_dump(exclude={"id", "config"})
    config = new.config.model_copy(update={"access_token": None})
    stored = StoredIntegration(
        id=integration_id,
        config=config,
        token_last4=token[-TOKEN_LAST:],
        secret_version=version,
        created_at=now,
        updated_at=now,
        **data,
    )
    store.create(stored)
    return stored
