"""Property: whatever the traits and properties hold, no raw personal value reaches the mapped output."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.events import EventError, parse_event
from relay.vendors.meta_capi.mapping import map_event
from tests.support import SAMPLE_NOW, UA, integration

MARK = "Zqxj"  # every generated personal text value carries it; output must never contain it in any case
texts = st.text(min_size=0, max_size=12).map(lambda s: MARK + s)
phones = st.from_regex(r"\+?[1-9][0-9]{8,12}", fullmatch=True)
personal_keys = st.sampled_from(
    ["email", "phone", "first_name", "lastName", "zip", "city", "Street", "birthday", "dob"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    email=st.emails().map(lambda e: MARK + e),
    phone=phones,
    first=texts,
    last=texts,
    city=texts,
    state=texts,
    zip_=texts,
    birthday=texts,
    props=st.dictionaries(personal_keys, texts, max_size=4),
    event=st.sampled_from(["Order Completed", "Video Played", "Lead Generated", "Signed Up"]),
)
def test_no_raw_personal_value_reaches_the_output(
    email, phone, first, last, city, state, zip_, birthday, props, event
):
    # GIVEN an event whose traits and properties hold marked personal values
    raw = {
        "type": "track",
        "event": event,
        "messageId": "m",
        "anonymousId": "a",
        "timestamp": "2026-11-26T12:00:00Z",
        "properties": {"total": 1, "currency": "USD", **props, "note": f"mail {email} now"},
        "context": {
            "userAgent": UA,
            "page": {
                "url": f"https://a.example/?email={email}&x=1",
                "referrer": f"https://b.example/?phone={phone}",
            },
            "traits": {
                "email": email,
                "phone": phone,
                "firstName": first,
                "last_name": last,
                "address": {"city": city, "state": state, "postalCode": zip_},
                "birthday": birthday,
            },
        },
    }
    try:
        event_model = parse_event(raw)
    except EventError:
        return
    # WHEN it is mapped
    outcome = map_event(event_model, integration(), now=SAMPLE_NOW)
    # THEN neither the marked values (in any case) nor the phone digits appear anywhere in the result
    text = json.dumps(
        getattr(outcome, "payload", None) or getattr(outcome, "reason", ""), ensure_ascii=False
    ).lower()
    assert MARK.lower() not in text
    assert phone.lstrip("+") not in text
