"""Hashed identity from Segment traits, vendor-neutral: the collector (profiles) and delivery share it.

Keys follow the de-facto standard of the ad platforms (em, ph, fn, ln, ge, db, ct, st, zp, country,
external_id); values are normalised (relay.normalize) then SHA-256 hex. Raw values never leave here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache
from hashlib import sha256
from typing import TYPE_CHECKING, Any

from relay.normalize import (
    HASH_HEX_LENGTH,
    hash_field,
    is_hashed,
    normalize_city,
    normalize_country,
    normalize_email,
    normalize_external_id,
    normalize_gender,
    normalize_name,
)

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


# Keys whose normalised form depends on the value alone (em, fn, ln, ge, ct, country, external_id)
# are memoised on the value alone.
_NO_DAY = date.min  # `today` matters only for db


def _by_value(normalizer: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """hash_field for one value-only key, without its dispatch: what it returns for a str, memoised."""

    def hashed(value: str) -> str | None:
        if len(value) >= HASH_HEX_LENGTH and is_hashed(value):
            return value.strip().lower()
        normalized = normalizer(value)
        if normalized is None:
            return None
        try:
            return sha256(normalized.encode("utf-8")).hexdigest()
        except UnicodeEncodeError:  # lone surrogates have no UTF-8 form
            return None

    return lru_cache(maxsize=HASH_CACHE_SIZE)(hashed)


_HASH_BY_VALUE: dict[str, Callable[[str], str | None]] = {
    "em": _by_value(normalize_email),
    "fn": _by_value(normalize_name),
    "ln": _by_value(normalize_name),
    "ge": _by_value(normalize_gender),
    "ct": _by_value(normalize_city),
    "country": _by_value(normalize_country),
    "external_id": _by_value(normalize_external_id),
}


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
    for cached in (*_HASH_BY_VALUE.values(), _phone, _placed, _birthday, country_code, _memoised_traits):
        cached.cache_clear()  # type: ignore[attr-defined]


def one_or_many(values: list[str]) -> str | list[str] | None:
    """One value as a string, several (deduplicated, in order) as a list, none as None."""
    unique = list(dict.fromkeys(values))
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else unique


def external_ids(ids: list[str]) -> str | list[str] | None:
    """external_id: the hashes of the given ids (anonymous id, user id), one or many."""
    hashed = _HASH_BY_VALUE["external_id"]
    if len(ids) == 1:
        return hashed(ids[0])
    return one_or_many([h for v in ids if (h := hashed(v)) is not None])


def hashed_traits(traits: Traits, *, default_country: str | None, today: date) -> Hashed:
    """em, ph, fn, ln, ge, db, ct, st, zp, country from `traits` (address{} included), each hashed.

    A visitor's later events carry the same traits: the whole result is memoised on them (when every
    value is hashable; else each field is looked up on its own). The result is shared: do not mutate it.
    Invalid values are dropped; this never raises.
    """
    items = tuple(traits.items())
    try:
        return _memoised_traits(items, default_country, today)
    except TypeError:  # a list or address{} value: not hashable as it stands
        return _hashed_traits(traits, default_country=default_country, today=today)


@lru_cache(maxsize=HASH_CACHE_SIZE)
def _memoised_traits(items: tuple[tuple[str, Any], ...], default_country: str | None, today: date) -> Hashed:
    return _hashed_traits(dict(items), default_country=default_country, today=today)  # type: ignore[arg-type]


def _hashed_traits(traits: Traits, *, default_country: str | None, today: date) -> Hashed:
    """em, ph, fn, ln, ge, db, ct, st, zp, country from `traits` (address{} included), each hashed.

    The traits' country (else `default_country`, ISO alpha-2) is the phone region and the st/zp rule.
    Invalid values are dropped; this never raises.
    """
    data: Hashed = {}
    fields: dict[str, Any] = traits  # type: ignore[assignment]
    address: dict[str, Any] = fields.get("address") or {}
    raw_country = fields.get("country")
    if raw_country is None:
        raw_country = address.get("country")
    raw_country = raw_country if isinstance(raw_country, str) else None
    country = country_code(raw_country) if raw_country else None
    region = country.upper() if country else default_country
    by_value = _HASH_BY_VALUE
    for key, attr in TRAIT_KEYS:
        raw = fields.get(attr)
        if raw is None:
            continue
        if isinstance(raw, str):
            h = by_value[key](raw) if key in by_value else hash_value(key, raw, country, region, today)
            if h:
                data[key] = h
            continue
        hashed = [h for v in raw if isinstance(v, str) and (h := hash_value(key, v, country, region, today))]
        if (value := one_or_many(hashed)) is not None:
            data[key] = value
    for key, attr in ADDRESS_KEYS:
        raw_value = fields.get(attr)
        if raw_value is None:
            raw_value = address.get(attr)
        if isinstance(raw_value, str) and (h := hash_value(key, raw_value, country, None, today)):
            data[key] = h
    if raw_country is not None and (h := by_value["country"](raw_country)):
        data["country"] = h
    return data
