"""Hashed identity from Segment traits, vendor-neutral: the collector (profiles) and delivery share it.

Keys follow the de-facto standard of the ad platforms (em, ph, fn, ln, ge, db, ct, st, zp, country,
external_id); values are normalised (relay.normalize) then SHA-256 hex. Raw values never leave here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from hashlib import sha256
from typing import TYPE_CHECKING, Any

from relay.normalize import (
    HASH_HEX_LENGTH,
    is_hashed,
    normalize_birthday,
    normalize_city,
    normalize_country,
    normalize_email,
    normalize_external_id,
    normalize_gender,
    normalize_name,
    normalize_phone,
    normalize_state,
    normalize_zip,
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


# Memo tables: a normalised hash per raw value, "" for a value its rule refuses. Plain dicts read inline
# (a hit costs one dict lookup, no call), each emptied when it reaches HASH_CACHE_SIZE.
Memo = dict[str, str]
_REFUSED = ""


def _digest(normalized: str | None) -> str:
    if not normalized:
        return _REFUSED
    try:
        return sha256(normalized.encode("utf-8")).hexdigest()
    except UnicodeEncodeError:  # lone surrogates have no UTF-8 form
        return _REFUSED


def _value_hash(memo: Memo, normalizer: Callable[[str], str | None], value: str) -> str:
    """hash_field for a value-only key (what it returns for a str, "" for None), memoised in `memo`."""
    h = memo.get(value)
    return h if h is not None else _remember(memo, value, normalizer)


def _memo_at(memos: dict[Any, Memo], place: Any) -> Memo:
    """The memo of a placed key for one place (region, country or day), made when first needed."""
    memo = memos.get(place)
    if memo is None:
        if len(memos) >= HASH_CACHE_SIZE:
            memos.clear()
        memo = memos[place] = {}
    return memo


def _placed_hash(memos: dict[Any, Memo], key: str, value: str, place: Any) -> str:
    """hash_field for ph (place = region), st / zp (place = country), db (place = today), memoised."""
    memo = _memo_at(memos, place)
    h = memo.get(value)
    return h if h is not None else _remember_at(memo, value, _PLACED_RULES[key], place)


def _remember(memo: Memo, value: str, rule: Callable[[str], str | None]) -> str:
    """A memo miss: `value` hashed by `rule`, or passed through when already a SHA-256; stored in
    `memo`, which is emptied first when full."""
    if len(memo) >= HASH_CACHE_SIZE:
        memo.clear()
    if len(value) >= HASH_HEX_LENGTH and is_hashed(value):
        h = memo[value] = value.strip().lower()
        return h
    normalized = rule(value)
    # ASCII text always encodes: the common case needs no _digest call (and no try)
    h = memo[value] = (
        sha256(normalized.encode()).hexdigest()
        if normalized and normalized.isascii()
        else _digest(normalized)
    )
    return h


def _remember_at(memo: Memo, value: str, rule: Callable[[str, Any], str | None], place: Any) -> str:
    """_remember for a placed key's rule (it also reads the place)."""
    if len(memo) >= HASH_CACHE_SIZE:
        memo.clear()
    if len(value) >= HASH_HEX_LENGTH and is_hashed(value):
        h = memo[value] = value.strip().lower()
        return h
    normalized = rule(value, place)
    h = memo[value] = (
        sha256(normalized.encode()).hexdigest()
        if normalized and normalized.isascii()
        else _digest(normalized)
    )
    return h


# Keys whose normalised form depends on the value alone (em, fn, ln, ge, ct, country, external_id).
_VALUE_RULES: dict[str, Callable[[str], str | None]] = {
    "em": normalize_email,
    "fn": normalize_name,
    "ln": normalize_name,
    "ge": normalize_gender,
    "ct": normalize_city,
    "country": normalize_country,
    "external_id": normalize_external_id,
}
_VALUE_MEMOS: dict[str, Memo] = {key: {} for key in _VALUE_RULES}
# Keys whose rule also reads a place: the phone's default region, the country (st, zp), today (db).
_PLACED_RULES: dict[str, Callable[[str, Any], str | None]] = {
    "ph": normalize_phone,
    "st": normalize_state,
    "zp": normalize_zip,
    "db": normalize_birthday,
}
_PLACED_MEMOS: dict[str, dict[Any, Memo]] = {key: {} for key in _PLACED_RULES}
_TRAITS_MEMO: dict[Any, Hashed] = {}
_COUNTRY_CODES: dict[str, str | None] = {}


