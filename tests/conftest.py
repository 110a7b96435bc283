"""Shared test setup: fake AWS/Powertools environment, moto first, fresh caches, loopback-only network.

Order matters: the environment is set and moto imported before anything can build a boto3 client, so
no test can ever reach real AWS with real credentials.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "relay",
    "POWERTOOLS_METRICS_NAMESPACE": "Relay",
}
os.environ.update(AWS_ENV)
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(_name, None)

# After the fake credentials, before any boto3 client exists:
import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

import relay.api.app  # noqa: E402
import relay.apps.admin  # noqa: E402
import relay.apps.collect  # noqa: E402
import relay.apps.deliver  # noqa: E402
import relay.aws  # noqa: E402
import relay.observability  # noqa: E402
import relay.settings  # noqa: E402
import relay.vendors  # noqa: E402

TESTS = Path(__file__).resolve().parent
MARKERS = {"unit": TESTS / "unit", "integration": TESTS / "integration"}


class NetworkBlocked(RuntimeError):
    """A test tried to reach a non-loopback address (tests run on loopback only)."""


# ---- markers by directory ------------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path)).resolve()
        for marker, folder in MARKERS.items():
            if path.is_relative_to(folder):
                item.add_marker(getattr(pytest.mark, marker))


# ---- caches --------------------------------------------------------------------------------------


def clear_caches() -> None:
    """Forget every cached setting, Powertools object, AWS client, delivery Deps and vendor cache."""
    relay.settings.clear()
    relay.observability.clear()
    relay.aws.aws_client.cache_clear()
    relay.apps.deliver.deps.cache_clear()
    relay.apps.admin.deps.cache_clear()
    relay.apps.collect.deps.cache_clear()
    relay.api.app._cached_app.cache_clear()
    relay.vendors.clear_caches()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    clear_caches()
    yield
    clear_caches()


# ---- loopback only -------------------------------------------------------------------------------

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_loopback(host: object) -> bool:
    """True for a loopback IP literal or a loopback host name (no name is resolved here)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].rstrip(".").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_address(family: int, address: Any) -> None:
    if family not in (socket.AF_INET, socket.AF_INET6):
        return  # AF_UNIX and friends never leave the machine
    host = address[0] if isinstance(address, tuple) and address else address
    if not is_loopback(host):
        raise NetworkBlocked(f"tests may only connect to loopback; tried {address!r}")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connect (or name lookup) for a non-loopback address raises NetworkBlocked naming it.

    moto's in-process mocking intercepts botocore before a socket exists, so it is unaffected.
    """
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        _check_address(self.family, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_address(self.family, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and host != "" and not is_loopback(host):
            raise NetworkBlocked(f"tests may only resolve loopback names; tried {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# ---- AWS -----------------------------------------------------------------------------------------


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's in-process AWS for the test's duration (clients must be built inside it)."""
    with mock_aws():
        yield
