"""Runtime settings: a pydantic model read from the environment on first use (never at import time)."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from relay.vendors.meta_capi.limits import GRAPH_URL


class Settings(BaseModel):
    """The environment the template gives the functions (names upper-cased there)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    events_queue_url: str
    dlq_url: str
    integrations_table: str
    ledger_table: str
    debugger_table: str
    token_secret_prefix: str
    max_receive_count: int = Field(default=5, ge=1)
    graph_url: str = GRAPH_URL
    token_cache_s: int = Field(default=300, ge=0)
    integrations_cache_s: int = Field(default=60, ge=0)


def from_environ(environ: dict[str, str] | None = None) -> Settings:
    """Settings from `environ` (default os.environ); raises pydantic.ValidationError naming missing keys."""
    env = os.environ if environ is None else environ
    return Settings.model_validate(
        {name: env[name.upper()] for name in Settings.model_fields if name.upper() in env}
    )


@cache
def settings() -> Settings:
    return from_environ()
