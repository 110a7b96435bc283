"""An integration's `config` for Meta's Conversions API: pixel, token (input only), test code, mapping knobs."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_validator

from relay.vendors.meta_capi.limits import DEFAULT_API_VERSION

PixelId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{1,32}$")]
ApiVersion = Annotated[str, StringConstraints(pattern=r"^v\d{2,3}\.0$")]


class Ldu(BaseModel):
    """Meta's Limited Data Use: country 1 = USA, 0 = geolocate; state 1000 = California, 0 = geolocate."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    country: int = 0
    state: int = 0


class MetaConfig(BaseModel):
    """`config{pixel_id, access_token, test_event_code, api_version, event_mappings, value_field, ...}`.

    `access_token` is accepted on input only: it is stored in Secrets Manager, never in the table.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    pixel_id: PixelId
    access_token: SecretStr | None = None
    test_event_code: str | None = None
    api_version: ApiVersion = DEFAULT_API_VERSION
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
