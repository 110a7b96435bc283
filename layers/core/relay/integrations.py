"""Integrations: one Meta pixel hanging off a source, with its variant and mapping configuration."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_validator

from relay.vendors.meta_capi.limits import DEFAULT_API_VERSION

Variant = Literal["default", "retail", "travel", "b2b_saas"]
VARIANTS: tuple[Variant, ...] = ("default", "retail", "travel", "b2b_saas")

SOURCE_INDEX = "by_source"

PixelId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{1,32}$")]


class Ldu(BaseModel):
    """Meta's Limited Data Use: country 1 = USA, 0 = geolocate; state 1000 = California, 0 = geolocate."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    country: int = 0
    state: int = 0


class MetaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pixel_id: PixelId
    access_token: SecretStr | None = None
    test_event_code: str | None = None
    api_version: Annotated[str, StringConstraints(pattern=r"^v\d{2,3}\.0$")] = DEFAULT_API_VERSION
    event_mappings: dict[str, str | None] = Field(default_factory=dict)
    value_field: str | None = None
    default_country: str | None = None
    ldu: Ldu | None = None

    @field_validator("ldu", mode="before")
    @classmethod
    def _ldu_flag(cls, value: object) -> object:
        if value is True:
            return Ldu()
        if value is False:
            return None
        return value

    @field_validator("default_country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{2}", value.strip()):
            raise ValueError("must be an ISO 3166-1 alpha-2 code such as 'US'")
        return value.strip().upper()

    @field_validator("event_mappings")
    @classmethod
    def _mappings(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        for source, target in value.items():
            if target is not None and not target.strip():
                raise ValueError(f"mapping for {source!r} is empty; use null to drop the event")
        return value


class Integration(BaseModel):
    """`{id, source_id, vendor, name, enabled, variant, config, consent_categories}` (DESIGN §4)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    source_id: str
    vendor: Literal["meta_capi"] = "meta_capi"
    name: str = ""
    enabled: bool = True
    variant: Variant = "default"
    config: MetaConfig
    consent_categories: list[str] = Field(default_factory=list)
    require_consent: bool = False
    # Record successful deliveries in the event debugger too (failures are always recorded).
    debug: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Integration:
        """An integration from its stored form (extra stored attributes such as token_last4 ignored)."""
        return cls.model_validate({k: v for k, v in item.items() if k in cls.model_fields})


class IntegrationStore:
    """Enabled-or-not integrations per source from DynamoDB (index `by_source`), cached for `ttl_s`."""

    def __init__(self, dynamodb: Any, table: str, *, ttl_s: float = 60.0, clock: Any = None) -> None:
        self._db = dynamodb
        self._table = table
        self._ttl = ttl_s
        self._clock = clock or time.monotonic
        self._cache: dict[str, tuple[float, list[Integration]]] = {}

    def for_source(self, source_id: str) -> list[Integration]:
        """Integrations of `source_id`; raises botocore errors; invalid stored items raise ValidationError."""
        hit = self._cache.get(source_id)
        now = self._clock()
        if hit is not None and hit[0] > now:
            return hit[1]
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        found: list[Integration] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": SOURCE_INDEX,
            "KeyConditionExpression": "source_id = :s",
            "ExpressionAttributeValues": {":s": {"S": source_id}},
        }
        while True:
            page = self._db.query(**kwargs)
            found.extend(
                Integration.from_item({k: deserialize(v) for k, v in raw.items()})
                for raw in page.get("Items", [])
            )
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        self._cache[source_id] = (now + self._ttl, found)
        return found
