"""Hashed identity from Segment traits, vendor-neutral: the collector (profiles) and delivery share it.

Keys follow the de-facto standard of the ad platforms (em, ph, fn, ln, ge, db, ct, st, zp, country,
external_id); values are normalised (relay.normalize) then SHA-256 hex. Raw values never leave here.
"""

from __future__ import annotations

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


@lru_cache(maxsize=HASH_CACHE_SIZE)
def hash_value(key: str, value: str, country: str | None, region: str | None, today: date) -> str | None:
    """Memoised `relay.normalize.hash_field`."""
    return hash_field(key, value, country=country, region=region, today=today)


country_code = lru_cache(maxsize=1024)(normalize_country)


def clear_caches() -> None:
    """Forget memoised hashes (benchmarks measure cold caches)."""
    hash_value.cache_clear()
    country_code.cache_clear()


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


def external_ids(ids: list[str], today: date) -> str | list[str] | None:
    """external_id: the hashes of the given ids (anonymous id, user id), one or many."""
    return one_or_many([h for v in ids if (h := hash_value("external_id", v, None, None, today)) is not None])


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
