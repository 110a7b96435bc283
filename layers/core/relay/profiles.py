"""Profiles: what an identify taught us about a visitor, hashed, for the events that follow it.

The collector hashes an identify's traits at once (relay.hashing, the §6 rules delivery uses) and stores
only the hashes, with the visitor's latest fbp / fbc, under two keys: the SHA-256 of (source, anonymousId)
and of (source, userId). An identify carrying both ids writes both, and the anonymous item points at the
user's, so a later event from that browser also gets what the user told us on another device. Delivery
reads the profiles of a whole batch with BatchGetItem and fills in what an event does not carry itself:
the event's own traits, fbp and fbc always win. Raw personal data never reaches the table; items expire
after the template's ProfileTtlDays.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from relay import consent
from relay.aws import Unprocessed, batch_get
from relay.hashing import ADDRESS_KEYS, TRAIT_KEYS, Hashed

if TYPE_CHECKING:
    from relay.events import Event

DEFAULT_TTL_DAYS = 90

# Hashed key → the Segment trait that carries it (delivery reads profiles back as traits: a SHA-256 value
# passes through normalisation unchanged, so the vendor mapping needs to know nothing of profiles).
TRAIT_OF: dict[str, str] = dict((*TRAIT_KEYS, *ADDRESS_KEYS)) | {"country": "country"}
HASHED_KEYS = tuple(TRAIT_OF)
ADDRESS_TRAITS = frozenset(trait for _, trait in ADDRESS_KEYS) | {"country"}
IdKind = Literal["a", "u"]
USER_KEY = "user_key"


class ProfilesUnavailable(RuntimeError):
    """Profiles could not be read in time; delivery goes on without them (they only add match keys)."""

    retryable = True


def profile_key(source_id: str, kind: IdKind, value: str) -> str:
    """The table key of an id: `a#` (anonymousId) or `u#` (userId) + SHA-256 hex of source and id, so no
    id (a userId may be an e-mail address) rests in the table as it was sent."""
    digest = hashlib.sha256(f"{source_id}\x1f{value}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}#{digest}"


def keys_of(source_id: str, anonymous_id: str | None, user_id: str | None) -> list[str]:
    """The profile keys of an event, the user's last (its values win when both are found)."""
    keys = []
    if anonymous_id:
        keys.append(profile_key(source_id, "a", anonymous_id))
    if user_id:
        keys.append(profile_key(source_id, "u", user_id))
    return keys


@dataclass(frozen=True)
class Profile:
    """One stored profile: hashed match keys (em, ph, ... country), the latest fbp / fbc, the linked user."""

    hashed: Hashed = field(default_factory=dict)
    fbp: str | None = None
    fbc: str | None = None
    user_key: str | None = None


def with_profile(event: Event, profile: Profile | None) -> Event:
    """`event` with what `profile` knows and the event does not: hashed traits in context.traits (never
    over a trait the event carries, at the top, in context.traits or in address{}), fbp and fbc in context
    (not when the event's consent refuses advertising).

    Returns `event` itself when there is nothing to add; never mutates it.
    """
    if profile is None:
        return event
    ctx: dict[str, Any] = dict(event.get("context") or {})
    own: dict[str, Any] = {**(ctx.get("traits") or {}), **(event.get("traits") or {})}
    address = {
        **((ctx.get("traits") or {}).get("address") or {}),
        **((event.get("traits") or {}).get("address") or {}),
    }
    added = {}
    for key, value in profile.hashed.items():
        trait = TRAIT_OF.get(key)
        if trait is None or own.get(trait) is not None:
            continue
        if trait in ADDRESS_TRAITS and address.get(trait) is not None:
            continue
        added[trait] = value
    changed = False
    if added:
        ctx["traits"] = {**added, **(ctx.get("traits") or {})}
        changed = True
    # The collector sets no fbp / fbc for an event that refuses advertising: neither may its profile.
    given = ctx.get("consent") or {}
    ids = () if consent.refuses(given.get("category_preferences")) else ("fbp", "fbc")
    for name in ids:
        value = getattr(profile, name)
        if value and not ctx.get(name):
            ctx[name] = value
            changed = True
    if not changed:
        return event
    out = dict(event)
    out["context"] = ctx
    return out  # type: ignore[return-value]


def _attribute(value: str | list[str]) -> dict[str, Any]:
    return {"S": value} if isinstance(value, str) else {"L": [{"S": v} for v in value]}


def _value(attribute: Mapping[str, Any]) -> str | list[str] | None:
    if "S" in attribute:
        return str(attribute["S"])
    if "L" in attribute:
        return [str(v["S"]) for v in attribute["L"] if "S" in v]
    return None


