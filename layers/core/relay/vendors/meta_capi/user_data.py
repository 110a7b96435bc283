"""user_data and app_data from the event envelope (DESIGN §3, §6).

Personal values are normalised and hashed (relay.hashing) and never leave this module's return values
in clear. Identifiers Meta wants in clear (IP, user agent, fbp, fbc, subscription_id, anon_id, madid)
are validated, not hashed.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from relay import hashing, identity, pii
from relay.events import Context, Event, context, user_traits

# Meta's "invalid alone" combinations (best-practices page): user_data made only of one of these
# sets, or a subset, is rejected with code 100 / subcode 2804050.
INSUFFICIENT_COMBINATIONS = (
    frozenset({"ct", "country", "st", "zp", "ge", "client_user_agent"}),
    frozenset({"db", "client_user_agent"}),
    frozenset({"fn", "ge"}),
    frozenset({"ln", "ge"}),
)
# Every key of some such combination: user_data holding a key outside it is never insufficient.
WEAK_KEYS = frozenset().union(*INSUFFICIENT_COMBINATIONS)
# Validated IPs are memoised like the hashes (a visitor sends several events from one address).
IP_CACHE_SIZE = 8192
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def clear_caches() -> None:
    """Forget memoised hashes, IPs, key verdicts and URLs (benchmarks measure cold caches)."""
    hashing.clear_caches()
    pii.clear_caches()
    _ip.cache_clear()


@lru_cache(maxsize=IP_CACHE_SIZE)
def _ip(value: str) -> str | None:
    text = value.strip()
    # A dotted quad as ipaddress accepts it (0..255, no leading zeros) is already in canonical form.
    if _DOTTED_QUAD.fullmatch(text):
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def build(
    event: Event,
    ctx: Context,
    url: str | None,
    *,
    default_country: str | None,
    event_ms: int,
    today: date,
    app: bool,
) -> dict[str, Any]:
    """user_data for `event` (its context `ctx`, its page URL `url` = events.page_url(event)): hashed
    match keys, external_id, IP, user agent, fbp / fbc (app: anon_id, madid)."""
    data: dict[str, Any] = {}
    if (ip := ctx.get("ip")) and (ip := _ip(ip)) is not None:
        data["client_ip_address"] = ip
    if (agent := ctx.get("user_agent")) and (agent := agent.strip()):
        data["client_user_agent"] = agent
    if (fbp := ctx.get("fbp")) is not None and (fbp := identity.valid_cookie(fbp)) is not None:
        data["fbp"] = fbp
    cookie = ctx.get("fbc")
    # Without a cookie or an fbclid in the URL there is no fbc to resolve.
    if (cookie is not None or (url and "fbclid=" in url)) and (
        fbc := identity.resolve_fbc(cookie, url, event_ms)
    ) is not None:
        data["fbc"] = fbc
    anonymous_id, user_id = event.get("anonymous_id"), event.get("user_id")
    if user_id is None:
        if anonymous_id is not None and (one := hashing.external_id(anonymous_id)):
            data["external_id"] = one
    elif (some := hashing.external_ids([v for v in (anonymous_id, user_id) if v is not None])) is not None:
        data["external_id"] = some
    top = event.get("traits")
    traits = user_traits(event) if top else ctx.get("traits")  # user_traits merges top-level traits in
    if traits:
        data.update(hashing.hashed_traits(traits, default_country=default_country, today=today))
    if app:
        if anonymous_id:
            data["anon_id"] = anonymous_id
        device = ctx.get("device") or {}
        if device.get("advertising_id") and device.get("ad_tracking_enabled") is not False:
            data["madid"] = device["advertising_id"]
    return data


def insufficient(user_data: dict[str, Any]) -> bool:
    """True when Meta would reject user_data as "insufficient customer information"."""
    keys = user_data.keys()
    if not keys:
        return True
    if not keys <= WEAK_KEYS:  # a key outside every combination (external_id, em, IP...)
        return False
    return any(keys <= combo for combo in INSUFFICIENT_COMBINATIONS)


def _tz_abbreviation(name: str | None, when: datetime) -> str:
    if not name:
        return ""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # app events only

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
    ctx = context(event)
    os_info, device = ctx.get("os") or {}, ctx.get("device") or {}
    app, screen, network = ctx.get("app") or {}, ctx.get("screen") or {}, ctx.get("network") or {}
    platform = (os_info.get("name") or device.get("type") or "").strip().lower()
    if platform in ("ios", "ipados", "iphone os"):
        version = "i2"
    elif platform == "android":
        version = "a2"
    else:
        raise ValueError("context.os.name: app events need 'iOS' or 'Android'")
    if not os_info.get("version"):
        raise ValueError("context.os.version: required for app events (extinfo slot 4)")
    extinfo = [
        version,
        _text(app.get("namespace")),
        _text(app.get("version")),
        _text(app.get("build")),
        _text(os_info.get("version")),
        _text(device.get("model")),
        _text(ctx.get("locale")),
        _tz_abbreviation(ctx.get("timezone"), when),
        _text(network.get("carrier")),
        _text(screen.get("width")),
        _text(screen.get("height")),
        _text(screen.get("density")),
        "",
        "",
        "",
        _text(ctx.get("timezone")),
    ]
    tracking = bool(device.get("ad_tracking_enabled"))
    return {
        "advertiser_tracking_enabled": tracking,
        "application_tracking_enabled": tracking,
        "extinfo": extinfo,
    }
