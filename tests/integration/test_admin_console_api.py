"""The admin API routes the console reads: GET /v1/admin/info, /v1/admin/vendors (relay.api.info) and
/v1/admin/integrations/{id}/stats (relay.api.stats over relay.stats), over the local stack."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.apps.admin import build_deps
from relay.local.stack import LocalStack
from relay.vendors.meta_capi.match import MATCH_KEY_GUIDE
from relay.vendors.meta_capi.variants import PAGE_KEYS, catalogue, event_key, resolve, variant_rows
from tests.admin_support import ADMIN_TOKEN, PREFIX, Admin, Lines, clients
from tests.support import tally_of

INFO = "/v1/admin/info"
VENDORS = "/v1/admin/vendors"
PH_ADVICE = (
    "Call _df.identify() when a user logs in, registers or submits a form, with their phone number including "
    "the country code (e.g. +44 7700 900123), or set the integration's default country."
)


def _admin(collector_url: str | None) -> Iterator[Admin]:
    with LocalStack() as local:
        settings = local.admin_settings(None, ADMIN_TOKEN, collector_url=collector_url)
        log = Lines()
        deps = replace(build_deps(settings, clients=clients(local)), log=lambda: log)
        yield Admin(local, settings, deps, log)


@pytest.fixture
def deployed() -> Iterator[Admin]:
    """The admin API of a deployment whose collector is https://collect.example.com/ (a trailing slash)."""
    yield from _admin("https://collect.example.com/")


# ---- /info -------------------------------------------------------------------------------------------


def test_info_gives_the_collectors_url_without_its_trailing_slash_and_the_tags(deployed):
    # GIVEN a deployment told its collector's URL
    # WHEN the console asks for this deployment's info
    status, _, body = deployed.call("GET", INFO)
    # THEN the base URL and the tag's URL under it
    assert (status, body) == (
        200,
        {"collector_url": "https://collect.example.com", "tag_url": "https://collect.example.com/v1/df.js"},
    )


def test_info_without_a_collector_url_gives_none_for_both(admin):
    # GIVEN a deployment not told its collector's URL (the local stack's default)
    assert admin.deps.collector_url is None
    # WHEN asked
    status, _, body = admin.call("GET", INFO)
    # THEN neither is known
    assert (status, body) == (200, {"collector_url": None, "tag_url": None})


# ---- /vendors ----------------------------------------------------------------------------------------


def test_vendors_list_meta_with_its_four_variants_in_the_product_descriptions_order(admin):
    # GIVEN the admin API
    # WHEN the destinations are listed
    status, _, body = admin.call("GET", VENDORS)
    # THEN one, Meta's, with its consent chips and the four variants, retail first and default last
    assert status == 200, body
    [meta] = body["items"]
    assert (meta["name"], meta["title"]) == ("meta_capi", "Meta Conversions API")
    assert meta["consent_categories"] == ["advertising", "marketing", "analytics"]
    assert [(v["name"], v["title"]) for v in meta["variants"]] == [
        ("retail", "Retail"),
        ("travel", "Travel"),
        ("b2b_saas", "B2B / SaaS"),
        ("default", "Default"),
    ]
    assert meta["variants"][3]["summary"] == "standard page view and conversion tracking"
    # AND each variant's events are the catalogue's, as it gives them
    assert [v["events"] for v in meta["variants"]] == [
        [{"event": e.event, "meta_event": e.meta_event, "fields": list(e.fields)} for e in variant.events]
        for variant in catalogue()
    ]
    assert [(e["event"], e["meta_event"]) for e in meta["variants"][3]["events"]] == [
        ("page", "PageView"),
        ("screen", "PageView"),
        ("Order Completed", "Purchase"),
        ("Product Purchased", "Purchase"),
        ("Product Added", "AddToCart"),
        ("Checkout Started", "InitiateCheckout"),
        ("Product Viewed", "ViewContent"),
        ("Lead Generated", "Lead"),
        ("Signed Up", "CompleteRegistration"),
        ("Products Searched", "Search"),
        ("Product Added to Wishlist", "AddToWishlist"),
    ]


def test_every_listed_event_is_mapped_by_the_mapper_as_listed(admin):
    # GIVEN the variants as the console shows them
    variants = admin.call("GET", VENDORS)[2]["items"][0]["variants"]
    for variant in variants:
        name = variant["name"]
        # WHEN each listed event is resolved by the mapper for its variant
        for row in variant["events"]:
            type_ = row["event"] if row["event"] in PAGE_KEYS else "track"
            rule = resolve(name, type_, row["event"])
            # THEN it is a table row (not a pass-through) for the listed Meta event and custom_data fields
            assert rule is not None, row
            assert (rule.meta_event, sorted(rule.fields), rule.passthrough) == (
                row["meta_event"],
                row["fields"],
                False,
            ), (name, row)
        # AND every row of the mapper's table is listed, once
        tracked = [event_key(r["event"]) for r in variant["events"] if r["event"] not in PAGE_KEYS]
        assert sorted(tracked) == sorted(variant_rows(name)), name
    travel = {r["event"]: r for r in variants[1]["events"]}
    assert travel["Products Searched"]["fields"][:2] == ["checkin_date", "checkout_date"]
    assert "content_type" in travel["Products Searched"]["fields"]


