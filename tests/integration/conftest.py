"""Fixtures of the integration tests: the template's AWS resources in moto."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from relay.apps.admin import build_deps
from relay.local.graph import GraphEmulator
from relay.local.runner import _integration
from relay.local.stack import LocalStack
from tests.admin_support import Admin, Lines, admin_settings, clients

# The pixel of the integration `stack` adds (the module's `graph` fixture must accept its token).
PIXEL = "1234567890"


@pytest.fixture
def local() -> Iterator[LocalStack]:
    """moto with the queues, tables (keys, index, TTLs) template.yaml declares; clients in `local.*`."""
    with LocalStack() as stack:
        yield stack


@pytest.fixture
def stack(graph: GraphEmulator) -> Iterator[tuple[LocalStack, Any]]:
    """The local stack with one default-variant integration for PIXEL, aimed at the module's `graph`."""
    with LocalStack() as local:
        settings = local.settings(graph.url)
        local.add_integration(_integration(PIXEL, "default"), settings)
        yield local, settings


@pytest.fixture
def admin() -> Iterator[Admin]:
    """The admin API over the local stack (admin token YOUR_TOKEN), its audit lines kept in `admin.log`."""
    with LocalStack() as local:
        settings = admin_settings(local)
        log = Lines()
        deps = replace(build_deps(settings, clients=clients(local)), log=lambda: log)
        yield Admin(local, settings, deps, log)
