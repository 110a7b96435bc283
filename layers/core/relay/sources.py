"""Sources: a website (or app) sending events, identified by a write key that is stored only as a hash.

The SourcesTable holds two items per source, written together in one transaction:
- `pk = "source#{id}"`: the source (name, allowed origins, cookie domain, enabled), its key hash, version;
- `pk = "key#{sha256(write key)}"`: a copy of the source's fields, so the collector finds the source of
  a write key with one GetItem, never a scan or an index read.
The write key itself is returned once (create, rotate-key) and never stored, logged or shown again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relay.aws import error_code
from relay.errors import Conflict, NotFound, PreconditionFailed

# A write key: 32 random bytes, URL-safe (256 bits; the floor is 128).
WRITE_KEY_BYTES = 32
SOURCE_PREFIX = "source#"
KEY_PREFIX = "key#"
MAX_ORIGINS = 50
# Source fields copied onto the key item (what the collector needs for one event).
PUBLIC_FIELDS = ("id", "name", "allowed_origins", "cookie_domain", "enabled")
_ORIGIN = re.compile(
    r"^https?://(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$"
)
_DOMAIN = re.compile(r"^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def key_hash(write_key: str) -> str:
    """The stored form of a write key (SHA-256 hex: the key is random, so no slow hash is needed)."""
    return hashlib.sha256(write_key.encode("utf-8")).hexdigest()


def new_write_key() -> str:
    return secrets.token_urlsafe(WRITE_KEY_BYTES)


class _SourceFields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: str = Field(default="", max_length=200)
    allowed_origins: list[str] = Field(default_factory=list, max_length=MAX_ORIGINS)
    cookie_domain: str | None = Field(default=None, max_length=253)
    enabled: bool = True

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        out = []
        for origin in value:
            text = origin.strip().lower().rstrip("/")
            if not _ORIGIN.fullmatch(text):
                raise ValueError(
                    "each origin is scheme://host[:port] (http or https, no path), e.g. https://shop.example.com"
                )
            out.append(text)
        return list(dict.fromkeys(out))

    @field_validator("cookie_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip().lower()
        if not _DOMAIN.fullmatch(text):
            raise ValueError("a registrable domain such as example.com (or .example.com)")
        return text


class SourceInput(_SourceFields):
    """A new source as a client describes it (`id` optional: one is generated)."""

    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{1,64}$")


class SourcePatch(BaseModel):
    """A JSON merge patch of a source (null resets a field to its default)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: str | None = None
    allowed_origins: list[str] | None = None
    cookie_domain: str | None = None
    enabled: bool | None = None


class Source(_SourceFields):
    """The stored source (without its key): what the admin API shows."""

    id: str
    version: int = 1
    created_at: str = ""
    updated_at: str = ""


