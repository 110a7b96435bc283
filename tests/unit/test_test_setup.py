"""tests/conftest.py itself: the fake AWS environment, fresh caches, loopback-only network, markers."""

from __future__ import annotations

import os
import socket
import threading

import boto3
import pytest
from botocore.exceptions import HTTPClientError

import relay.apps.deliver
import relay.aws
import relay.settings
from tests.conftest import AWS_ENV, NetworkBlocked, is_loopback


def test_the_aws_and_powertools_environment_is_fake():
    # GIVEN / WHEN the test session runs / THEN the credentials and region are the fake ones
    assert {k: os.environ[k] for k in AWS_ENV} == AWS_ENV
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in os.environ


def test_caches_start_empty_in_every_test():
    # GIVEN caches a previous test may have filled / WHEN this test starts / THEN they are empty
    assert relay.aws.aws_client.cache_info().currsize == 0
    assert relay.settings.deliver_settings.cache_info().currsize == 0
    assert relay.apps.deliver.deps.cache_info().currsize == 0


def test_a_connect_to_a_public_address_is_refused_naming_it():
    # GIVEN a TCP socket / WHEN it connects to a documentation address / THEN the guard names it
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlocked) as blocked:
        sock.connect(("203.0.113.7", 443))
    assert str(blocked.value) == "tests may only connect to loopback; tried ('203.0.113.7', 443)"
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlocked):
        sock.connect_ex(("2001:db8::1", 443, 0, 0))


def test_resolving_a_public_name_is_refused_naming_it():
    # GIVEN / WHEN a public host name is resolved / THEN the guard names it (no DNS query leaves)
    with pytest.raises(NetworkBlocked) as blocked:
        socket.getaddrinfo("graph.facebook.com", 443)
    assert str(blocked.value) == "tests may only resolve loopback names; tried 'graph.facebook.com'"


def test_a_real_aws_endpoint_is_never_reached_without_moto():
    # GIVEN a boto3 client outside moto (fake credentials)
    sqs = boto3.client("sqs", region_name="eu-west-1")
    # WHEN it is called / THEN the guard stops it before any byte leaves the machine (botocore wraps it)
    with pytest.raises(HTTPClientError) as blocked:
        sqs.list_queues()
    assert isinstance(blocked.value.kwargs["error"], NetworkBlocked)
    assert str(blocked.value.kwargs["error"]) == (
        "tests may only resolve loopback names; tried 'sqs.eu-west-1.amazonaws.com'"
    )


def test_loopback_and_unix_sockets_still_work(tmp_path):
    # GIVEN a TCP listener on 127.0.0.1 and a Unix socket listener
    server = socket.create_server(("127.0.0.1", 0))
    unix_path = str(tmp_path / "s.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(unix_path)
    unix.listen()
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
    thread.start()
    # WHEN clients connect to them (and localhost is resolved)
    with socket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=2):
        thread.join(2)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(unix_path)
    infos = socket.getaddrinfo("localhost", 80)
    # THEN both connections were made
    assert len(accepted) == 1
    assert infos
    for sock in (*accepted, server, unix):
        sock.close()


def test_moto_works_under_the_guard(aws):
    # GIVEN moto (in-process, no socket) / WHEN a queue is created and listed / THEN it answers
    sqs = boto3.client("sqs", region_name="eu-west-1")
    url = sqs.create_queue(QueueName="guarded")["QueueUrl"]
    assert sqs.list_queues()["QueueUrls"] == [url]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("api.localhost", True),
        (b"127.0.0.1", True),
        ("10.0.0.1", False),
        ("0.0.0.0", False),
        ("example.com", False),
        ("localhost.example.com", False),
        (None, False),
    ],
)
def test_is_loopback(host, loopback):
    # GIVEN / WHEN / THEN only loopback literals and names count
    assert is_loopback(host) is loopback


def test_tests_are_marked_by_directory(request):
    # GIVEN this test in tests/unit / WHEN its markers are read / THEN it is `unit`, not `integration`
    names = {m.name for m in request.node.iter_markers()}
    assert "unit" in names
    assert "integration" not in names
