"""Meta's external limits and defaults, each named once (sources: docs/meta-capi-reference.md)."""

from __future__ import annotations

from datetime import timedelta

GRAPH_URL = "https://graph.facebook.com"
# The seed and Meta's CAPI examples use v25.0 (supported until 2028-07-29); v26/v27 are also valid.
DEFAULT_API_VERSION = "v25.0"
# Meta's troubleshooting page suggests ~1.5 s for single events; a 1,000-event batch takes longer.
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 10.0
# The longest one Graph call may take in total (connect + request + the whole answer), whatever the
# server does: GraphClient aborts the call at this deadline (or at a shorter budget given per call).
CALL_TIMEOUT_S = CONNECT_TIMEOUT_S + READ_TIMEOUT_S
# Meta's answers are small (events_received, fbtrace_id, a warning per event at most in `messages`, or a
# Graph error object): an answer longer than this is not Meta's and is not read further.
MAX_ANSWER_BYTES = 1024 * 1024
# "data: max 1,000 events" per request.
MAX_EVENTS_PER_REQUEST = 1_000
# Meta documents no byte limit; keep each request body well under a few MB.
MAX_REQUEST_BYTES = 2 * 1024 * 1024
# event_time: at most 7 days old (62 days for physical_store), else the whole request fails.
MAX_EVENT_AGE = timedelta(days=7)
MAX_PHYSICAL_STORE_EVENT_AGE = timedelta(days=62)
# Custom event names "cannot exceed 50 characters".
MAX_CUSTOM_EVENT_NAME = 50
# app_data.extinfo is a positional array of exactly 16 strings.
EXTINFO_SLOTS = 16
# The action_source of a track event that names no page (a backend's): Meta's "happened in a way that
# is not listed"; `website` would need the page's URL, which a backend does not send.
SERVER_ACTION_SOURCE = "other"
ACTION_SOURCES = frozenset(
    {
        "email",
        "website",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)
