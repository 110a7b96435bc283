"""Fixtures of the integration tests: the template's AWS resources in moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from relay.local.graph import GraphEmulator
from relay.local.runner import _integration
from relay.local.stack import LocalStack

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
