"""Hashed identity from Segment traits, vendor-neutral: the collector (profiles) and delivery share it.

Keys follow the de-facto standard of the ad platforms (em, ph, fn, ln, ge, db, ct, st, zp, country,
external_id); values are normalised (relay.normalize) then SHA-256 hex. Raw values never leave here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from relay.normalize import hash_field, normalize_country

if TYPE_CHECKING:
    from relay.events import Traits

# A visitor sends several events (page views, cart, checkout...), often inside one SQS batch, so each
# normalised hash is memoised per warm Lambda. ~8k entries of < 300 bytes: a few MB at most.
HASH_CACHE_SIZE = 8192
TRAIT_KEYS = (
    ("em", "email"),
    ("ph", "phone"),
    ("fn", "first_name"),
    ("ln", "last_name"),
    ("ge", "gender"),
    ("db", "birthday"),
)
ADDRESS_KEYS = (("ct", "city"), ("st", "state"), ("zp", "postal_code"))

Hashed = dict[str, str | list[str]]


# Keys whose normalised form depends on the value alone: memoised on the value alone.
_VALUE_ONLY = ("em", "fn", "ln", "ge", "ct", "country", "external_id")
_NO_DAY = date.min  # `today` matters only for db


def _by_value(key: str) -> Callable[[str], str | None]:
    return lru_cache(maxsize=HASH_CACHE_SIZE)(lambda value: hash_field(key, value, today=_NO_DAY))


_HASH_BY_VALUE: dict[str, Callable[[str], str | None]] = {key: _by_value(key) for key in _VALUE_ONLY}


@lru_cache(maxsize=HASH_CACHE_SIZE)
def _phone(value: str, region: str | None) -> str | None:
    return hash_field("ph", value, region=region, today=_NO_DAY)


@lru_cache(maxsize=HASH_CACHE_SIZE)
def _placed(key: str, value: str, country: str | None) -> str | None:
    return hash_field(key, value, country=country, today=_NO_DAY)


@lru_cache(maxsize=HASH_CACHE_SIZE)
def _birthday(value: str, today: date) -> str | None:
    return hash_field("db", value, today=today)


def hash_value(key: str, value: str, country: str | None, region: str | None, today: date) -> str | None:
    """Memoised `relay.normalize.hash_field`, each key cached on only what its rule reads."""
    by_value = _HASH_BY_VALUE.get(key)
    if by_value is not None:
        return by_value(value)
    if key == "ph":
        return _phone(value, region)
    if key == "db":
        return _birthday(value, today)
    return _placed(key, value, country)


country_code = lru_cache(maxsize=1024)(normalize_country)


def clear_caches() -> None:
    """Forget memoised hashes (benchmarks measure cold caches)."""
    for cached in (*_HASH_BY_VALUE.values(), _phone, _placed, _birthday, country_code):
        cached.cache_clear()  # type: ignore[attr-defined]


def one_or_many(values: list[str]) -> str | list[str] | None:
    """One value as a string, several (deduplicated, in order) as a list, none as None."""
    unique = list(dict.fromkeys(values))
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else unique


def _address_value(traits: Traits, key: str) -> str | None:
    fields: dict[str, Any] = traits  # type: ignore[assignment]
    value = fields.get(key)
    if value is None and (address := fields.get("address")):
        value = address.get(key)
    return value if isinstance(value, str) else None


def external_ids(ids: list[str]) -> str | list[str] | None:
    """external_id: the hashes of the given ids (anonymous id, user id), one or many."""
    hashed = _HASH_BY_VALUE["external_id"]
    if len(ids) == 1:
        return hashed(ids[0])
    return one_or_many([h for v in ids if (h := hashed(v)) is not None])


def hashed_traits(traits: Traits, *, default_country: str | None, today: date) -> Hashed:
    """em, ph, fn, ln, ge, db, ct, st, zp, country from `traits` (address{} included), each hashed.

    The traits' country (else `default_country`, ISO alpha-2) is the phone region and the st/zp rule.
    Invalid values are dropped; this never raises.
    """
    data: Hashed = {}
    raw_country = _address_value(traits, "country")
    country = country_code(raw_country) if raw_country else None
    region = country.upper() if country else default_country
    fields: dict[str, Any] = traits  # type: ignore[assignment]
    for key, attr in TRAIT_KEYS:
        raw = fields.get(attr)
        if raw is None:
            continue
        if isinstance(raw, str):
            if h := hash_value(key, raw, country, region, today):
                data[key] = h
            continue
        hashed = [h for v in raw if isinstance(v, str) and (h := hash_value(key, v, country, region, today))]
        if (value := one_or_many(hashed)) is not None:
            data[key] = value
    for key, attr in ADDRESS_KEYS:
        raw_value = _address_value(traits, attr)
        if raw_value is not None and (h := hash_value(key, raw_value, country, None, today)):
            data[key] = h
    if raw_country is not None and (h := hash_value("country", raw_country, None, None, today)):
        data["country"] = h
    return data