def test_vendors_give_each_match_key_with_its_label_threshold_and_advice(admin):
    # WHEN the destinations are listed
    meta = admin.call("GET", VENDORS)[2]["items"][0]
    # THEN the nine match keys of the guide, in its order
    assert [(k["key"], k["label"], k["low_below"]) for k in meta["match_keys"]] == [
        ("em", "Email", 0.5),
        ("ph", "Phone", 0.3),
        ("fn", "First name", 0.3),
        ("ln", "Last name", 0.3),
        ("external_id", "External ID", 0.9),
        ("fbp", "Browser ID (fbp)", 0.8),
        ("fbc", "Click ID (fbc)", 0.01),
        ("client_ip_address", "IP address", 0.9),
        ("client_user_agent", "User agent", 0.9),
    ]
    assert [k["advice"] for k in meta["match_keys"]] == [g.advice for g in MATCH_KEY_GUIDE.values()]
    assert meta["match_keys"][1]["advice"] == PH_ADVICE


# ---- /integrations/{id}/stats --------------------------------------------------------------------------


def _floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _window_of(body: dict[str, Any], before: datetime, after: datetime) -> None:
    """`body`'s until is the request's moment, its since the hour `hours - 1` before until's."""
    until = datetime.fromisoformat(body["until"])
    assert before.replace(microsecond=0) <= until <= after
    assert datetime.fromisoformat(body["since"]) == _floor(until) - timedelta(hours=body["hours"] - 1)


def test_stats_sum_the_day_and_give_each_match_keys_share_of_the_delivered_events(admin):
    # GIVEN meta-1's hour before this one (1 delivered, with an email and a phone; 1 invalid) and this
    # hour (3 delivered, 2 with an email, 2 with fbp; every one with an external id, IP and user agent)
    admin.create(id="meta-1")
    now = datetime.now(UTC).replace(microsecond=0)
    browser = {"external_id": 1, "client_ip_address": 1, "client_user_agent": 1}
    earlier = tally_of(delivered=1, keys={"em": 1, "ph": 1, **browser}, parked={"invalid": 1})
    admin.deps.stats.add("meta-1", earlier, at=now - timedelta(hours=1))
    later = tally_of(delivered=3, keys={"em": 2, "fbp": 2, **dict.fromkeys(browser, 3)}, retrying=2)
    admin.deps.stats.add("meta-1", later, at=now)
    admin.deps.stats.add("other", tally_of(delivered=50), at=now)
    # WHEN the console reads meta-1's last 24 hours
    before = datetime.now(UTC)
    status, _, body = admin.call("GET", f"{PREFIX}/meta-1/stats", query={"hours": "24"})
    after = datetime.now(UTC)
    # THEN 4 delivered, 1 invalid, 2 retrying, the last outcome the later hour's, and a bar per hour
    assert status == 200, body
    _window_of(body, before, after)
    assert {k: body[k] for k in ("integration_id", "hours", "delivered", "dead_lettered", "retrying")} == {
        "integration_id": "meta-1",
        "hours": 24,
        "delivered": 4,
        "dead_lettered": {"invalid": 1},
        "retrying": 2,
    }
    assert (body["last_outcome"], body["last_at"]) == ("delivered", now.isoformat())
    assert body["by_hour"] == [
        {"hour": _floor(now - timedelta(hours=1)).isoformat(), "delivered": 1},
        {"hour": _floor(now).isoformat(), "delivered": 3},
    ]
    # AND each key's share: em 3 of 4 is fine (low below 0.5), ph 1 of 4 is low (below 0.3) with advice
    guide = MATCH_KEY_GUIDE
    assert body["match_keys"] == [
        {"key": "em", "label": "Email", "events": 3, "share": 0.75, "low": False, "advice": None},
        {"key": "ph", "label": "Phone", "events": 1, "share": 0.25, "low": True, "advice": PH_ADVICE},
        {
            "key": "fn",
            "label": "First name",
            "events": 0,
            "share": 0.0,
            "low": True,
            "advice": guide["fn"].advice,
        },
        {
            "key": "ln",
            "label": "Last name",
            "events": 0,
            "share": 0.0,
            "low": True,
            "advice": guide["ln"].advice,
        },
        {
            "key": "external_id",
            "label": "External ID",
            "events": 4,
            "share": 1.0,
            "low": False,
            "advice": None,
        },
        {
            "key": "fbp",
            "label": "Browser ID (fbp)",
            "events": 2,
            "share": 0.5,
            "low": True,
            "advice": guide["fbp"].advice,
        },
        {
            "key": "fbc",
            "label": "Click ID (fbc)",
            "events": 0,
            "share": 0.0,
            "low": True,
            "advice": guide["fbc"].advice,
        },
        {
            "key": "client_ip_address",
            "label": "IP address",
            "events": 4,
            "share": 1.0,
            "low": False,
            "advice": None,
        },
        {
            "key": "client_user_agent",
            "label": "User agent",
            "events": 4,
            "share": 1.0,
            "low": False,
            "advice": None,
        },
    ]


