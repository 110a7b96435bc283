"""relay.secrets.TokenVault against moto's Secrets Manager."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from relay.secrets import MissingToken, TokenUnavailable, TokenVault, secret_name
from tests.fakes import WrappedClient, client_error

PREFIX = "relay/test/integrations/"
NAME = "relay/test/integrations/int-1/access-token"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_secret_name_is_the_prefix_the_id_and_access_token():
    # GIVEN / WHEN / THEN
    assert secret_name(PREFIX, "int-1") == NAME


def test_get_is_cached_until_it_expires_or_is_invalidated(local):
    # GIVEN a stored token and a vault caching for 300 s
    local.secretsmanager.create_secret(Name=NAME, SecretString=" token-one \n")
    clock = Clock()
    spy = WrappedClient(local.secretsmanager)
    vault = TokenVault(spy, PREFIX, cache_s=300, clock=clock)
    assert vault.get("int-1") == "token-one"
    # WHEN the secret changes behind the vault's back
    local.secretsmanager.put_secret_value(SecretId=NAME, SecretString="token-two")
    cached = vault.get("int-1")
    clock.now += 299
    still = vault.get("int-1")
    clock.now += 2
    expired = vault.get("int-1")
    local.secretsmanager.put_secret_value(SecretId=NAME, SecretString="token-three")
    vault.invalidate("int-1")
    invalidated = vault.get("int-1")
    # THEN the cached token is served until it expires, and re-read at once after invalidate
    assert (cached, still, expired, invalidated) == ("token-one", "token-one", "token-two", "token-three")
    assert len(spy.requests("get_secret_value")) == 3


def test_put_version_creates_the_secret_then_adds_versions(local):
    # GIVEN no secret for int-1
    vault = TokenVault(local.secretsmanager, PREFIX, cache_s=300)
    # WHEN two tokens are put, reading in between
    first = vault.put_version("int-1", "token-one")
    read_first = vault.get("int-1")
    second = vault.put_version("int-1", "token-two")
    read_second = vault.get("int-1")
    # THEN each put returns the id of the new current version, and get sees it at once
    current = local.secretsmanager.get_secret_value(SecretId=NAME)
    versions = local.secretsmanager.describe_secret(SecretId=NAME)["VersionIdsToStages"]
    assert (read_first, read_second) == ("token-one", "token-two")
    assert first != second
    assert current["VersionId"] == second
    assert versions[second] == ["AWSCURRENT"]
    assert versions[first] == ["AWSPREVIOUS"]


def test_schedule_delete_uses_the_recovery_window_and_tolerates_a_missing_secret(local):
    # GIVEN a stored token
    vault = TokenVault(local.secretsmanager, PREFIX)
    vault.put_version("int-1", "token-one")
    # WHEN its deletion is scheduled, and that of a secret that never existed
    vault.schedule_delete("int-1")
    vault.schedule_delete("int-never")
    described = local.secretsmanager.describe_secret(SecretId=NAME)
    # THEN the secret is marked deleted, restorable for 7 days
    assert (described["DeletedDate"] - described["LastChangedDate"]).days == 7


def test_a_secret_scheduled_for_deletion_is_a_missing_token(local):
    # GIVEN a token whose deletion is scheduled
    vault = TokenVault(local.secretsmanager, PREFIX)
    vault.put_version("int-1", "token-one")
    vault.schedule_delete("int-1")
    # WHEN read / THEN the events are parked (auth) rather than retried: no retry brings it back
    with pytest.raises(MissingToken) as missing:
        vault.get("int-1")
    assert str(missing.value) == f"no readable secret {NAME} (InvalidRequestException)"


def test_a_missing_or_empty_secret_is_a_missing_token(local):
    # GIVEN no secret for int-1 and a blank one for int-2
    local.secretsmanager.create_secret(Name=secret_name(PREFIX, "int-2"), SecretString="   ")
    vault = TokenVault(local.secretsmanager, PREFIX)
    # WHEN read / THEN both raise MissingToken naming the secret, never a value
    with pytest.raises(MissingToken) as missing:
        vault.get("int-1")
    with pytest.raises(MissingToken) as empty:
        vault.get("int-2")
    assert str(missing.value) == f"no readable secret {NAME} (ResourceNotFoundException)"
    assert str(empty.value) == f"secret {PREFIX}int-2/access-token holds no token"


def test_throttling_is_a_token_unavailable_and_nothing_is_cached(local):
    # GIVEN a stored token and Secrets Manager throttling the first read
    local.secretsmanager.create_secret(Name=NAME, SecretString="token-one")
    state = {"calls": 0}

    def throttled_once(call, kwargs):
        state["calls"] += 1
        if state["calls"] == 1:
            raise client_error("ThrottlingException", "GetSecretValue")
        return call(**kwargs)

    vault = TokenVault(WrappedClient(local.secretsmanager, get_secret_value=throttled_once), PREFIX)
    # WHEN read twice
    with pytest.raises(TokenUnavailable) as unavailable:
        vault.get("int-1")
    again = vault.get("int-1")
    # THEN the first read asks for a retry (naming the code), the second succeeds
    assert str(unavailable.value) == f"secret {NAME} unavailable (ThrottlingException)"
    assert unavailable.value.retryable is True
    assert again == "token-one"


def test_a_failure_that_is_not_a_missing_secret_propagates_from_put_version(local):
    # GIVEN Secrets Manager refusing writes for another reason than a missing secret
    def denied(call, kwargs):
        raise client_error("AccessDeniedException", "PutSecretValue")

    vault = TokenVault(WrappedClient(local.secretsmanager, put_secret_value=denied), PREFIX)
    # WHEN a token is put / THEN the error reaches the caller (the admin API answers it)
    with pytest.raises(ClientError, match="AccessDeniedException") as raised:
        vault.put_version("int-1", "token-secret-value")
    assert "token-secret-value" not in str(raised.value)


class _AwsDeletionRules:
    """moto's Secrets Manager, with AWS's rule it lacks: PutSecretValue on a secret scheduled for deletion
    fails with InvalidRequestException (moto accepts it)."""

    def __init__(self, sm):
        self._sm = sm

    def put_secret_value(self, **kwargs):
        from botocore.exceptions import ClientError

        if "DeletedDate" in self._sm.describe_secret(SecretId=kwargs["SecretId"]):
            error = {"Error": {"Code": "InvalidRequestException", "Message": "scheduled for deletion"}}
            raise ClientError(error, "PutSecretValue")
        return self._sm.put_secret_value(**kwargs)

    def __getattr__(self, name):
        return getattr(self._sm, name)


def test_put_version_restores_a_secret_scheduled_for_deletion(local):
    # GIVEN a token whose deletion is scheduled (its integration was deleted), under AWS's rules
    vault = TokenVault(_AwsDeletionRules(local.secretsmanager), PREFIX)
    vault.put_version("int-1", "token-one")
    vault.schedule_delete("int-1")
    # WHEN a token is put for the same integration again
    version = vault.put_version("int-1", "token-two")
    # THEN the secret is restored, the new token is its current version and reads back
    described = local.secretsmanager.describe_secret(SecretId=NAME)
    assert "DeletedDate" not in described
    assert "AWSCURRENT" in described["VersionIdsToStages"][version]
    assert vault.get("int-1") == "token-two"
