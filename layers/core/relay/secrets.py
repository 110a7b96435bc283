"""The token vault: integration access tokens in Secrets Manager, one secret per integration.

Delivery reads tokens through it (cached), invalidates one the vendor refused so a fixed token is picked
up at once, and the admin API writes new versions and schedules deletion through it. A token never
appears in a log line, an exception message or a return value other than `get`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from relay.aws import error_code

DEFAULT_CACHE_S = 300.0
# Secrets Manager's shortest recovery window: a deleted integration's token can be restored for a week.
RECOVERY_WINDOW_DAYS = 7
# Answers no retry will fix: the events wait in the DLQ (reason auth) until a token is set.
# GetSecretValue answers InvalidRequestException for a secret scheduled for deletion.
MISSING_SECRET_CODES = frozenset(
    {"ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure", "InvalidRequestException"}
)


class MissingToken(LookupError):
    """The integration has no usable access token (no secret, no access, or an empty one).

    `aws_code` is Secrets Manager's error code (None when the secret was read but holds no token)."""

    def __init__(self, message: str, *, aws_code: str | None = None) -> None:
        super().__init__(message)
        self.aws_code = aws_code


class TokenUnavailable(RuntimeError):
    """Secrets Manager could not answer now (throttling, network): retry later. `aws_code` says why (the
    AWS error code, else the exception's class)."""

    retryable = True

    def __init__(self, message: str, *, aws_code: str | None = None) -> None:
        super().__init__(message)
        self.aws_code = aws_code


def secret_name(prefix: str, integration_id: str) -> str:
    """`{prefix}{integration_id}/access-token`, e.g. relay/prod/integrations/int-1/access-token."""
    return f"{prefix}{integration_id}/access-token"


class TokenVault:
    """get (cached for `cache_s`), invalidate, put a new version, schedule deletion."""

    def __init__(
        self,
        secretsmanager: Any,
        prefix: str,
        *,
        cache_s: float = DEFAULT_CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sm = secretsmanager
        self._prefix = prefix
        self._cache_s = cache_s
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}

    def name(self, integration_id: str) -> str:
        return secret_name(self._prefix, integration_id)

    def get(self, integration_id: str) -> str:
        """The current token. Raises MissingToken (park the events) or TokenUnavailable (retry them)."""
        hit = self._cache.get(integration_id)
        now = self._clock()
        if hit is not None and hit[0] > now:
            return hit[1]
        name = self.name(integration_id)
        try:
            answer = self._sm.get_secret_value(SecretId=name)
        except Exception as exc:
            # Not logged here: raised as a typed error carrying the code, which delivery logs.
            code = error_code(exc)
            if code in MISSING_SECRET_CODES:
                raise MissingToken(f"no readable secret {name} ({code})", aws_code=code) from None
            reason = code or type(exc).__name__
            raise TokenUnavailable(f"secret {name} unavailable ({reason})", aws_code=reason) from None
        value = answer.get("SecretString")
        if not isinstance(value, str) or not value.strip():
            raise MissingToken(f"secret {name} holds no token")
        token = value.strip()
        if self._cache_s > 0:
            self._cache[integration_id] = (now + self._cache_s, token)
        return token

    def invalidate(self, integration_id: str) -> None:
        """Forget the cached token: the next `get` reads Secrets Manager again."""
        self._cache.pop(integration_id, None)

    def put_version(self, integration_id: str, token: str) -> str:
        """Store `token` as the secret's new current version (creating the secret); returns the version id."""
        name = self.name(integration_id)
        self.invalidate(integration_id)
        try:
            answer = self._sm.put_secret_value(SecretId=name, SecretString=token)
        except Exception as exc:  # two codes are expected states, handled; any other is raised as is
            code = error_code(exc)
            if code == "ResourceNotFoundException":
                answer = self._sm.create_secret(Name=name, SecretString=token)
            elif code == "InvalidRequestException":
                # Scheduled for deletion (the integration was deleted, and is being set up again): restore it.
                self._sm.restore_secret(SecretId=name)
                answer = self._sm.put_secret_value(SecretId=name, SecretString=token)
            else:
                raise
        version: str = answer["VersionId"]
        return version

    def schedule_delete(self, integration_id: str, *, recovery_days: int = RECOVERY_WINDOW_DAYS) -> None:
        """Schedule the secret's deletion (restorable for `recovery_days`); a missing secret is fine."""
        self.invalidate(integration_id)
        try:
            self._sm.delete_secret(SecretId=self.name(integration_id), RecoveryWindowInDays=recovery_days)
        except Exception as exc:  # no secret is the state asked for; any other error is raised as is
            if error_code(exc) != "ResourceNotFoundException":
                raise
