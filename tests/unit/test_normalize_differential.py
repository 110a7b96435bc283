"""Differential test: relay.normalize vs Meta's facebook-business SDK (26.0.3) ``Normalize``.

Every row records Relay's normalised value and the SDK's ``normalize_field_skip_hashing`` result. A row
where the SDK raises (TypeError/ValueError) counts as "rejected", the same outcome as Relay returning None.
Rows must agree unless listed in DELIBERATE_DIFFERENCES with a reason; the set of differing rows must be
exactly that list, so a new unlisted difference fails, and so does a listed difference that starts agreeing.
"""

from __future__ import annotations

import datetime
from typing import NamedTuple

import pytest
from facebook_business.adobjects.serverside.normalize import Normalize

from relay.normalize import normalize_field

TODAY = datetime.date(2026, 11, 26)
NFC_VALERY = "Val\u00e9ry"
NFD_VALERY = "Vale\u0301ry"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


class Row(NamedTuple):
    field: str  # SDK field name (same as Relay's key)
    value: str
    expected: str | None  # Relay's normalised value
    region: str | None = None  # Relay phone region; None when the input carries a country code
    country: str | None = None  # Relay user country (st, zp)


ROWS: list[Row] = [
    Row("em", "John_Smith@gmail.com", "john_smith@gmail.com"),
    Row("em", "  Foo@Example.COM ", "foo@example.com"),
    Row("em", "no-at-sign", None),
    Row("em", "user@localhost", None),
    Row("em", "a b@example.com", None),
    Row("em", "a@b..com", None),
    Row("em", MD5, None),
    Row("ph", "+1 (650) 555-1212", "16505551212"),
    Row("ph", "(650)555-1212", "16505551212", region="US"),
    Row("ph", "0044 7700 900123", "447700900123"),
    Row("ph", "+44 (0)20 7946 0958", "442079460958"),
    Row("ph", "+1 650-555-1212 ext. 99", "16505551212"),
    Row("ph", "+1.650.555.1212", "16505551212"),
    Row("ph", "＋１ ６５０ ５５５ １２１２", "16505551212"),
    Row("ph", "+001 (616) 954-78 88", "16169547888"),
    Row("ph", "+011 44 20 7946 0958", "442079460958"),
    Row("ph", "+0011 61 2 9876 5432", "61298765432"),
    Row("ph", "abc", None),
    Row("ph", "12345", None),
    Row("fn", "Mary", "mary"),
    Row("fn", "정", "정"),
    Row("fn", NFC_VALERY, "valéry"),
    Row("fn", NFD_VALERY, "valéry"),
    Row("fn", "Mary-Jane", "maryjane"),
    Row("fn", "Jean Luc", "jeanluc"),
    Row("fn", "  JOHN ", "john"),
    Row("ln", "Smith", "smith"),
    Row("ln", "O'Neil", "oneil"),
    Row("ct", "Paris", "paris"),
    Row("ct", "New York", "newyork"),
    Row("ct", "London 2", "london"),
    Row("ct", "São Paulo", "sãopaulo"),
    Row("ct", "St. Louis", "stlouis"),
    Row("ct", "Val-d'Or", "valdor"),
    Row("st", "AZ", "az", country="us"),
    Row("st", "ca", "ca", country="us"),
    Row("st", "California", "ca", country="us"),
    Row("st", "New York", "ny", country="us"),
    Row("st", "Québec", "qc", country="ca"),
    Row("st", "Calif.", "ca", country="us"),
    Row("st", "Ont.", "on", country="ca"),
    Row("st", "Bayern", "bayern", country="de"),
    Row("st", "Baden-Württemberg", "badenwürttemberg", country="de"),
    Row("zp", "94035", "94035", country="us"),
    Row("zp", "94035-1234", "94035", country="us"),
    Row("zp", "940351234", "94035", country="us"),
    Row("zp", "M1 1AE", "m11ae", country="gb"),
    Row("zp", "75018", "75018", country="fr"),
    Row("zp", "1987", "1987", country="au"),
    Row("zp", "00-950", "00950", country="pl"),
    Row("country", "US", "us"),
    Row("country", "us", "us"),
    Row("country", "U.S.", "us"),
    Row("country", "United States", "us"),
    Row("country", "USA", "us"),
    Row("country", "Deutschland", "de"),
    Row("country", "XX", None),
    Row("country", "Democratic Republic of the Congo", "cd"),
    Row("country", "Micronesia", "fm"),
    Row("country", "Virgin Islands", None),
    Row("db", "19970216", "19970216"),
    Row("db", "2/16/1997", "19970216"),
    Row("db", "1997-02-16", "19970216"),
    Row("db", "Feb 16, 1997", "19970216"),
    Row("ge", "m", "m"),
    Row("ge", "F ", "f"),
    Row("ge", "Male", "m"),
    Row("ge", "x", None),
    Row("ge", "Mr", "m"),
    Row("ge", "she", "f"),
    Row("external_id", "ABC-123", "abc-123"),
    Row("external_id", "  User 42 ", "user42"),
    Row("external_id", MD5.upper(), MD5),
]

