"""relay.pii: personal keys by name, personal values by shape, URL scrubbing, in linear time."""

from __future__ import annotations

import sys
import time
import unicodedata

import pytest

from relay import pii
from relay.vendors.meta_capi import variants
from tests.support import ROOT

# Meta's standard custom_data fields (Conversions API, custom data parameters).
META_CUSTOM_DATA = [
    "value", "currency", "content_name", "content_category", "content_ids", "contents", "content_type",
    "order_id", "predicted_ltv", "num_items", "search_string", "status", "delivery_category",
]  # fmt: skip
# The Segment e-commerce v2 properties the variant tables read, and their spellings.
SEGMENT_FIELDS = [
    "name", "category", "query", "total", "revenue", "products", "product_id", "sku", "id", "price",
    "quantity", "list_id", "booking_id", "subscription_id", "coupon", "discount", "shipping", "tax",
    "affiliation", "checkout_id", "cart_id", "event_id", "url", "referrer", "brand", "variant",
    "position", "title", "path",
]  # fmt: skip
OTHER_HARMLESS = [
    "video_id", "autoplay", "plan", "step", "method", "label", "player_state", "customer_type",
    "shipping_method", "account_type", "device_type", "productName", "ContentName", "hotelName",
    "campaign_name", "list_name", "page_name", "orderId", "num_adults", "destination", "lead_source",
    "delivery_category", "experiment_variant",
]  # fmt: skip
# The attacker's finding, and the families every rule covers.
PERSONAL = [
    "customer_phone", "billing_name", "shipping_address", "client_ip",
    "email", "Email", "e_mail", "eMail", "emailAddress", "customerEmail", "user-email", "useremail",
    "phone", "phone_number", "phoneNumber", "mobile", "tel", "fax", "cellPhone", "phone2",
    "name", "first_name", "firstName", "FirstName", "last_name", "lastname", "full_name", "surname",
    "customer_name", "customerName", "customername", "billingname", "name_on_card", "user_name", "nickname",
    "address", "street", "address_line_1", "billingAddress", "shipping_address2", "city", "zip", "zipcode",
    "postal_code", "postcode", "state", "country", "province", "billing_country", "shipping_state",
    "ip", "IP", "clientIP", "client-ip", "ip_address", "IPAddress", "ipv4", "remote_addr",
    "birthday", "birth_date", "dob", "date_of_birth", "gender", "sex", "ssn", "passport_number",
    "password", "reset_token", "access_token", "session", "session_id", "sessionId", "api_secret", "auth",
    "user", "user_id", "userId", "customer_id", "customerid", "member_number", "anonymous_id", "device_id",
    "latitude", "lng", "geo", "idfa", "fbp", "cookie", "cvv", "iban", "credit_card_number",
]  # fmt: skip


def _table_fields() -> set[str]:
    fields = {"content_type"}
    for variant in ("default", "retail", "travel", "b2b_saas"):
        for rule in variants.variant_rows(variant).values():
            fields |= rule.fields
    return fields


@pytest.mark.parametrize("key", sorted({*META_CUSTOM_DATA, *SEGMENT_FIELDS, *_table_fields()} - {"name"}))
def test_standard_and_variant_table_fields_are_not_personal_keys(key):
    # GIVEN a field Meta, Segment's spec or a variant table names / WHEN checked / THEN it is not personal
    assert pii.is_personal_key(key) is False


@pytest.mark.parametrize("key", OTHER_HARMLESS)
def test_harmless_keys_are_not_personal(key):
    # GIVEN a key about a thing, or a qualifier without a personal word / WHEN checked / THEN not personal
    assert pii.is_personal_key(key) is False


@pytest.mark.parametrize("key", PERSONAL)
def test_personal_keys_are_caught_by_word_stem_qualifier_place_or_name(key):
    # GIVEN a key naming personal data in any spelling / WHEN checked / THEN it is personal
    assert pii.is_personal_key(key) is True


@pytest.mark.parametrize(
    ("key", "tokens"),
    [
        ("customerPhone2", ("customer", "phone", "2")),
        ("IPAddress", ("ip", "address")),
        ("billing_name", ("billing", "name")),
        ("Shipping-Address Line", ("shipping", "address", "line")),
        ("clientIP", ("client", "ip")),
        ("\uff45\uff4d\uff41\uff49\uff4c", ("email",)),  # full-width letters
        ("pho\u200bne", ("phone",)),  # an invisible character separates nothing
        ("", ()),
    ],
)
def test_key_tokens(key, tokens):
    # GIVEN a key / WHEN split / THEN its words, lower-cased
    assert pii.key_tokens(key) == tokens