def test_a_share_is_rounded_to_four_places(admin):
    # GIVEN 3 delivered events of which 1 carried an email
    admin.create(id="meta-1")
    admin.deps.stats.add("meta-1", tally_of(delivered=3, keys={"em": 1}), at=datetime.now(UTC))
    # WHEN the stats are read
    body = admin.call("GET", f"{PREFIX}/meta-1/stats")[2]
    # THEN em's share is 0.3333 of the default 24 hours, low (below 0.5)
    assert (body["hours"], body["match_keys"][0]) == (
        24,
        {
            "key": "em",
            "label": "Email",
            "events": 1,
            "share": 0.3333,
            "low": True,
            "advice": MATCH_KEY_GUIDE["em"].advice,
        },
    )


def test_with_nothing_delivered_every_share_is_zero_and_none_is_low(admin):
    # GIVEN meta-1 with two auth refusals this hour and nothing delivered, and meta-2 with nothing at all
    admin.create(id="meta-1")
    admin.create(id="meta-2")
    now = datetime.now(UTC).replace(microsecond=0)
    admin.deps.stats.add("meta-1", tally_of(parked={"auth": 2}), at=now)
    # WHEN their stats are read
    refused = admin.call("GET", f"{PREFIX}/meta-1/stats")[2]
    quiet = admin.call("GET", f"{PREFIX}/meta-2/stats")[2]
    # THEN every share is 0 and nothing is flagged low (there is nothing to judge by)
    for body in (refused, quiet):
        assert [(k["key"], k["events"], k["share"], k["low"], k["advice"]) for k in body["match_keys"]] == [
            (key, 0, 0.0, False, None) for key in MATCH_KEY_GUIDE
        ]
        assert (body["delivered"], body["retrying"], body["by_hour"]) == (0, 0, [])
    # AND meta-1's refusals and last outcome are shown, meta-2 has none
    assert (refused["dead_lettered"], refused["last_outcome"], refused["last_at"]) == (
        {"auth": 2},
        "auth",
        now.isoformat(),
    )
    assert (quiet["dead_lettered"], quiet["last_outcome"], quiet["last_at"]) == ({}, None, None)


def test_a_week_is_the_longest_window(admin):
    # GIVEN meta-1 with a delivery 166 hours ago and one 169 hours ago
    admin.create(id="meta-1")
    now = datetime.now(UTC)
    admin.deps.stats.add("meta-1", tally_of(delivered=1), at=now - timedelta(hours=166))
    admin.deps.stats.add("meta-1", tally_of(delivered=9), at=now - timedelta(hours=169))
    # WHEN the last 168 hours are read
    status, _, body = admin.call("GET", f"{PREFIX}/meta-1/stats", query={"hours": "168"})
    # THEN only the first is in them
    assert (status, body["hours"], body["delivered"]) == (200, 168, 1)


@pytest.mark.parametrize("hours", ["0", "169", "-1", "1.5", "day"])
def test_hours_outside_1_to_168_are_refused_with_422(admin, hours):
    # GIVEN an integration
    admin.create(id="meta-1")
    # WHEN its stats are asked for over `hours`
    status, _, body = admin.call("GET", f"{PREFIX}/meta-1/stats", query={"hours": hours})
    # THEN 422 in the error format
    assert (status, body["error"]["status"]) == (422, 422), body


def test_stats_of_an_unknown_integration_are_404(admin):
    # GIVEN counts recorded for an id no integration has
    admin.deps.stats.add("ghost", tally_of(delivered=1), at=datetime.now(UTC))
    # WHEN its stats are asked for
    status, _, body = admin.call("GET", f"{PREFIX}/ghost/stats")
    # THEN 404 in the error format
    assert (status, body["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize("path", [INFO, VENDORS, f"{PREFIX}/meta-1/stats"])
def test_the_console_routes_need_the_admin_token(admin, path):
    # GIVEN an integration
    admin.create(id="meta-1")
    # WHEN a console route is called without the token, or with a wrong one
    for token in (None, "wrong-token"):
        status, headers, body = admin.call("GET", path, token=token)
        # THEN 401 with the Bearer challenge
        assert (status, body["error"]["code"]) == (401, "unauthorized")
        assert headers["WWW-Authenticate"].startswith("Bearer")