def hash_value(key: str, value: str, country: str | None, region: str | None, today: date) -> str | None:
    """Memoised `relay.normalize.hash_field`, each key cached on only what its rule reads."""
    rule = _VALUE_RULES.get(key)
    if rule is not None:
        return _value_hash(_VALUE_MEMOS[key], rule, value) or None
    memos = _PLACED_MEMOS.get(key)
    if memos is None:
        return None  # not a hashed key
    place = region if key == "ph" else today if key == "db" else country
    return _placed_hash(memos, key, value, place) or None


def country_code(value: str) -> str | None:
    """normalize_country, memoised (alpha-2 lower case, or None)."""
    try:
        return _COUNTRY_CODES[value]
    except KeyError:
        if len(_COUNTRY_CODES) >= HASH_CACHE_SIZE:
            _COUNTRY_CODES.clear()
        code = _COUNTRY_CODES[value] = normalize_country(value)
        return code


def clear_caches() -> None:
    """Forget memoised hashes (benchmarks measure cold caches)."""
    memos: list[dict[Any, Any]] = [
        *_VALUE_MEMOS.values(),
        *_PLACED_MEMOS.values(),
        _TRAITS_MEMO,
        _COUNTRY_CODES,
    ]
    for memo in memos:
        memo.clear()


def one_or_many(values: list[str]) -> str | list[str] | None:
    """One value as a string, several (deduplicated, in order) as a list, none as None."""
    unique = list(dict.fromkeys(values))
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else unique


_EXTERNAL_ID = _VALUE_RULES["external_id"]
_EXTERNAL_IDS = _VALUE_MEMOS["external_id"]


def external_id(value: str) -> str:
    """external_id of one id (the anonymous id alone, typically): its hash, "" when the rule refuses it."""
    h = _EXTERNAL_IDS.get(value)
    return _remember(_EXTERNAL_IDS, value, _EXTERNAL_ID) if h is None else h


def external_ids(ids: list[str]) -> str | list[str] | None:
    """external_id: the hashes of the given ids (anonymous id, user id), one or many."""
    if len(ids) == 1:
        return _value_hash(_EXTERNAL_IDS, _EXTERNAL_ID, ids[0]) or None
    return one_or_many([h for v in ids if (h := _value_hash(_EXTERNAL_IDS, _EXTERNAL_ID, v))])


def hashed_traits(traits: Traits, *, default_country: str | None, today: date) -> Hashed:
    """em, ph, fn, ln, ge, db, ct, st, zp, country from `traits` (address{} included), each hashed.

    A visitor's later events carry the same traits: the whole result is memoised on them (when every
    value is hashable; else each field is looked up on its own). The result is shared: do not mutate it.
    Invalid values are dropped; this never raises.
    """
    try:
        # keys then values, flat (one tuple, not one per item): unambiguous, as both halves are as long
        key = (default_country, today, *traits.keys(), *traits.values())
        hit = _TRAITS_MEMO.get(key)
    except TypeError:  # a list or address{} value: not hashable as it stands
        return _hashed_traits(traits, default_country=default_country, today=today)
    if hit is None:
        if len(_TRAITS_MEMO) >= HASH_CACHE_SIZE:
            _TRAITS_MEMO.clear()
        hit = _TRAITS_MEMO[key] = _hashed_traits(traits, default_country=default_country, today=today)
    return hit


_EM, _FN, _LN, _GE, _CT, _COUNTRY = (_VALUE_MEMOS[k] for k in ("em", "fn", "ln", "ge", "ct", "country"))
_PH, _DB, _ST, _ZP = (_PLACED_MEMOS[k] for k in ("ph", "db", "st", "zp"))
_NO_ADDRESS: dict[str, Any] = {}


