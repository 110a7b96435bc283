"""Match keys: the user_data keys whose share of delivered events the console charts, with the advice of
the product description's "How to Improve EMQ" and "Troubleshooting" when a share is low."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from relay.stats import KeyGuide

_IDENTIFY = "Call _df.identify() when a user logs in, registers or submits a form"
MATCH_KEY_GUIDE: Final[Mapping[str, KeyGuide]] = {
    "em": KeyGuide(
        "Email",
        0.5,
        f"{_IDENTIFY}, with their email (it is normalised and hashed before it leaves your infrastructure).",
    ),
    "ph": KeyGuide(
        "Phone",
        0.3,
        f"{_IDENTIFY}, with their phone number including the country code (e.g. +44 7700 900123), or set the "
        "integration's default country.",
    ),
    "fn": KeyGuide("First name", 0.3, f"{_IDENTIFY}, with firstName in its traits."),
    "ln": KeyGuide("Last name", 0.3, f"{_IDENTIFY}, with lastName in its traits."),
    "external_id": KeyGuide(
        "External ID",
        0.9,
        "Send events with an anonymousId or userId: df.js sets one on every event; server-side senders must "
        "pass one (it is hashed and sent as external_id).",
    ),
    "fbp": KeyGuide(
        "Browser ID (fbp)",
        0.8,
        "Ensure the fbp cookie is being set: load df.js from your collector on your own domain (first-party "
        "cookie), and allow the site's origin on the source.",
    ),
    "fbc": KeyGuide(
        "Click ID (fbc)",
        0.01,
        "fbc comes from the fbclid of a Meta ad click: ensure the landing page's URL reaches the collector "
        "(df.js sends it) and the fbc cookie is being set. Only ad-click visitors carry it.",
    ),
    "client_ip_address": KeyGuide(
        "IP address",
        0.9,
        "Relay takes it from the browser's request; server-side senders must pass context.ip (behind a CDN, "
        "set TrustedProxyHops).",
    ),
    "client_user_agent": KeyGuide(
        "User agent",
        0.9,
        "Relay takes it from the browser's request; server-side senders must pass context.userAgent.",
    ),
}
MATCH_KEYS: Final[tuple[str, ...]] = tuple(MATCH_KEY_GUIDE)
