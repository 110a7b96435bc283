"""The audit line of every admin change: who (the admin token's fingerprint), what, which id; no secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from relay.api.auth import fingerprint, presented

if TYPE_CHECKING:
    from relay.api.deps import AdminDeps

MESSAGE = "admin change"


def record(
    deps: AdminDeps, headers: Mapping[str, str] | None, action: str, target: str | None, **extra: Any
) -> None:
    """Log one structured line `{"audit": {who, action, id, ...extra}}` (extra must hold no secret)."""
    token = presented(headers)
    who = fingerprint(token) if token else None
    deps.log().info(MESSAGE, extra={"audit": {"who": who, "action": action, "id": target, **extra}})
