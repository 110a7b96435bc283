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

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
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
    # Successes are recorded in the debugger until then too (POST .../debug sets it; it lapses by itself).
    debug_until: datetime | None = None

    def debugging(self, now: datetime) -> bool:
        """Whether successful deliveries are recorded at `now` (`debug`, or before `debug_until`)."""
        return self.debug or (self.debug_until is not None and now < self.debug_until)


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
    debug_until: datetime | None = None
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

    def page(
        self, *, source_id: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[StoredIntegration | BrokenIntegration], str | None]:
        """Up to `limit` items (of `source_id` when given), and the cursor of the next page (None: last).

        Raises InvalidInput naming `cursor` when it is not one this method returned."""
        kwargs: dict[str, Any] = {"TableName": self._table, "Limit": limit}
        if source_id is not None:
            kwargs.update(
                IndexName=SOURCE_INDEX,
                KeyConditionExpression="source_id = :s",
                ExpressionAttributeValues={":s": {"S": source_id}},
            )
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor)
        answer = self._db.query(**kwargs) if source_id is not None else self._db.scan(**kwargs)
        items: list[StoredIntegration | BrokenIntegration] = []
        for raw in answer.get("Items", []):
            try:
                items.append(StoredIntegration.from_item(raw))
            except (ValidationError, TypeError, ValueError):
                broken = _delivery_view(raw, str(raw.get("source_id", {}).get("S", "?")))
                assert isinstance(broken, BrokenIntegration)
                items.append(broken)
        last = answer.get("LastEvaluatedKey")
        return items, (encode_cursor(last) if last else None)

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


def encode_cursor(key: dict[str, Any]) -> str:
    """An opaque page cursor: DynamoDB's LastEvaluatedKey (ids only, no secret) as URL-safe base64."""
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


MAX_CURSOR_CHARS = 2048


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The LastEvaluatedKey in `cursor`; raises InvalidInput naming `cursor` for anything else."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if (
            not isinstance(key, dict)
            or not key
            or not all(
                isinstance(k, str) and isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
                for k, v in key.items()
            )
        ):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor", "not a cursor this API returned") from None
    return key


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


# ---- the admin API's reads and changes -----------------------------------------------------------------

# Fields a client may send (create / patch); everything else on the item is Relay's own.
INPUT_FIELDS = frozenset(IntegrationInput.model_fields) - {"id"}


class IntegrationPatch(BaseModel):
    """A JSON merge patch (RFC 7386) of an integration: every field optional; null resets a field to its
    default (and is refused where there is none, e.g. `config.pixel_id`). `config.access_token` set to a
    string writes a new token version; it cannot be removed."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    source_id: str | None = None
    vendor: VendorName | None = None
    name: str | None = None
    enabled: bool | None = None
    variant: Variant | None = None
    consent_categories: list[str] | None = None
    require_consent: bool | None = None
    debug: bool | None = None
    config: dict[str, Any] | None = None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null removes a key, anything else replaces the value."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


@dataclass(frozen=True)
class Changed:
    """An updated integration, and whether its access token changed (the caller then redrives)."""

    stored: StoredIntegration
    token_changed: bool


def update(
    integration_id: str,
    patch: dict[str, Any],
    *,
    store: IntegrationStore,
    vault: TokenWriter,
    expected_version: int | None = None,
) -> Changed:
    """Apply the merge `patch` (IntegrationPatch's fields, as sent: nulls kept) to the stored integration.

    The item is replaced only if its version is still the one read (or `expected_version`, an If-Match).
    A new `config.access_token` is written to the vault first (token_last4 and secret_version follow).
    Raises NotFound, PreconditionFailed, InvalidInput (the field named) or pydantic.ValidationError
    (the merged integration is invalid; paths as in the patch).
    """
    current = store.get(integration_id)
    if expected_version is not None and expected_version != current.version:
        raise PreconditionFailed(f"integration {integration_id} is at version {current.version}")
    config_patch = patch.get("config")
    token: str | None = None
    if isinstance(config_patch, dict) and "access_token" in config_patch:
        raw = config_patch["access_token"]
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidInput("config.access_token", "must be a non-empty string (it cannot be removed)")
        token = raw.strip()
        config_patch = {k: v for k, v in config_patch.items() if k != "access_token"}
        patch = {**patch, "config": config_patch}
    document = current.model_dump(mode="json", include=set(INPUT_FIELDS))
    document["config"].pop("access_token", None)
    merged = merge_patch(document, patch)
    checked = IntegrationInput.model_validate(merged)  # ValidationError names the merged document's paths
    changes: dict[str, Any] = checked.model_dump(exclude={"id"})
    changes["config"] = checked.config.model_copy(update={"access_token": None})
    if token is not None:
        changes["secret_version"] = vault.put_version(integration_id, token)
        changes["token_last4"] = token[-TOKEN_LAST:]
    stored = current.model_copy(update={**changes, "version": current.version + 1, "updated_at": _now()})
    store.replace(stored, expected_version=current.version)
    return Changed(stored, token is not None)


def debug_until(integration_id: str, until: datetime, *, store: IntegrationStore) -> StoredIntegration:
    """Record successful deliveries of the integration in the debugger until `until` (an expiry, not a
    flag: it lapses by itself). Raises NotFound, or PreconditionFailed when it changed meanwhile."""
    current = store.get(integration_id)
    stored = current.model_copy(
        update={"debug_until": until, "version": current.version + 1, "updated_at": _now()}
    )
    store.replace(stored, expected_version=current.version)
    return stored


class TokenRemover(Protocol):
    """The part of the token vault `remove` needs."""

    def schedule_delete(self, integration_id: str) -> None: ...


def remove(
    integration_id: str, *, store: IntegrationStore, vault: TokenRemover, expected_version: int | None = None
) -> None:
    """Delete the item (conditionally, with an If-Match version), then schedule its secret's deletion.

    Raises NotFound or PreconditionFailed; the secret is left alone then."""
    if expected_version is not None:
        store.get(integration_id)  # NotFound for an unknown id, before the version is compared
    store.delete(integration_id, expected_version=expected_version)
    vault.schedule_delete(integration_id)