@dataclass(frozen=True)
class Issued:
    """A source and its write key, which exists only in this object (shown once)."""

    source: Source
    write_key: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _item(pk: str, data: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serialize = TypeSerializer().serialize
    return {"pk": {"S": pk}, **{k: serialize(v) for k, v in data.items() if v is not None}}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    data = {k: deserialize(v) for k, v in item.items() if k != "pk"}
    if "version" in data:
        data["version"] = int(data["version"])
    return data


def _source_of(item: dict[str, Any]) -> Source:
    return Source.model_validate({k: v for k, v in _plain(item).items() if k != "key_hash"})


class SourceStore:
    """The SourcesTable: sources and their key items, changed together in transactions."""

    def __init__(self, dynamodb: Any, table: str, *, new_key: Callable[[], str] = new_write_key) -> None:
        self._db = dynamodb
        self._table = table
        self._new_key = new_key

    def get(self, source_id: str) -> Source:
        """The source; raises NotFound."""
        item = self._raw(source_id)
        return _source_of(item)

    def by_write_key(self, write_key: str) -> Source | None:
        """The source a write key belongs to (one GetItem), or None for an unknown key."""
        answer = self._db.get_item(TableName=self._table, Key={"pk": {"S": KEY_PREFIX + key_hash(write_key)}})
        if "Item" not in answer:
            return None
        return Source.model_validate({k: v for k, v in _plain(answer["Item"]).items() if k in PUBLIC_FIELDS})

    def page(
        self, *, limit: int = 50, cursor: dict[str, Any] | None = None
    ) -> tuple[list[Source], dict[str, Any] | None]:
        """Up to `limit` items read (sources among them) and the key to continue from (None: the end)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Limit": limit,
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": {"S": SOURCE_PREFIX}},
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        answer = self._db.scan(**kwargs)
        found = [_source_of(i) for i in answer.get("Items", [])]
        return found, answer.get("LastEvaluatedKey")

    def create(self, new: SourceInput, *, new_id: Callable[[], str] | None = None) -> Issued:
        """Store a new source with a fresh write key; raises Conflict when the id exists."""
        import uuid

        source_id = new.id or (new_id() if new_id else uuid.uuid4().hex)
        now = _now()
        source = Source(id=source_id, created_at=now, updated_at=now, **new.model_dump(exclude={"id"}))
        key = self._new_key()
        digest = key_hash(key)
        self._transact(
            [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._source_item(source, digest),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._key_item(source, digest),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ],
            Conflict(f"source {source_id} exists"),
        )
        return Issued(source, key)

    def update(self, source_id: str, patch: dict[str, Any], *, expected_version: int | None = None) -> Source:
        """Apply a merge patch (SourcePatch's fields as sent); raises NotFound, PreconditionFailed or
        pydantic.ValidationError (the merged source is invalid)."""
        from relay.integrations import merge_patch

        item, current = self._current(source_id, expected_version)
        document = current.model_dump(include=set(_SourceFields.model_fields))
        merged = _SourceFields.model_validate(merge_patch(document, patch))
        changed = current.model_copy(
            update={**merged.model_dump(), "version": current.version + 1, "updated_at": _now()}
        )
        digest = item["key_hash"]["S"]
        self._transact(
            [
                self._put_source(changed, digest, replacing=current.version),
                {"Put": {"TableName": self._table, "Item": self._key_item(changed, digest)}},
            ],
            PreconditionFailed(f"source {source_id} changed meanwhile"),
        )
        return changed

    def rotate_key(self, source_id: str, *, expected_version: int | None = None) -> Issued:
        """A new write key for the source; the old one stops working at once."""
        item, current = self._current(source_id, expected_version)
        changed = current.model_copy(update={"version": current.version + 1, "updated_at": _now()})
        key = self._new_key()
        digest = key_hash(key)
        self._transact(
            [
                self._put_source(changed, digest, replacing=current.version),
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": KEY_PREFIX + item["key_hash"]["S"]}},
                    }
                },
                {"Put": {"TableName": self._table, "Item": self._key_item(changed, digest)}},
            ],
            PreconditionFailed(f"source {source_id} changed meanwhile"),
        )
        return Issued(changed, key)

    def delete(self, source_id: str, *, expected_version: int | None = None) -> None:
        """Delete the source and its key item; raises NotFound or PreconditionFailed."""
        item, current = self._current(source_id, expected_version)
        version = current.version
        self._transact(
            [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": SOURCE_PREFIX + source_id}},
                        "ConditionExpression": "version = :v",
                        "ExpressionAttributeValues": {":v": {"N": str(version)}},
                    }
                },
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": KEY_PREFIX + item["key_hash"]["S"]}},
                    }
                },
            ],
            PreconditionFailed(f"source {source_id} changed meanwhile"),
        )

    def _current(self, source_id: str, expected_version: int | None) -> tuple[dict[str, Any], Source]:
        """The stored item and source; raises NotFound, or PreconditionFailed when `expected_version`
        (an If-Match) is not its version."""
        item = self._raw(source_id)
        current = _source_of(item)
        if expected_version is not None and expected_version != current.version:
            raise PreconditionFailed(f"source {source_id} is at version {current.version}")
        return item, current

    def _raw(self, source_id: str) -> dict[str, Any]:
        answer = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": SOURCE_PREFIX + source_id}}, ConsistentRead=True
        )
        if "Item" not in answer:
            raise NotFound(f"source {source_id}")
        item: dict[str, Any] = answer["Item"]
        return item

    def _put_source(self, source: Source, digest: str, *, replacing: int) -> dict[str, Any]:
        """The transaction part that writes `source` only over the stored version `replacing`."""
        return {
            "Put": {
                "TableName": self._table,
                "Item": self._source_item(source, digest),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(replacing)}},
            }
        }

    @staticmethod
    def _source_item(source: Source, digest: str) -> dict[str, Any]:
        return _item(SOURCE_PREFIX + source.id, {**source.model_dump(), "key_hash": digest})

    @staticmethod
    def _key_item(source: Source, digest: str) -> dict[str, Any]:
        return _item(KEY_PREFIX + digest, source.model_dump(include=set(PUBLIC_FIELDS)))

    def _transact(self, items: list[dict[str, Any]], failure: Exception) -> None:
        try:
            self._db.transact_write_items(TransactItems=items)
        except Exception as exc:
            if error_code(exc) == "TransactionCanceledException":
                raise failure from None
            raise
