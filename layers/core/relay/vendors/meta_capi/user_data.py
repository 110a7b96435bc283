"""user_data and app_data from the event envelope (DESIGN §3, §6).

Personal values are normalised and hashed here and nowhere else; the raw values never leave this
module's return values. Identifiers Meta wants in clear (IP, user agent, fbp, fbc, subscription_id,
anon_id, madid) are validated, not hashed.
"""

from __future__ import annotations

import ipaddress
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from relay import identity
from relay.events import Event, Traits
from relay.normalize import hash_field, normalize_country

# Meta's "invalid alone" combinations (best-practices page): user_data made only of one of these
# sets, or a subset, is rejected with code 100 / subcode 2804050.
INSUFFICIENT_COMBINATIONS = (
    frozenset({"ct", "country", "st", "zp", "ge", "client_user_agent"}),
    frozenset({"db", "client_user_agent"}),
    frozenset({"fn", "ge"}),
    frozenset({"ln", "ge"}),
)
_TRAIT_KEYS = (
    ("em", "email"),
    ("ph", "phone"),
    ("fn", "first_name"),
    ("ln", "last_name"),
    ("ge", "gender"),
    ("db", "birthday"),
)
_ADDRESS_KEYS = (("ct", "city"), ("st", "state"), ("zp", "postal_code"))
# A visitor sends several events (page views, cart, checkout...), often inside one SQS batch, so each
# normalised hash is memoised per warm Lambda. ~8k entries of < 300 bytes: a few MB at most.
HASH_CACHE_SIZE = 8192


@lru_cache(maxsize=HASH_CACHE_SIZE)
def _hash(key: str, value: str, country: str | None, region: str | None, today: date) -> str | None:
    return hash_field(key, value, country=country, region=region, today=today)


_country = lru_cache(maxsize=1024)(normalize_country)


def clear_caches() -> None:
    """Forget memoised hashes (benchmarks measure cold caches)."""
    _hash.cache_clear()
    _ip.cache_clear()
    _country.cache_clear()


def _one_or_many(values: list[str]) -> str | list[str] | None:
    unique = list(dict.fromkeys(values))
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else unique


@lru_cache(maxsize=HASH_CACHE_SIZE)
def _ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _address_value(traits: Traits, key: str) -> str | None:
    value = getattr(traits, key)
    if value is None and traits.address is not None:
        value = getattr(traits.address, key)
    return value if isinstance(value, str) else None


def build(
    event: Event, *, default_country: str | None, event_ms: int, today: date, app: bool
) -> dict[str, Any]:
    """user_data for `event`: hashed match keys, external_id, IP, user agent, fbp / fbc (app: anon_id, madid)."""
    traits = event.user_traits()
    ctx = event.context
    data: dict[str, Any] = {}
    if (ip := _ip(ctx.ip)) is not None:
        data["client_ip_address"] = ip
    if ctx.user_agent and ctx.user_agent.strip():
        data["client_user_agent"] = ctx.user_agent.strip()
    if (fbp := identity.valid_cookie(ctx.fbp)) is not None:
        data["fbp"] = fbp
    if (fbc := identity.resolve_fbc(ctx.fbc, event.page_url(), event_ms)) is not None:
        data["fbc"] = fbc
    ids = [v for v in (event.anonymous_id, event.user_id) if v is not None]
    external = [h for v in ids if (h := _hash("external_id", v, None, None, today)) is not None]
    if (value := _one_or_many(external)) is not None:
        data["external_id"] = value

    raw_country = _address_value(traits, "country")
    country = _country(raw_country) if raw_country else None
    region = country.upper() if country else default_country
    for key, attr in _TRAIT_KEYS:
        raw = getattr(traits, attr)
        values = raw if isinstance(raw, list) else [raw] if raw is not None else []
        hashed = [h for v in values if (h := _hash(key, v, country, region, today))]
        if (value := _one_or_many(hashed)) is not None:
            data[key] = value
    for key, attr in _ADDRESS_KEYS:
        raw_value = _address_value(traits, attr)
        if raw_value is not None and (h := _hash(key, raw_value, country, None, today)):
            data[key] = h
    if raw_country is not None and (h := _hash("country", raw_country, None, None, today)):
        data["country"] = h
    if app:
        if event.anonymous_id:
            data["anon_id"] = event.anonymous_id
        device = ctx.device
        if device and device.advertising_id and device.ad_tracking_enabled is not False:
            data["madid"] = device.advertising_id
    return data


def insufficient(user_data: dict[str, Any]) -> bool:
    """True when Meta would reject user_data as "insufficient customer information"."""
    keys = set(user_data)
    return not keys or any(keys <= combo for combo in INSUFFICIENT_COMBINATIONS)


def _tz_abbreviation(name: str | None, when: datetime) -> str:
    if not name:
        return ""
    try:
        return when.astimezone(ZoneInfo(name)).tzname() or ""
    except (ZoneInfoNotFoundError, ValueError):
        return ""


def _text(value: object) -> str:
    return "" if value is None else str(value)


def app_data(event: Event, when: datetime) -> dict[str, Any]:
    """app_data for a mobile SDK event, with Meta's positional 16-slot `extinfo`.

    Raises ValueError naming `context.os.name` when the platform is neither iOS nor Android.
    """
    ctx = event.context
    os_name = (ctx.os.name if ctx.os else None) or (ctx.device.type if ctx.device else None) or ""
    platform = os_name.strip().lower()
    if platform in ("ios", "ipados", "iphone os"):
        version = "i2"
    elif platform == "android":
        version = "a2"
    else:
        raise ValueError("context.os.name: app events need 'iOS' or 'Android'")
    if not (ctx.os and ctx.os.version):
        raise ValueError("context.os.version: required for app events (extinfo slot 4)")
    app, device, screen = ctx.app, ctx.device, ctx.screen
    extinfo = [
        version,
        _text(app.namespace if app else None),
        _text(app.version if app else None),
        _text(app.build if app else None),
        _text(ctx.os.version if ctx.os else None),
        _text(device.model if device else None),
        _text(ctx.locale),
        _tz_abbreviation(ctx.timezone, when),
        _text(ctx.network.carrier if ctx.network else None),
        _text(screen.width if screen else None),
        _text(screen.height if screen else None),
        _text(screen.density if screen else None),
        "",
        "",
        "",
        _text(ctx.timezone),
    ]
    tracking = bool(device and device.ad_tracking_enabled)
    return {
        "advertiser_tracking_enabled": tracking,
        "application_tracking_enabled": tracking,
        "extinfo": extinfo,
    }