def _profile_of(item: Mapping[str, Any]) -> Profile:
    hashed: Hashed = {}
    for key in HASHED_KEYS:
        if key in item and (value := _value(item[key])):
            hashed[key] = value
    text = {k: str(item[k]["S"]) for k in ("fbp", "fbc", USER_KEY) if "S" in item.get(k, {})}
    return Profile(hashed, text.get("fbp"), text.get("fbc"), text.get(USER_KEY))


class ProfileStore:
    """The ProfilesTable: partition key `pk`, TTL attribute `expires_at`, one attribute per hashed key."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        ttl: timedelta = timedelta(days=DEFAULT_TTL_DAYS),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._ttl = ttl
        self._sleep = sleep

    def remember(
        self,
        source_id: str,
        *,
        anonymous_id: str | None,
        user_id: str | None,
        hashed: Hashed,
        fbp: str | None,
        fbc: str | None,
        now: datetime,
    ) -> int:
        """Merge an identify into the profiles of its ids (one UpdateItem each; a new key's item is
        created). Returns the items written. Raises botocore errors."""
        values: dict[str, Any] = {k: v for k, v in hashed.items() if k in TRAIT_OF and v}
        if fbp:
            values["fbp"] = fbp
        if fbc:
            values["fbc"] = fbc
        keys = keys_of(source_id, anonymous_id, user_id)
        user = profile_key(source_id, "u", user_id) if user_id else None
        expires = str(int((now + self._ttl).timestamp()))
        for key in keys:
            fields = dict(values)
            if user is not None and key != user:
                fields[USER_KEY] = user
            names = {f"#{n}": name for n, name in enumerate(fields)}
            sets = [f"#{n} = :{n}" for n in range(len(fields))]
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": key}},
                UpdateExpression="SET " + ", ".join([*sets, "#exp = :exp", "#at = :at"]),
                ExpressionAttributeNames={**names, "#exp": "expires_at", "#at": "updated_at"},
                ExpressionAttributeValues={
                    **{f":{n}": _attribute(v) for n, v in enumerate(fields.values())},
                    ":exp": {"N": expires},
                    ":at": {"S": now.isoformat(timespec="seconds")},
                },
            )
        return len(keys)

    def lookup(
        self, keys: Iterable[str], *, remaining_s: Callable[[], float] | None = None
    ) -> dict[str, Profile]:
        """The stored profiles of `keys` (absent keys left out), with each anonymous profile's linked user
        profile read too (under its own key): relay.aws.batch_get, twice at most (the keys, then links).

        Raises botocore errors, or ProfilesUnavailable when keys stay unprocessed or time runs out.
        """
        found = self._read(keys, remaining_s)
        links = {p.user_key for p in found.values() if p.user_key and p.user_key not in found}
        if links:
            found.update(self._read(links, remaining_s))
        return found

    def _read(self, keys: Iterable[str], remaining_s: Callable[[], float] | None) -> dict[str, Profile]:
        wanted = [{"pk": {"S": k}} for k in dict.fromkeys(keys)]
        try:
            items = batch_get(self._db, self._table, wanted, sleep=self._sleep, remaining_s=remaining_s)
            return {item["pk"]["S"]: _profile_of(item) for item in items}
        except Unprocessed as exc:
            raise ProfilesUnavailable(f"profiles: {exc}") from None


def for_events(
    lookup: Callable[[list[str]], Mapping[str, Profile]],
    events: Sequence[tuple[str, str | None, str | None]],
) -> list[Profile | None]:
    """Each (source, anonymousId, userId)'s profile, from one `lookup` of every key the batch needs.

    Hashed traits: the user's profile (by userId, else the one the anonymous profile links to) over the
    anonymous one. fbp / fbc: the anonymous profile's first, as it is this browser's own.
    """
    wanted = [(keys_of(s, a, None), keys_of(s, None, u)) for s, a, u in events]
    keys = [k for anon, user in wanted for k in (*anon, *user)]
    found = lookup(keys) if keys else {}
    out: list[Profile | None] = []
    for anon_keys, user_keys in wanted:
        anon = found.get(anon_keys[0]) if anon_keys else None
        user = found.get(user_keys[0]) if user_keys else None
        if user is None and anon is not None and anon.user_key:
            user = found.get(anon.user_key)
        if anon is None and user is None:
            out.append(None)
            continue
        first, second = anon or Profile(), user or Profile()
        out.append(
            Profile(
                {**first.hashed, **second.hashed},
                first.fbp or second.fbp,
                first.fbc or second.fbc,
                first.user_key,
            )
        )
    return out