def test_a_key_too_long_to_read_counts_as_personal():
    # GIVEN keys at and beyond the checked length / WHEN checked / THEN only the longer one is personal
    assert pii.is_personal_key("x" * pii.MAX_CHECKED_KEY_LENGTH) is False
    assert pii.is_personal_key("x" * (pii.MAX_CHECKED_KEY_LENGTH + 1)) is True


@pytest.mark.parametrize(
    ("value", "email", "phone", "ip"),
    [
        ("jane@example.com", True, False, False),
        ("contact me at jane@example.com please", True, False, False),
        ("x@y.z", True, False, False),
        ("jane\u200b@example\u200b.com", True, False, False),
        ("a@b", False, False, False),
        ("@handle", False, False, False),
        ("+1 (212) 555-0100", False, True, False),
        ("212.555.0100", False, True, False),
        ("2125550100", False, True, False),
        ("call +44 20 7946 0958 now", False, True, False),
        ("21\u200b2555\u200b0100", False, True, False),
        ("4111 1111 1111 1111", False, True, False),
        ("1234567", False, True, False),
        ("123456", False, False, False),
        ("2026-11-26", False, False, False),
        ("26.11.2026", False, False, False),
        ("2026-11-26 12:00:00", False, False, False),
        ("2026-11-26T12:00:00Z", False, False, False),
        ("abc1234567def", False, False, False),
        ("order_1234567", False, False, False),
        ("ORD-001", False, False, False),
        ("19.99", False, False, False),
        ("203.0.113.50", False, True, True),
        ("from 198.51.100.7.", False, True, True),
        ("10.0.0.256", False, True, False),
        ("1.2.3.4.5", False, False, False),
        ("2001:db8::1", False, False, True),
        ("fe80::1%eth0", False, False, True),
        ("::ffff:192.0.2.1", False, False, True),
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", False, False, True),
        ("12:30:45", False, False, False),
        ("00:1A:2B:3C:4D:5E", False, False, False),
        ("std::vector", False, False, False),
        ("Widget", False, False, False),
    ],
)
def test_value_shapes(value, email, phone, ip):
    # GIVEN a value / WHEN its shapes are checked / THEN each is found exactly where it is
    assert (pii.has_email(value), pii.has_phone(value), pii.has_ip(value)) == (email, phone, ip)
    assert pii.personal_shape(value) is (email or phone or ip)


def test_numbers_and_other_types_have_no_shape():
    # GIVEN non-strings that would look like a phone or an IP as text / WHEN checked / THEN no shape
    for value in (2125550100, 2125550100.0, True, None, ["jane@example.com"], {"a": "jane@example.com"}):
        assert pii.personal_shape(value) is False


def test_a_value_too_long_to_read_counts_as_personal():
    # GIVEN harmless text at and beyond the checked length / WHEN checked / THEN only the longer one is
    assert pii.personal_shape("a" * pii.MAX_CHECKED_LENGTH) is False
    assert pii.personal_shape("a" * (pii.MAX_CHECKED_LENGTH + 1)) is True
    assert pii.has_email("a" * (pii.MAX_CHECKED_LENGTH + 1)) is True


def test_ids_and_amounts_are_not_read_as_phone_numbers_but_keep_the_other_shapes():
    # GIVEN long digit runs under id and amount keys, and an e-mail under one
    # WHEN checked / THEN the digits pass, the e-mail does not; elsewhere the digits are a phone
    assert pii.is_personal("order_id", "5123456789012") is False
    assert pii.is_personal("orderId", "5123456789012") is False
    assert pii.is_personal("total", "1234567.89") is False
    assert pii.is_personal("order_id", "jane@example.com") is True
    assert pii.is_personal("note", "5123456789012") is True


def test_a_key_shaped_like_an_e_mail_is_personal():
    # GIVEN a property whose key is an e-mail address / WHEN checked / THEN personal, whatever its value
    assert pii.is_personal("jane@example.com", True) is True


