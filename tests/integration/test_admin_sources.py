"""/v1/admin/sources (relay.api.sources, relay.sources) over moto: write keys shown once, stored as hashes,
found by one GetItem; conditional writes; no delete while integrations hang off a source."""

from __future__ import annotations

import json
from typing import Any

from relay.sources import KEY_PREFIX, SOURCE_PREFIX, SourceStore, key_hash
from tests.admin_support import PREFIX as INTEGRATIONS
from tests.admin_support import Admin
from tests.fakes import WrappedClient

SOURCES = "/v1/admin/sources"
SHOP = {
    "id": "src_abc123",
    "name": "Shop",
    "allowed_origins": ["https://shop.example.com", "HTTPS://www.Example.com/"],
    "cookie_domain": ".Example.com",
}


def table_items(admin: Admin) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = admin.local.dynamodb.scan(TableName=admin.settings.sources_table)["Items"]
    return items


def test_create_shows_the_write_key_once_and_stores_only_its_hash(admin):
    # WHEN a source is created
    status, headers, body = admin.call("POST", SOURCES, SHOP)
    # THEN 201 with a URL-safe key of at least 128 bits, normalised origins and domain, no-store
    assert status == 201, body
    key = body["write_key"]
    assert len(key) >= 22
    assert set(key) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert body["allowed_origins"] == ["https://shop.example.com", "https://www.example.com"]
    assert (body["cookie_domain"], body["enabled"], body["version"]) == (".example.com", True, 1)
    assert headers["Cache-Control"] == "no-store"
    assert headers["ETag"] == '"1"'
    # AND the table holds the source and a key item under the key's hash, never the key
    items = table_items(admin)
    assert sorted(i["pk"]["S"] for i in items) == sorted(
        [SOURCE_PREFIX + "src_abc123", KEY_PREFIX + key_hash(key)]
    )
    assert key not in json.dumps(items)
    # AND reading it back never shows the key
    status, _, again = admin.call("GET", f"{SOURCES}/src_abc123")
    assert status == 200
    assert "write_key" not in again
    assert key not in json.dumps(admin.call("GET", SOURCES)[2]) + json.dumps(admin.log.lines)


def test_a_write_key_finds_its_source_with_one_get_item(admin):
    key = admin.call("POST", SOURCES, SHOP)[2]["write_key"]
    spy = WrappedClient(admin.local.dynamodb)
    store = SourceStore(spy, admin.settings.sources_table)
    found = store.by_write_key(key)
    assert found is not None
    assert (found.id, found.allowed_origins[0], found.cookie_domain) == (
        "src_abc123",
        "https://shop.example.com",
        ".example.com",
    )
    assert [name for name, _ in spy.calls] == ["get_item"]
    assert store.by_write_key("not-a-key") is None


def test_rotating_the_key_retires_the_old_one_at_once(admin):
    old = admin.call("POST", SOURCES, SHOP)[2]["write_key"]
    status, _, body = admin.call("POST", f"{SOURCES}/src_abc123/rotate-key")
    assert status == 200
    new = body["write_key"]
    assert new != old
    store = SourceStore(admin.local.dynamodb, admin.settings.sources_table)
    assert store.by_write_key(old) is None
    found = store.by_write_key(new)
    assert found is not None
    assert found.id == "src_abc123"
    assert len(table_items(admin)) == 2
    assert admin.log.audits()[-1]["action"] == "source.rotate_key"


def test_a_patch_reaches_the_key_item_too(admin):
    key = admin.call("POST", SOURCES, SHOP)[2]["write_key"]
    status, headers, body = admin.call(
        "PATCH",
        f"{SOURCES}/src_abc123",
        {"enabled": False, "cookie_domain": None},
        headers={"if-match": '"1"'},
    )
    assert status == 200, body
    assert (body["enabled"], body["cookie_domain"], headers["ETag"]) == (False, None, '"2"')
    found = SourceStore(admin.local.dynamodb, admin.settings.sources_table).by_write_key(key)
    assert found is not None
    assert (found.enabled, found.cookie_domain) == (False, None)
    assert admin.call("PATCH", f"{SOURCES}/src_abc123", {"name": "x"}, headers={"if-match": '"1"'})[0] == 412


def test_an_id_that_exists_is_a_conflict(admin):
    assert admin.call("POST", SOURCES, SHOP)[0] == 201
    status, _, body = admin.call("POST", SOURCES, SHOP)
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert len(table_items(admin)) == 2


def test_invalid_sources_are_422_naming_the_field(admin):
    for change, path in (
        ({"allowed_origins": ["shop.example.com"]}, "allowed_origins"),
        ({"allowed_origins": ["https://shop.example.com/path"]}, "allowed_origins"),
        ({"cookie_domain": "not a domain"}, "cookie_domain"),
        ({"enabled": "yes please"}, "enabled"),
        ({"id": "bad id"}, "id"),
        ({"owner": "me"}, "owner"),
    ):
        status, _, body = admin.call("POST", SOURCES, {**SHOP, **change})
        assert status == 422, (change, body)
        assert [f["path"] for f in body["error"]["fields"]] == [path], change
    assert table_items(admin) == []


def test_a_source_with_integrations_cannot_be_deleted_until_they_are_gone(admin):
    # GIVEN a source with one integration
    admin.call("POST", SOURCES, SHOP)
    integration = admin.create(id="meta-1")
    # WHEN the source is deleted
    status, _, body = admin.call("DELETE", f"{SOURCES}/src_abc123")
    # THEN 409 naming why; after the integration goes, 204 and both items are gone
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert "integrations" in body["error"]["message"]
    assert admin.call("DELETE", f"{INTEGRATIONS}/{integration['id']}")[0] == 204
    assert admin.call("DELETE", f"{SOURCES}/src_abc123", headers={"if-match": '"2"'})[0] == 412
    assert admin.call("DELETE", f"{SOURCES}/src_abc123", headers={"if-match": '"1"'})[0] == 204
    assert table_items(admin) == []
    assert admin.call("GET", f"{SOURCES}/src_abc123")[0] == 404
    assert admin.call("DELETE", f"{SOURCES}/src_abc123")[0] == 404


def test_sources_are_listed_page_by_page_without_their_key_items(admin):
    for n in range(3):
        admin.call("POST", SOURCES, {**SHOP, "id": f"s-{n}"})
    seen, cursor = [], None
    for _ in range(10):
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, _, page = admin.call("GET", SOURCES, query=query)
        assert status == 200
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["s-0", "s-1", "s-2"]
    assert admin.call("GET", SOURCES, query={"cursor": "garbage"})[0] == 422
