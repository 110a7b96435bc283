"""Every function's settings: one pydantic model each, read from the environment when first needed.

Only the composition roots (`relay.apps`) read settings; everything below them gets values passed in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    @classmethod
    def from_environ(cls: type[_S], environ: Mapping[str, str] | None = None) -> _S:
        """Settings from `environ` (default os.environ), each field from its upper-cased name.

        Raises pydantic.ValidationError naming the missing or malformed variables.
        """
        env = os.environ if environ is None else environ
        return cls.model_validate(
            {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        )


_S = TypeVar("_S", bound=_Settings)


class DeliverSettings(_Settings):
    """DeliverFunction's environment (template.yaml)."""

    dlq_url: str = Field(min_length=1)
    integrations_table: str = Field(min_length=1)
    ledger_table: str = Field(min_length=1)
    debugger_table: str = Field(min_length=1)
    token_secret_prefix: str = Field(min_length=1)
    # None (a stack from before profiles): events are delivered without profile enrichment.
    profiles_table: str | None = None
    # None (a stack from before the console): no hourly delivery rollups are recorded.
    stats_table: str | None = None
    max_receive_count: int = Field(default=5, ge=1)
    # None: each vendor's own API endpoint (Meta: https://graph.facebook.com); set for emulators.
    graph_url: str | None = None
    token_cache_s: int = Field(default=300, ge=0)
    integrations_cache_s: int = Field(default=60, ge=0)


class RedriveSettings(_Settings):
    """RedriveFunction's environment (template.yaml)."""

    dlq_url: str = Field(min_length=1)
    events_queue_url: str = Field(min_length=1)


class AdminSettings(_Settings):
    """AdminFunction's environment (template.yaml). The admin token is read from the secret named by
    `admin_token_secret` (deployed), else from RELAY_ADMIN_TOKEN (`relay local serve`)."""

    integrations_table: str = Field(min_length=1)
    sources_table: str = Field(min_length=1)
    debugger_table: str = Field(min_length=1)
    stats_table: str = Field(min_length=1)
    token_secret_prefix: str = Field(min_length=1)
    dlq_url: str = Field(min_length=1)
    events_queue_url: str = Field(min_length=1)
    # The collector's base URL (the console fills it into the df.js snippet); None: not deployed with one.
    collector_url: str | None = None
    # None: each vendor's own API endpoint (Meta: https://graph.facebook.com); set for emulators.
    graph_url: str | None = None
    admin_token_secret: str | None = None
    relay_admin_token: str | None = None
    admin_token_cache_s: int = Field(default=300, ge=0)


class CollectSettings(_Settings):
    """CollectFunction's environment (template.yaml)."""

    sources_table: str = Field(min_length=1)
    events_queue_url: str = Field(min_length=1)
    profiles_table: str = Field(min_length=1)
    # Proxies (CloudFront: 1) in front of the HTTP API whose X-Forwarded-For entries are trusted.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)
    profile_ttl_days: int = Field(default=90, ge=1, le=3650)
    # How long a write key's source (and the origins a preflight may be granted) are kept.
    source_cache_s: int = Field(default=60, ge=0)
    # Off only for a collector served over plain http on loopback (relay local serve).
    cookie_secure: bool = True


@cache
def deliver_settings() -> DeliverSettings:
    return DeliverSettings.from_environ()


@cache
def redrive_settings() -> RedriveSettings:
    return RedriveSettings.from_environ()


@cache
def admin_settings() -> AdminSettings:
    return AdminSettings.from_environ()


@cache
def collect_settings() -> CollectSettings:
    return CollectSettings.from_environ()


def clear() -> None:
    """Forget the cached settings (tests change the environment)."""
    deliver_settings.cache_clear()
    redrive_settings.cache_clear()
    admin_settings.cache_clear()
    collect_settings.cache_clear()