def _hashed_traits(traits: Traits, *, default_country: str | None, today: date) -> Hashed:
    """em, ph, fn, ln, ge, db, ct, st, zp, country from `traits` (address{} included), each hashed.

    The traits' country (else `default_country`, ISO alpha-2) is the phone region and the st/zp rule.
    Invalid values are dropped; this never raises. Written out key by key, in the output's order: a
    memo hit costs one dict lookup and no call.
    """
    data: Hashed = {}
    fields: dict[str, Any] = traits  # type: ignore[assignment]
    get = fields.get
    address: dict[str, Any] = get("address") or _NO_ADDRESS
    raw_country = get("country")
    if raw_country is None:
        raw_country = address.get("country")
    raw_country = raw_country if isinstance(raw_country, str) else None
    country = country_code(raw_country) if raw_country else None
    region = country.upper() if country else default_country
    _contact(data, get, country, region, today)
    _person(data, get, country, region, today)
    _place(data, get, address, raw_country, country)
    return data


def _contact(
    data: Hashed, get: Callable[[str], Any], country: str | None, region: str | None, today: date
) -> None:
    if type(raw := get("email")) is str:
        h = _EM.get(raw)
        if h := _remember(_EM, raw, normalize_email) if h is None else h:
            data["em"] = h
    elif raw is not None:
        _many(data, "em", raw, country, region, today)
    if type(raw := get("phone")) is str:
        memo = _PH.get(region)
        memo = _memo_at(_PH, region) if memo is None else memo
        h = memo.get(raw)
        if h := _remember_at(memo, raw, normalize_phone, region) if h is None else h:
            data["ph"] = h
    elif raw is not None:
        _many(data, "ph", raw, country, region, today)


def _person(
    data: Hashed, get: Callable[[str], Any], country: str | None, region: str | None, today: date
) -> None:
    if type(raw := get("first_name")) is str:
        h = _FN.get(raw)
        if h := _remember(_FN, raw, normalize_name) if h is None else h:
            data["fn"] = h
    elif raw is not None:
        _many(data, "fn", raw, country, region, today)
    if type(raw := get("last_name")) is str:
        h = _LN.get(raw)
        if h := _remember(_LN, raw, normalize_name) if h is None else h:
            data["ln"] = h
    elif raw is not None:
        _many(data, "ln", raw, country, region, today)
    if type(raw := get("gender")) is str:
        h = _GE.get(raw)
        if h := _remember(_GE, raw, normalize_gender) if h is None else h:
            data["ge"] = h
    elif raw is not None:
        _many(data, "ge", raw, country, region, today)
    if type(raw := get("birthday")) is str:
        if h := _placed_hash(_DB, "db", raw, today):
            data["db"] = h
    elif raw is not None:
        _many(data, "db", raw, country, region, today)


def _place(
    data: Hashed,
    get: Callable[[str], Any],
    address: dict[str, Any],
    raw_country: str | None,
    country: str | None,
) -> None:
    """ct, st, zp (top-level traits first, then address{}) and country."""
    raw = get("city")
    if type(raw := address.get("city") if raw is None else raw) is str:
        h = _CT.get(raw)
        if h := _remember(_CT, raw, normalize_city) if h is None else h:
            data["ct"] = h
    raw = get("state")
    if type(raw := address.get("state") if raw is None else raw) is str and (
        h := _placed_hash(_ST, "st", raw, country)
    ):
        data["st"] = h
    raw = get("postal_code")
    if type(raw := address.get("postal_code") if raw is None else raw) is str:
        memo = _ZP.get(country)
        memo = _memo_at(_ZP, country) if memo is None else memo
        h = memo.get(raw)
        if h := _remember_at(memo, raw, normalize_zip, country) if h is None else h:
            data["zp"] = h
    if raw_country is not None:
        h = _COUNTRY.get(raw_country)
        if h := _remember(_COUNTRY, raw_country, normalize_country) if h is None else h:
            data["country"] = h


def _many(data: Hashed, key: str, raw: Any, country: str | None, region: str | None, today: date) -> None:
    """A list of values (e-mail addresses, phone numbers): each hashed, deduplicated, one or many."""
    hashed = [d for v in raw if isinstance(v, str) and (d := hash_value(key, v, country, region, today))]
    if (value := one_or_many(hashed)) is not None:
        data[key] = value
