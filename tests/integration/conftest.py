"""Fixtures of the integration tests: the template's AWS resources in moto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from relay.local.stack import LocalStack


@pytest.fixture
def local() -> Iterator[LocalStack]:
    """moto with the queues, tables (keys, index, TTLs) template.yaml declares; clients in `local.*`."""
    with LocalStack() as stack:
        yield stack