DELIBERATE_DIFFERENCES: dict[tuple[str, str], str] = {
    ("em", "a b@example.com"): "SDK only checks .+@.+\\..+ so accepts white space inside an address",
    ("em", "a@b..com"): "SDK accepts an empty domain label; Relay requires non-empty labels",
    ("em", MD5): "SDK passes 32-hex (MD5-looking) values through as hashed; Relay normalises them (no '@')",
    ("ph", "(650)555-1212"): "SDK does not add the country code; the doc example is 16505551212",
    ("ph", "+44 (0)20 7946 0958"): "SDK keeps the trunk (0) after the country code; E.164 drops it",
    ("ph", "+1 650-555-1212 ext. 99"): "SDK raises on extensions; Relay drops the extension",
    ("ph", "+1.650.555.1212"): "SDK raises on dots; Relay ignores punctuation",
    ("ph", "＋１ ６５０ ５５５ １２１２"): "SDK raises on full-width '+'/digits; Relay applies NFKC",
    ("ph", "+011 44 20 7946 0958"): "SDK strips only 0-2 zeros, keeping the 11 of a +011 exit prefix",
    ("ph", "+0011 61 2 9876 5432"): "SDK strips only 0-2 zeros, keeping the 11 of a +0011 exit prefix",
    ("fn", NFD_VALERY): "SDK skips NFC, so decomposed input hashes differently from the doc's valéry",
    ("fn", "Mary-Jane"): "SDK keeps punctuation in names; docs say no punctuation",
    ("fn", "Jean Luc"): (
        "SDK keeps inner spaces in names; docs say no punctuation, "
        "Relay removes white space like Meta's param builder"
    ),
    ("ln", "O'Neil"): "SDK keeps punctuation in names; docs say no punctuation",
    ("ct", "Val-d'Or"): "SDK keeps apostrophes in cities; docs say no punctuation",
    ("st", "California"): "SDK does not map US state names to the 2-letter code the docs require",
    ("st", "New York"): "SDK does not map US state names to the 2-letter code the docs require",
    ("st", "Québec"): "SDK does not map Canadian province names to codes",
    ("st", "Calif."): "SDK does not map AP-style state abbreviations to codes",
    ("st", "Ont."): "SDK does not map Canadian Press province abbreviations to codes",
    ("zp", "940351234"): "SDK does not cut a dashless US ZIP+4 to the first 5 digits",
    ("zp", "00-950"): "SDK cuts at the first dash for every country; docs say remove dashes",
    ("country", "United States"): "SDK cannot map 'United States' to 'us' — contradicts the doc example",
    ("country", "USA"): "SDK accepts only alpha-2 codes; Relay maps alpha-3 codes",
    ("country", "Deutschland"): "SDK accepts only alpha-2 codes; Relay maps names and common aliases",
    (
        "country",
        "Democratic Republic of the Congo",
    ): "SDK accepts only alpha-2; Relay reads pycountry's inverted names",
    (
        "country",
        "Micronesia",
    ): "SDK accepts only alpha-2; Relay maps the unambiguous head of an inverted name",
    ("db", "2/16/1997"): "SDK does not parse dates; the doc example is 19970216",
    ("db", "1997-02-16"): "SDK does not parse dates",
    ("db", "Feb 16, 1997"): "SDK does not parse dates",
    ("ge", "Male"): "SDK Normalize passes full words through; docs want the single initial",
    ("ge", "x"): "SDK Normalize passes any value through; Relay drops values that are not m/f",
    ("ge", "Mr"): "SDK passes words through; Relay maps the parameter builder's synonyms to m/f",
    ("ge", "she"): "SDK passes words through; Relay maps the parameter builder's synonyms to m/f",
    ("external_id", "  User 42 "): "SDK keeps inner white space; Relay removes it like Meta's param builder",
}


def _relay(row: Row) -> str | None:
    return normalize_field(row.field, row.value, country=row.country, region=row.region, today=TODAY)


def _sdk(row: Row) -> tuple[str | None, str]:
    """SDK outcome as (value, description); a raise counts as the rejected value None."""
    try:
        result: str | None = Normalize.normalize_field_skip_hashing(row.field, row.value)
    except (TypeError, ValueError) as exc:
        return None, f"raises {type(exc).__name__}"
    return result, repr(result)


def _row_id(row: Row) -> str:
    return f"{row.field}:{row.value!a}"


def test_table_is_well_formed():
    # GIVEN the row table and the list of deliberate differences
    keys = [(row.field, row.value) for row in ROWS]
    # WHEN / THEN rows are unique, ~40+ across all 11 fields, and every reason is a single non-empty line
    assert len(keys) == len(set(keys))
    assert len(ROWS) >= 40
    assert {row.field for row in ROWS} == {
        "em",
        "ph",
        "fn",
        "ln",
        "ct",
        "st",
        "zp",
        "country",
        "db",
        "ge",
        "external_id",
    }
    assert all(reason.strip() and "\n" not in reason for reason in DELIBERATE_DIFFERENCES.values())


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_row_matches_relay_expectation_and_sdk_unless_deliberate(row):
    # GIVEN a row: input, Relay's expected value, and whether a difference from the SDK is deliberate
    deliberate = (row.field, row.value) in DELIBERATE_DIFFERENCES
    # WHEN both normalisers run
    relay = _relay(row)
    sdk, sdk_description = _sdk(row)
    # THEN Relay gives its expected value, and agrees with the SDK exactly when no difference is listed
    assert relay == row.expected
    if deliberate:
        assert relay != sdk, f"listed difference now agrees (SDK {sdk_description}); remove it from the list"
    else:
        assert relay == sdk, f"unlisted difference: Relay {relay!r}, SDK {sdk_description}"


def test_exactly_the_listed_rows_differ():
    # GIVEN the full table
    # WHEN every row is compared
    differing = {(row.field, row.value) for row in ROWS if _relay(row) != _sdk(row)[0]}
    # THEN the differing rows are exactly the deliberate differences (none missing, none stale)
    assert differing == set(DELIBERATE_DIFFERENCES)