def test_every_format_character_of_this_pythons_unicode_is_invisible():
    # GIVEN every code point of category Cf in the running interpreter's Unicode database
    format_chars = "".join(chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf")
    # WHEN stripped / THEN nothing is left (INVISIBLE covers them all), and visible text is untouched
    assert pii.strip_invisible(format_chars) == ""
    assert pii.strip_invisible("Zoë\u200b Ünal\ufeff") == "Zoë Ünal"


@pytest.mark.parametrize(
    ("url", "scrubbed"),
    [
        # userinfo, fragment and unknown parameters go; the port stays
        ("https://user:password@ref.example.com/", "https://ref.example.com/"),
        ("https://user@ref.example.com:8443/p?x=1#f", "https://ref.example.com:8443/p"),
        (
            "https://shop.example/reset?reset_token=r&session=s&utm_source=news#access_token=t",
            "https://shop.example/reset?utm_source=news",
        ),
        # marketing parameters keep their order, case and encoding byte for byte
        (
            "https://a.example/l?gclid=Cj0K&x=1&fbclid=IwAR2F4-dbP0l7&UTM_Campaign=Spring%20Sale&ttclid=E.C.P",
            "https://a.example/l?gclid=Cj0K&fbclid=IwAR2F4-dbP0l7&UTM_Campaign=Spring%20Sale&ttclid=E.C.P",
        ),
        (
            "https://a.example/?msclkid=a&gbraid=b&wbraid=c&dclid=d&li_fat_id=e&twclid=f&epik=g&ScCid=h",
            "https://a.example/?msclkid=a&gbraid=b&wbraid=c&dclid=d&li_fat_id=e&twclid=f&epik=g&ScCid=h",
        ),
        (
            "https://a.example/?rdt_cid=a&qclid=b&yclid=c&gclsrc=aw.ds",
            "https://a.example/?rdt_cid=a&qclid=b&yclid=c&gclsrc=aw.ds",
        ),
        (
            "https://a.example/?utm_source_platform=x&utm_=y&fbclidx=z",
            "https://a.example/?utm_source_platform=x&utm_=y",
        ),
        # a marketing parameter holding an e-mail address (encoded or not) goes too
        ("https://a.example/?utm_content=jane%40example.com&utm_term=x", "https://a.example/?utm_term=x"),
        ("https://a.example/?utm_content=jane@example.com", "https://a.example/"),
        (
            "https://a.example/?utm_content=jane+%40+example.com",
            "https://a.example/?utm_content=jane+%40+example.com",
        ),
        # a path holding an e-mail address becomes "/"
        ("https://a.example/u/jane%40example.com/orders?utm_id=1", "https://a.example/?utm_id=1"),
        ("https://medium.example/@jane/post", "https://medium.example/@jane/post"),
        # hosts: IPv6 literals, no path, backslashes as browsers read them
        ("http://[2001:db8::1]:8080/x?fbclid=Ab", "http://[2001:db8::1]:8080/x?fbclid=Ab"),
        ("https://a.example?utm_medium=cpc", "https://a.example?utm_medium=cpc"),
        ("https://a.example:/p", "https://a.example:/p"),
        ("https://bücher.example/p", "https://bücher.example/p"),
        ("HTTPS://A.Example/P", "HTTPS://A.Example/P"),
        ("  https://a.example/  ", "https://a.example/"),
        # not an absolute http(s) URL with a usable host
        ("ftp://a.example/", None),
        ("https://", None),
        ("https://user:pa/ss@h.example/", None),
        ("https://a b.example/", None),
        ("/relative/path", None),
        ("", None),
        (None, None),
    ],
)
def test_scrub_url(url, scrubbed):
    # GIVEN a page or referrer URL / WHEN scrubbed / THEN scheme, host, path and marketing parameters remain
    assert pii.scrub_url(url) == scrubbed


def test_only_the_first_parameters_of_a_hostile_url_are_read():
    # GIVEN a query with more parameters than are read, a marketing one beyond the limit
    url = "https://a.example/?" + "x=1&" * pii.MAX_READ_PARAMETERS + "utm_source=late"
    # WHEN scrubbed / THEN the late one is not kept (nothing after the limit is)
    assert pii.scrub_url(url) == "https://a.example/"
    assert (
        pii.scrub_url("https://a.example/?utm_source=early&" + "x=1&" * 300)
        == "https://a.example/?utm_source=early"
    )


# ---- linear time ----------------------------------------------------------------------------------

MB = 1 << 20
# Inputs that made the old checks quadratic (long runs without a match) and the worst cases of the
# new ones: dense "@", digits, separators, dates, colons, non-ASCII and invisible characters.
HOSTILE = {
    "letters": "a" * MB,
    "at-pairs": "a@" * (MB // 2),
    "at-signs": "@" * MB,
    "one-at": "x@" + "a" * MB,
    "dotted-at": "a.@" * (MB // 3),
    "digits": "1" * MB,
    "digit-dashes": "1-" * (MB // 2),
    "dates": "2026-11-26 " * (MB // 11),
    "times": "12:30:45 " * (MB // 9),
    "hex-colons": "aaaa:" * (MB // 5),
    "dots": "1." * (MB // 2),
    "spaces": " " * MB,
    "non-ascii": "é@1-" * (MB // 4),
    "invisible": "\u200b1" * (MB // 2),
}
# A check of a megabyte must stay far below this on a noisy shared machine; a quadratic one would take
# minutes (the old e-mail regex took 7 s for 64 KB).
BOUND_S = 0.1


def _timed(check, value) -> float:
    start = time.perf_counter()
    check(value)
    return time.perf_counter() - start


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_megabyte_value_is_checked_in_well_under_a_tenth_of_a_second(name):
    # GIVEN a hostile 1 MB value
    value = HOSTILE[name]
    # WHEN every shape and key check reads it
    checks = (pii.has_email, pii.has_phone, pii.has_ip, pii.personal_shape, pii.is_personal_key)
    took = {check.__name__: _timed(check, value) for check in checks}
    took["is_personal"] = _timed(lambda v: pii.is_personal(v, v), value)
    # THEN each takes well under the bound
    assert max(took.values()) < BOUND_S, took


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_value_just_short_of_the_checked_length_is_read_in_linear_time(name):
    # GIVEN the longest value that is read, made of a hostile pattern
    value = HOSTILE[name][: pii.MAX_CHECKED_LENGTH]
    # WHEN its shapes are checked / THEN it takes a small fraction of the bound
    assert _timed(pii.personal_shape, value) < BOUND_S / 10


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example/?x=" + "a" * MB,
        "https://a.example/?" + "&" * MB,
        "https://a.example/?" + "utm_a=b&" * (MB // 8),
        "https://a.example/p?utm_q=" + "a@" * (MB // 2),
        "https://a.example/" + "a@" * (MB // 2),
        "https://a.example/p#" + "a" * MB,
        "https://" + "a" * MB,
        "https://" + "u:p@" * (MB // 4) + "a.example/",
    ],
    ids=["long-value", "ampersands", "many-utm", "at-value", "at-path", "fragment", "host", "userinfo"],
)
def test_a_megabyte_url_is_scrubbed_in_well_under_a_tenth_of_a_second(url):
    # GIVEN a hostile 1 MB URL / WHEN scrubbed / THEN well under the bound
    assert _timed(pii.scrub_url, url) < BOUND_S


# ---- docs/privacy.md lists the rules as the code has them ------------------------------------------

PRIVACY = ROOT / "docs" / "privacy.md"


def _listed(text: str, opening: str) -> set[str]:
    """The words of the backticked list that follows `opening` in docs/privacy.md."""
    start = text.index(opening) + len(opening)
    quoted = text[text.index("`", start) + 1 :]
    return set(quoted[: quoted.index("`")].split())


@pytest.mark.parametrize(
    ("opening", "words"),
    [
        ("**a word is personal**:", pii.PERSONAL_WORDS),
        ("**a stem is inside its letters run together**", set(pii.PERSONAL_STEMS)),
        ("Qualifiers:", pii.PERSON_QUALIFIERS),
        ("identifiers and places:", pii.QUALIFIED_WORDS),
        ("**the whole key is a place**:", pii.PLACE_KEYS),
        ("(or its own prefix, `productname`) is one of", pii.NAME_THINGS),
        ("Under the id and amount keys", pii.DIGIT_VALUE_KEYS),
    ],
)
def test_the_privacy_doc_lists_exactly_the_words_the_code_uses(opening, words):
    # GIVEN docs/privacy.md / WHEN the list after `opening` is read / THEN it is the code's list
    assert _listed(PRIVACY.read_text(encoding="utf-8"), opening) == set(words)


def test_the_privacy_doc_names_every_click_id_and_the_limits():
    # GIVEN docs/privacy.md / WHEN read / THEN every kept click id is named, and the limits are the code's
    text = PRIVACY.read_text(encoding="utf-8")
    lowered = text.lower()
    assert all(f"`{name}`" in lowered for name in pii.CLICK_ID_PARAMETERS)
    assert f"`{pii.CAMPAIGN_PREFIX}*`" in text
    assert f"more than {pii.MAX_CHECKED_LENGTH:,} characters" in text
    assert f"longer than {pii.MAX_CHECKED_KEY_LENGTH} characters" in text
    assert f"after the first {pii.MAX_READ_PARAMETERS}" in text
    assert f"more than {pii.MAX_HOST_LENGTH}" in text


def test_a_phone_sent_as_a_json_number_is_personal_except_under_id_and_amount_keys():
    # GIVEN whole numbers of phone length under a harmless key, an id key and an amount key, and a short one
    # WHEN checked / THEN only the harmless key's phone-length number is personal
    assert pii.is_personal("callback", 12125550100)
    assert not pii.is_personal("order_id", 12125550100)
    assert not pii.is_personal("total", 12125550100)
    assert not pii.is_personal("callback", 212555)


def test_a_campaign_tag_personal_by_any_shape_is_dropped_and_the_click_id_kept():
    # GIVEN a URL whose utm_content is a phone, utm_term an IP, and a harmless source and click id
    url = "https://a.example/p?utm_content=%2B12125550100&utm_term=10.0.0.1&utm_source=fb&fbclid=IwAR1234567"
    # WHEN scrubbed / THEN the personal campaign tags go, the rest is kept byte for byte
    assert pii.scrub_url(url) == "https://a.example/p?utm_source=fb&fbclid=IwAR1234567"
