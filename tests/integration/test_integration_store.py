"""relay.integrations: IntegrationStore and register() against the template's table and Secrets Manager."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relay.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from relay.integrations import (
    MAX_QUERY_PAGES,
    BrokenIntegration,
    Integration,
    IntegrationInput,
    IntegrationStore,
    IntegrationsUnavailable,
    StoredIntegration,
    register,
)
from relay.secrets import TokenVault
from tests.fakes import WrappedClient

TABLE = "IntegrationsTable"
PREFIX = "relay/test/integrations/"
TOKEN = "EAAB-very-secret-token-7f3c"


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def _input(**overrides: Any) -> IntegrationInput:
    data: dict[str, Any] = {
        "id": "int-1",
        "source_id": "src-1",
        "name": "Shop pixel",
        "variant": "retail",
        "consent_categories": ["advertising"],
        "config": {
            "pixel_id": "1234567890",
            "access_token": TOKEN,
            "test_event_code": "TEST123",
            "event_mappings": {"Newsletter Signup": "Lead", "Internal Ping": None},
            "default_country": "de",
            "ldu": {"country": 1, "state": 1000},
        },
    }
    data.update(overrides)
    return IntegrationInput.model_validate(data)


def _stored(**overrides: Any) -> StoredIntegration:
    data: dict[str, Any] = {"id": "int-1", "source_id": "src-1", "config": {"pixel_id": "1234567890"}}
    data.update(overrides)
    return StoredIntegration.model_validate(data)


def _store(local, **kwargs: Any) -> IntegrationStore:
    return IntegrationStore(local.dynamodb, TABLE, **kwargs)


def test_register_puts_the_token_in_secrets_manager_and_never_in_the_table(local):
    # GIVEN a new integration with its access token
    store = _store(local, ttl_s=0)
    vault = TokenVault(local.secretsmanager, PREFIX)
    # WHEN registered
    stored = register(_input(), store=store, vault=vault)
    # THEN the token is the secret's current value, and the table holds only its last four characters
    secret = local.secretsmanager.get_secret_value(SecretId=f"{PREFIX}int-1/access-token")
    items = local.dynamodb.scan(TableName=TABLE)["Items"]
    assert secret["SecretString"] == TOKEN
    assert stored.secret_version == secret["VersionId"]
    assert TOKEN not in json.dumps(items)
    assert "access_token" not in json.dumps(items)
    assert [i["token_last4"]["S"] for i in items] == ["7f3c"]
    assert items[0]["version"] == {"N": "1"}
    assert stored.created_at == stored.updated_at != ""


def test_a_registered_integration_reads_back_as_its_delivery_view(local):
    # GIVEN a registered integration
    register(_input(), store=_store(local, ttl_s=0), vault=TokenVault(local.secretsmanager, PREFIX))
    # WHEN its source's integrations are read
    found = _store(local, ttl_s=0).for_source("src-1")
    # THEN it is the integration as described, without the token
    expected = _input().model_dump(exclude={"config"})
    expected["config"] = {**_input().config.model_dump(), "access_token": None}
    assert found == [Integration.model_validate(expected)]
    assert _store(local).for_source("src-other") == []


def test_register_without_a_token_writes_nothing(local):
    # GIVEN an integration without an access token
    new = _input(config={"pixel_id": "1234567890"})
    # WHEN registered / THEN it is refused naming the field, and neither a secret nor an item exists
    with pytest.raises(InvalidInput) as refused:
        register(new, store=_store(local), vault=TokenVault(local.secretsmanager, PREFIX))
    assert (refused.value.field, refused.value.problem) == ("config.access_token", "required")
    assert local.dynamodb.scan(TableName=TABLE)["Items"] == []
    assert local.secretsmanager.list_secrets()["SecretList"] == []


def test_register_generates_an_id_when_none_is_given(local):
    # GIVEN an integration without id / WHEN registered with a fixed id generator
    stored = register(
        _input(id=None),
        store=_store(local),
        vault=TokenVault(local.secretsmanager, PREFIX),
        new_id=lambda: "gen-1",
    )
    # THEN it is stored under that id, its token under that id's secret
    assert stored.id == "gen-1"
    assert (
        local.secretsmanager.get_secret_value(SecretId=f"{PREFIX}gen-1/access-token")["SecretString"] == TOKEN
    )


def test_for_source_is_cached_for_its_ttl(local):
    # GIVEN a store caching 60 s and one integration
    clock = Clock()
    spy = WrappedClient(local.dynamodb)
    store = IntegrationStore(spy, TABLE, ttl_s=60, clock=clock)
    store.create(_stored())
    first = store.for_source("src-1")
    # WHEN another integration appears behind the store's back
    _store(local).create(_stored(id="int-2"))
    clock.now += 59
    cached = store.for_source("src-1")
    clock.now += 2
    fresh = store.for_source("src-1")
    # THEN the cached answer is served until the TTL passes
    assert [i.id for i in first] == [i.id for i in cached] == ["int-1"]
    assert sorted(i.id for i in fresh) == ["int-1", "int-2"]
    assert len(spy.requests("query")) == 2


def test_a_write_through_the_store_drops_its_sources_cached_answer(local):
    # GIVEN a cached answer for src-1
    store = _store(local, ttl_s=60, clock=Clock())
    store.create(_stored())
    assert [i.id for i in store.for_source("src-1")] == ["int-1"]
    # WHEN the store itself writes another integration of src-1
    store.create(_stored(id="int-2"))
    # THEN the next read sees it
    assert sorted(i.id for i in store.for_source("src-1")) == ["int-1", "int-2"]


def test_for_source_follows_every_page(local):
    # GIVEN three integrations and a table answering one item per page
    spy = WrappedClient(local.dynamodb, query=lambda call, kwargs: call(**kwargs, Limit=1))
    for n in range(3):
        _store(local).create(_stored(id=f"int-{n}"))
    # WHEN read
    found = IntegrationStore(spy, TABLE, ttl_s=0).for_source("src-1")
    # THEN all three come back, each page asked from where the previous one ended
    assert sorted(i.id for i in found) == ["int-0", "int-1", "int-2"]
    assert ["ExclusiveStartKey" in r for r in spy.requests("query")] == [False, True, True]


def test_create_with_an_existing_id_is_a_conflict(local):
    # GIVEN a stored integration
    store = _store(local)
    store.create(_stored())
    # WHEN another one is created with its id / THEN Conflict, and the first is untouched
    with pytest.raises(Conflict, match=r"^integration int-1 exists$"):
        store.create(_stored(name="other"))
    assert store.get("int-1").name == ""


def test_replace_is_conditional_on_the_stored_version(local):
    # GIVEN a stored integration at version 1
    store = _store(local)
    store.create(_stored())
    # WHEN replaced from version 1, then again from the now stale version 1
    store.replace(_stored(name="renamed", version=2), expected_version=1)
    with pytest.raises(PreconditionFailed, match=r"^integration int-1 changed \(version 1 is stale\)$"):
        store.replace(_stored(name="lost update", version=2), expected_version=1)
    # THEN the first replace holds
    current = store.get("int-1")
    assert (current.name, current.version) == ("renamed", 2)


def test_delete_removes_the_item_conditionally(local):
    # GIVEN two stored integrations
    store = _store(local)
    store.create(_stored())
    store.create(_stored(id="int-2", version=3))
    # WHEN int-1 is deleted, int-2 with a stale and then the right version
    store.delete("int-1")
    with pytest.raises(PreconditionFailed, match=r"^integration int-2 changed$"):
        store.delete("int-2", expected_version=2)
    store.delete("int-2", expected_version=3)
    # THEN both are gone; deleting or reading a missing one is NotFound
    with pytest.raises(NotFound, match=r"^integration int-1$"):
        store.get("int-1")
    with pytest.raises(NotFound):
        store.delete("int-1")
    assert local.dynamodb.scan(TableName=TABLE)["Items"] == []


def test_a_corrupt_stored_item_comes_back_as_a_broken_integration(local):
    # GIVEN a good item and one without a pixel id and with an unknown variant, of the same source
    _store(local).create(_stored())
    local.dynamodb.put_item(
        TableName=TABLE,
        Item={
            "id": {"S": "int-bad"},
            "source_id": {"S": "src-1"},
            "variant": {"S": "nope"},
            "config": {"M": {}},
        },
    )
    # WHEN read for delivery
    found = _store(local, ttl_s=0).for_source("src-1")
    # THEN the good one is an Integration, the bad one a BrokenIntegration naming every problem
    assert sorted((type(i).__name__, i.id) for i in found) == [
        ("BrokenIntegration", "int-bad"),
        ("Integration", "int-1"),
    ]
    [broken] = [i for i in found if isinstance(i, BrokenIntegration)]
    assert broken.source_id == "src-1"
    assert broken.problem == (
        "variant: Input should be 'default', 'retail', 'travel' or 'b2b_saas'; config.pixel_id: Field required"
    )


def test_a_query_that_never_ends_stops_after_max_query_pages(local):
    # GIVEN an index answering every page with "there is more"
    def endless(call: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"Items": [], "LastEvaluatedKey": {"id": {"S": "x"}, "source_id": {"S": "src-1"}}}

    spy = WrappedClient(local.dynamodb, query=endless)
    # WHEN a source's integrations are read / THEN a typed, retryable error after MAX_QUERY_PAGES pages
    with pytest.raises(IntegrationsUnavailable):
        IntegrationStore(spy, TABLE).for_source("src-1")
    assert len(spy.requests("query")) == MAX_QUERY_PAGES
