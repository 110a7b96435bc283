"""Exact-value tests for relay.normalize (DESIGN §6, reference §3 and §10.1)."""

from __future__ import annotations

import datetime
import unicodedata

import pytest

from relay.normalize import (
    _GENDERS,
    HASHED_KEYS,
    hash_field,
    is_hashed,
    normalize_birthday,
    normalize_city,
    normalize_country,
    normalize_email,
    normalize_external_id,
    normalize_field,
    normalize_gender,
    normalize_name,
    normalize_phone,
    normalize_state,
    normalize_zip,
    sha256_hex,
)

TODAY = datetime.date(2026, 11, 26)
SHA_UPPER = "62A14E44F765419D10FEA99367361A727C12365E2520F32218D505ED9AA0F62F"
MD5 = "D41D8CD98F00B204E9800998ECF8427E"


def test_hashed_keys_are_the_eleven_user_data_keys():
    # GIVEN the keys Meta wants hashed (reference §3)
    expected = {"em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id"}
    # WHEN / THEN the module exposes exactly those
    assert expected == HASHED_KEYS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("us", "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"),
    ],
)
def test_sha256_hex_is_lowercase_hex_of_utf8(value, expected):
    # GIVEN a string / WHEN hashed / THEN the digest is the known lower-case hex SHA-256
    assert sha256_hex(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (SHA_UPPER, True),
        (SHA_UPPER.lower(), True),
        (f"  {SHA_UPPER}\n", True),
        (MD5, False),
        (SHA_UPPER[:-1], False),
        (SHA_UPPER + "0", False),
        (SHA_UPPER[:-1] + "g", False),
        ("x" + SHA_UPPER, False),
        ("", False),
    ],
)
def test_is_hashed_is_an_anchored_64_hex_match(value, expected):
    # GIVEN a candidate value / WHEN checked / THEN only exactly 64 hex chars (after strip) count as hashed
    assert is_hashed(value) is expected


# --- Meta's doc examples (reference §10.1) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "kwargs", "expected"),
    [
        (
            "em",
            "John_Smith@gmail.com",
            {},
            "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
        ),
        (
            "ph",
            "(650)555-1212",
            {"region": "US"},
            "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176",
        ),
        ("fn", "Mary", {}, "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"),
        ("fn", "정", {}, "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"),
        ("fn", "Valéry", {}, "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
        ("fn", "Vale\u0301ry", {}, "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
        ("db", "2/16/1997", {}, "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c"),
        ("country", "United States", {}, "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"),
    ],
)
def test_doc_example_hashes(key, value, kwargs, expected):
    # GIVEN a raw doc example
    # WHEN it is normalised and hashed
    result = hash_field(key, value, today=TODAY, **kwargs)
    # THEN the hash is exactly the one in Meta's docs
    assert result == expected


def test_nfd_and_nfc_names_hash_identically():
    # GIVEN the same name in NFC and NFD form
    nfc = unicodedata.normalize("NFC", "Valéry")
    nfd = unicodedata.normalize("NFD", "Valéry")
    assert nfc != nfd
    # WHEN both are hashed
    hashes = {hash_field("fn", nfc, today=TODAY), hash_field("fn", nfd, today=TODAY)}
    # THEN they give the single doc hash
    assert hashes == {"08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"}


@pytest.mark.parametrize(
    ("key", "value", "country", "expected"),
    [
        ("ge", "f", None, "f"),
        ("ge", "m", None, "m"),
        ("ct", "paris", None, "paris"),
        ("ct", "london", None, "london"),
        ("ct", "New York", None, "newyork"),
        ("st", "az", "us", "az"),
        ("st", "ca", "us", "ca"),
        ("zp", "94035", "us", "94035"),
        ("zp", "1987", "au", "1987"),
        ("zp", "75018", "fr", "75018"),
        ("zp", "M1 1AE", "gb", "m11ae"),
        ("em", "John_Smith@gmail.com", None, "john_smith@gmail.com"),
        ("ph", "(650)555-1212", "us", "16505551212"),
        ("db", "2/16/1997", None, "19970216"),
        ("country", "United States", None, "us"),
    ],
)
def test_unhashed_doc_examples(key, value, country, expected):
    # GIVEN a doc example / WHEN normalised without hashing / THEN it matches the doc's normalised form
    assert normalize_field(key, value, country=country, today=TODAY) == expected


# --- per-field rules -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("John_Smith@gmail.com", "john_smith@gmail.com"),
        ("  Foo.Bar+tag@Example.CO.UK \n", "foo.bar+tag@example.co.uk"),
        ("j.o.h.n@gmail.com", "j.o.h.n@gmail.com"),
        ("ÉLODIE@exemple.fr", "élodie@exemple.fr"),
        ("a b@example.com", None),
        ("ab@exa mple.com", None),
        ("no-at-sign.com", None),
        ("a@@example.com", None),
        ("a@b@example.com", None),
        ("@example.com", None),
        ("user@localhost", None),
        ("user@example.", None),
        ("user@.example.com", None),
        ("user@example..com", None),
        ("", None),
        ("   ", None),
    ],
)
def test_normalize_email(value, expected):
    # GIVEN an email / WHEN normalised / THEN trimmed + lower-cased, or None when not local@domain.tld
    assert normalize_email(value) == expected


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("(650)555-1212", "US", "16505551212"),
        ("(650)555-1212", "us", "16505551212"),
        ("650.555.1212", "US", "16505551212"),
        ("+1 650-555-1212", None, "16505551212"),
        ("16505551212", None, "16505551212"),
        ("16505551212", "US", "16505551212"),
        ("+44 7700 900123", None, "447700900123"),
        ("0044 7700 900123", None, "447700900123"),
        ("07700 900123", "GB", "447700900123"),
        ("447700900123", "GB", "447700900123"),
        ("+44 (0)20 7946 0958", None, "442079460958"),
        ("+44 (0) 20 7946 0958", "GB", "442079460958"),
        ("+1 650-555-1212 ext. 99", None, "16505551212"),
        ("+1 650-555-1212 x99", None, "16505551212"),
        ("tel:+1-650-555-1212", None, "16505551212"),
        ("+39 06 1234 5678", None, "390612345678"),
        ("０７７００ ９００１２３", "GB", "447700900123"),
        ("＋１ ６５０ ５５５ １２１２", None, "16505551212"),
        ("abc", None, None),
        ("abc", "US", None),
        ("12", "US", None),
        ("", "US", None),
        ("+1 650", None, None),
        ("+1 650 555 1212", "ZZ", "16505551212"),
        ("+1 650 555 1212", "GB", "16505551212"),
    ],
)
def test_normalize_phone(value, region, expected):
    # GIVEN a phone and the user's region
    # WHEN normalised
    result = normalize_phone(value, region)
    # THEN E.164 digits without "+" (country code added from the region), or None
    assert result == expected


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("+001 (616) 954-78 88", None, "16169547888"),
        ("+001 (616) 954-78 88", "US", "16169547888"),
        ("+00 44 7700 900123", None, "447700900123"),
        ("+ 00 1 650 555 1212", None, "16505551212"),
        ("+0044 20 7946 0958", None, "442079460958"),
        ("+011 44 20 7946 0958", None, "442079460958"),
        ("+011 44 20 7946 0958", "US", "442079460958"),
        ("+0011 61 2 9876 5432", None, "61298765432"),
        ("+0011 1 650 555 1212", "AU", "16505551212"),
        ("+00 44 (0)20 7946 0958", None, "442079460958"),  # exit prefix, then the trunk "(0)"
        ("00 00 44 20 7946 0958", None, "442079460958"),
        # the user's region reads its own exit prefix first (Hong Kong dials 001, Japan 010)
        ("+001 44 20 7946 0958", "HK", "442079460958"),
        ("+010 81 3 1234 5678", "JP", "81312345678"),
        # outside the set {00, 011, 0011}, or nothing sensible after it: dropped
        ("+001 44 20 7946 0958", None, None),
        ("+010 81 3 1234 5678", None, None),
        ("+0 44 20 7946 0958", None, None),
        ("+01 650 555 1212", None, None),
        ("+00011 44 20 7946 0958", None, None),
        ("+00", None, None),
    ],
)
def test_normalize_phone_removes_an_international_prefix_after_the_plus(value, region, expected):
    # GIVEN a number with an exit prefix typed after "+" (or none), and the user's region
    # WHEN normalised
    result = normalize_phone(value, region)
    # THEN "+00", "+011" and "+0011" are removed like a leading 00 when the plain reading finds nothing
    assert result == expected


def test_normalize_phone_without_region_needs_a_valid_international_reading():
    # GIVEN a US national number but no region (the caller knows neither the user's nor a default country)
    # WHEN normalised
    result = normalize_phone("(650)555-1212")
    # THEN it is dropped: "+65 0555 1212" is not a valid Singapore number, and guessing would mis-hash
    assert result is None
    # ... while digits that do start with a country code are still read as international
    assert normalize_phone("447911123456") == "447911123456"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mary", "mary"),
        ("정", "정"),
        ("Valéry", "valéry"),
        ("Vale\u0301ry", "valéry"),
        ("Mary-Jane O'Neil", "maryjaneoneil"),
        ("Jean Luc", "jeanluc"),
        ("  JOHN\t", "john"),
        ("Müller-Lüdenscheidt", "müllerlüdenscheidt"),
        ("Ólafur Þór", "ólafurþór"),
        ("Δημήτρης", "δημήτρης"),
        ("John 3rd", "john3rd"),
        ("Smith, Jr.", "smithjr"),
        ("🙂", None),
        ("--", None),
        ("", None),
    ],
)
def test_normalize_name(value, expected):
    # GIVEN a first/last name / WHEN normalised / THEN lower-case letters, marks and digits only (NFC)
    assert normalize_name(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Paris", "paris"),
        ("New York", "newyork"),
        ("São Paulo", "sãopaulo"),
        ("London 2", "london"),
        ("St. Louis", "stlouis"),
        ("Winston-Salem", "winstonsalem"),
        ("Val-d'Or", "valdor"),
        ("Köln", "köln"),
        ("東京", "東京"),
        ("123", None),
        ("", None),
    ],
)
def test_normalize_city(value, expected):
    # GIVEN a city / WHEN normalised / THEN lower-case letters and marks only
    assert normalize_city(value) == expected


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("az", "us", "az"),
        ("AZ", None, "az"),
        ("ca", "us", "ca"),
        ("California", "us", "ca"),
        ("new york", None, "ny"),
        ("NEW YORK", "us", "ny"),
        ("District of Columbia", "us", "dc"),
        ("Puerto Rico", None, "pr"),
        ("N.Y.", "us", "ny"),
        ("Québec", "ca", "qc"),
        ("quebec", None, "qc"),
        ("QUEBEC", "ca", "qc"),
        ("Newfoundland and Labrador", "CA", "nl"),
        ("Yukon", None, "yt"),
        ("ON", "ca", "on"),
        ("New York", "ca", "newyork"),
        ("Guam", "us", "guam"),
        ("Bayern", "de", "bayern"),
        ("Baden-Württemberg", "de", "badenwürttemberg"),
        ("Île-de-France", "fr", "îledefrance"),
        ("CA", "de", "ca"),
        ("California", "mx", "california"),
        ("Bayern", None, "bayern"),
        ("", "us", None),
        ("--", None, None),
    ],
)
def test_normalize_state(value, country, expected):
    # GIVEN a state/province and the user's country
    # WHEN normalised
    result = normalize_state(value, country)
    # THEN US/CA names map to the 2-letter code; anything else is the full name, letters only
    assert result == expected


AP_STATES = {
    "Ala.": "al", "Ariz.": "az", "Ark.": "ar", "Calif.": "ca", "Colo.": "co", "Conn.": "ct", "Del.": "de",
    "D.C.": "dc", "Fla.": "fl", "Ga.": "ga", "Ill.": "il", "Ind.": "in", "Kan.": "ks", "Ky.": "ky", "La.": "la",
    "Md.": "md", "Mass.": "ma", "Mich.": "mi", "Minn.": "mn", "Miss.": "ms", "Mo.": "mo", "Mont.": "mt",
    "Neb.": "ne", "Nev.": "nv", "N.H.": "nh", "N.J.": "nj", "N.M.": "nm", "N.Y.": "ny", "N.C.": "nc",
    "N.D.": "nd", "Okla.": "ok", "Ore.": "or", "Pa.": "pa", "R.I.": "ri", "S.C.": "sc", "S.D.": "sd",
    "Tenn.": "tn", "Vt.": "vt", "Va.": "va", "Wash.": "wa", "W.Va.": "wv", "Wis.": "wi", "Wyo.": "wy",
}  # fmt: skip
OTHER_US_ABBREVIATIONS = {
    "Alas.": "ak", "Cal.": "ca", "Ida.": "id", "Kans.": "ks", "Nebr.": "ne", "N. Dak.": "nd", "S. Dak.": "sd",
    "Oreg.": "or", "Penn.": "pa", "Penna.": "pa", "Tex.": "tx", "Wisc.": "wi", "W. Va.": "wv", "P.R.": "pr",
}  # fmt: skip
CANADIAN_PRESS = {
    "Alta.": "ab", "B.C.": "bc", "Man.": "mb", "N.B.": "nb", "N.L.": "nl", "Nfld.": "nl", "Nfld. and Lab.": "nl",
    "N.S.": "ns", "N.W.T.": "nt", "Ont.": "on", "P.E.I.": "pe", "Que.": "qc", "Qué.": "qc", "Sask.": "sk",
    "Y.T.": "yt", "P.Q.": "qc", "Yuk.": "yt", "Nvt.": "nu", "Newfoundland": "nl",
}  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), [*AP_STATES.items(), *OTHER_US_ABBREVIATIONS.items()])
def test_us_state_abbreviations_map_to_the_code(value, expected):
    # GIVEN an AP-style (or other common) US state abbreviation
    # WHEN normalised with country us, with no country, and upper-cased without dots
    # THEN it is the 2-letter code each time
    assert normalize_state(value, "us") == expected
    assert normalize_state(value, None) == expected
    assert normalize_state(value.replace(".", "").upper(), "US") == expected


@pytest.mark.parametrize(("value", "expected"), CANADIAN_PRESS.items())
def test_canadian_province_abbreviations_map_to_the_code(value, expected):
    # GIVEN a Canadian Press (or other common) province / territory abbreviation
    # WHEN normalised with country ca and with no country
    # THEN it is the 2-letter code
    assert normalize_state(value, "ca") == expected
    assert normalize_state(value, None) == expected


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("Calif.", "ca", "calif"),  # a US abbreviation is not a Canadian province
        ("Ont.", "us", "ont"),
        ("Fla.", "de", "fla"),  # other countries: the full name rule, letters only
        ("Mass", "us", "ma"),
        ("  wisc. ", "us", "wi"),
    ],
)
def test_state_abbreviations_only_apply_in_their_country(value, country, expected):
    # GIVEN an abbreviation and a user country
    # WHEN normalised
    # THEN it maps only for its own country (or no country)
    assert normalize_state(value, country) == expected


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("94035", "us", "94035"),
        ("94035-1234", "us", "94035"),
        ("940351234", "us", "94035"),
        ("94035 1234", "us", "94035"),
        ("94035-1234", None, "94035"),
        ("940351234", None, "940351234"),
        ("02134", "us", "02134"),
        ("M1 1AE", "gb", "m11ae"),
        ("SW1A 1AA", None, "sw1a1aa"),
        ("75018", "fr", "75018"),
        ("1987", "au", "1987"),
        ("00-950", "pl", "00950"),
        ("100-0001", "jp", "1000001"),
        ("K1A 0B1", "ca", "k1a0b1"),
        ("９４０３５", "us", "94035"),
        ("  ", None, None),
        ("", "us", None),
    ],
)
def test_normalize_zip(value, country, expected):
    # GIVEN a postal code and the user's country
    # WHEN normalised
    result = normalize_zip(value, country)
    # THEN lower-case without spaces or dashes; US codes cut to 5 digits
    assert result == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("US", "us"),
        ("us", "us"),
        ("USA", "us"),
        ("U.S.A.", "us"),
        ("U.S.", "us"),
        ("United States", "us"),
        ("united states of america", "us"),
        ("America", "us"),
        ("GB", "gb"),
        ("GBR", "gb"),
        ("United Kingdom", "gb"),
        ("UK", "gb"),
        ("Great Britain", "gb"),
        ("Britain", "gb"),
        ("England", "gb"),
        ("Scotland", "gb"),
        ("Wales", "gb"),
        ("Northern Ireland", "gb"),
        ("Germany", "de"),
        ("Deutschland", "de"),
        ("Holland", "nl"),
        ("Netherlands", "nl"),
        ("Russia", "ru"),
        ("Russian Federation", "ru"),
        ("South Korea", "kr"),
        ("Korea", "kr"),
        ("North Korea", "kp"),
        ("Vietnam", "vn"),
        ("Viet Nam", "vn"),
        ("Ivory Coast", "ci"),
        ("Côte d'Ivoire", "ci"),
        ("COTE D'IVOIRE", "ci"),
        ("Czech Republic", "cz"),
        ("Czechia", "cz"),
        ("Turkey", "tr"),
        ("Türkiye", "tr"),
        ("España", "es"),
        ("Italia", "it"),
        ("Schweiz", "ch"),
        ("Suisse", "ch"),
        ("Österreich", "at"),
        ("Brasil", "br"),
        ("México", "mx"),
        ("UAE", "ae"),
        ("Macedonia", "mk"),
        ("Swaziland", "sz"),
        ("Burma", "mm"),
        ("Laos", "la"),
        ("Iran", "ir"),
        ("Syria", "sy"),
        ("Bolivia", "bo"),
        ("Venezuela", "ve"),
        ("Tanzania", "tz"),
        ("Moldova", "md"),
        ("Taiwan", "tw"),
        ("Palestine", "ps"),
        ("Vatican", "va"),
        ("  fr ", "fr"),
        ("ＪＰ", "jp"),
        ("XX", None),
        ("Atlantis", None),
        ("", None),
        ("...", None),
    ],
)
def test_normalize_country(value, expected):
    # GIVEN a country code, name or alias / WHEN normalised / THEN ISO 3166-1 alpha-2 lower-case or None
    assert normalize_country(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # inverted pycountry names, read naturally
        ("Democratic Republic of the Congo", "cd"),
        ("The Democratic Republic of the Congo", "cd"),
        ("Congo, The Democratic Republic of the", "cd"),
        ("Micronesia", "fm"),
        ("Federated States of Micronesia", "fm"),
        ("Republic of Korea", "kr"),
        ("Korea, Republic of", "kr"),
        ("South Korea", "kr"),
        ("Democratic People's Republic of Korea", "kp"),
        ("Islamic Republic of Iran", "ir"),
        ("Republic of Moldova", "md"),
        ("United Republic of Tanzania", "tz"),
        ("Plurinational State of Bolivia", "bo"),
        ("Bolivarian Republic of Venezuela", "ve"),
        ("State of Palestine", "ps"),
        ("British Virgin Islands", "vg"),
        ("U.S. Virgin Islands", "vi"),
        ("Virgin Islands of the United States", "vi"),
        ("Bonaire", "bq"),
        ("Saint Helena", "sh"),
        # names without their parenthesis
        ("Holy See", "va"),
        ("Falkland Islands", "fk"),
        ("Cocos Islands", "cc"),
        ("Saint Martin", "mf"),
        ("Sint Maarten", "sx"),
        # ISO 3166-3 historic names with one current successor
        ("Zaire", "cd"),
        ("Republic of Zaire", "cd"),
        ("East Timor", "tl"),
        ("Dahomey", "bj"),
        ("Upper Volta", "bf"),
        ("Southern Rhodesia", "zw"),
        ("New Hebrides", "vu"),
        ("German Democratic Republic", "de"),
        ("Metropolitan France", "fr"),
        ("Byelorussian SSR Soviet Socialist Republic", "by"),
        ("People's Democratic Republic of Yemen", "ye"),
        ("Socialist Republic of the Union of Burma", "mm"),
        # a leading "The"
        ("The Netherlands", "nl"),
        ("the Bahamas", "bs"),
        ("THE GAMBIA", "gm"),
        ("The", None),
    ],
)
def test_normalize_country_knows_every_pycountry_name(value, expected):
    # GIVEN a name pycountry knows in some form (inverted, with a parenthesis, historic)
    # WHEN normalised
    # THEN it is the alpha-2 code of the one country it names
    assert normalize_country(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "Virgin Islands",  # British (vg) or U.S. (vi)
        "USSR",  # divided: no single successor
        "Union of Soviet Socialist Republics",
        "Czechoslovakia",
        "Yugoslavia",
        "Serbia and Montenegro",
        "Netherlands Antilles",
        "Gilbert and Ellice Islands",
        "Neutral Zone",
        "French part",
    ],
)
def test_ambiguous_country_names_map_to_nothing(value):
    # GIVEN a name that could be more than one current country
    # WHEN normalised
    # THEN it maps to nothing rather than to a wrong country
    assert normalize_country(value) is None


def test_congo_and_korea_keep_their_existing_readings():
    # GIVEN the two short names that are also the head of another country's inverted name
    # WHEN normalised
    # THEN pycountry's own name (Congo = cg) and Relay's alias (Korea = kr) win over the derived reading
    assert (normalize_country("Congo"), normalize_country("Korea")) == ("cg", "kr")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1997-02-16", "19970216"),
        ("1997-2-16", "19970216"),
        ("1997-02-16T00:00:00.000Z", "19970216"),
        ("1997-02-16T23:59:59+02:00", "19970216"),
        ("1997-02-16 08:30", "19970216"),
        ("1997/02/16", "19970216"),
        ("1997.02.16", "19970216"),
        ("2/16/1997", "19970216"),
        ("02-16-1997", "19970216"),
        ("16.02.1997", "19970216"),
        ("16/02/1997", "19970216"),
        ("02/03/1997", "19970203"),
        ("19970216", "19970216"),
        ("02161997", "19970216"),
        ("16021997", "19970216"),
        ("Feb 16, 1997", "19970216"),
        ("FEB 16 1997", "19970216"),
        ("feb. 16, 1997", "19970216"),
        ("16 February 1997", "19970216"),
        ("16-Feb-1997", "19970216"),
        ("February 16 1997", "19970216"),
        ("February 16th, 1997", "19970216"),
        ("Sept 3, 1990", "19900903"),
        ("1997 Feb 16", "19970216"),
        ("2/16/97", "19970216"),
        ("2/16/26", "20260216"),
        ("2/16/27", "19270216"),
        ("１９９７-０２-１６", "19970216"),
        ("  1997-02-16  ", "19970216"),
        ("1900-01-01", "19000101"),
        ("2026-11-26", "20261126"),
        ("2026-11-27", None),
        ("1899-12-31", None),
        ("2027-01-01", None),
        ("1997-02-30", None),
        ("2/30/1997", None),
        ("13/13/1997", None),
        ("1997-13-01", None),
        ("Foo 16 1997", None),
        ("16/02", None),
        ("1997", None),
        ("99999999", None),
        ("not a date", None),
        ("", None),
    ],
)
def test_normalize_birthday(value, expected):
    # GIVEN a date of birth in some common form, and today = 2026-11-26
    # WHEN normalised
    result = normalize_birthday(value, TODAY)
    # THEN YYYYMMDD for a real date within 1900..today, else None
    assert result == expected


def test_normalize_birthday_accepts_a_datetime_as_today():
    # GIVEN "today" passed as a datetime (a date subclass)
    today = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)
    # WHEN a date is normalised / THEN comparison works as with a date
    assert normalize_birthday("2026-11-26", today) == "20261126"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("m", "m"),
        ("M", "m"),
        ("male", "m"),
        (" Male ", "m"),
        ("MAN", "m"),
        ("f", "f"),
        ("F", "f"),
        ("female", "f"),
        ("Woman", "f"),
        ("x", None),
        ("unknown", None),
        ("", None),
        ("Mr", "m"),
        ("MRS", "f"),
        (" she ", "f"),
        ("He", "m"),
        ("Ma'am", "f"),
        ("Mr.", None),  # the parameter builder trims and lower-cases only
        ("non-binary", None),
    ],
)
def test_normalize_gender(value, expected):
    # GIVEN a gender value / WHEN normalised / THEN "m", "f" or None
    assert normalize_gender(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ABC-123", "abc-123"),
        ("  User 42 \t", "user42"),
        ("a\u00a0b", "ab"),
        (MD5, MD5.lower()),
        ("", None),
        (" \n ", None),
    ],
)
def test_normalize_external_id(value, expected):
    # GIVEN an external id / WHEN normalised / THEN trimmed, lower-cased, without white space
    assert normalize_external_id(value) == expected


# --- normalize_field / hash_field -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "kwargs", "expected"),
    [
        ("ph", 16505551212, {}, "16505551212"),
        ("ph", "(650)555-1212", {"country": "us"}, "16505551212"),
        ("ph", "(650)555-1212", {"country": "gb", "region": "US"}, "16505551212"),
        ("zp", 94035, {"country": "us"}, "94035"),
        ("zp", 94035.0, {}, "94035"),
        ("zp", 1987, {"country": "au"}, "1987"),
        ("db", 19970216, {}, "19970216"),
        ("external_id", 42, {}, "42"),
        ("external_id", 4.5, {}, "4.5"),
        ("st", "California", {"country": "us"}, "ca"),
        ("st", "Bayern", {"country": "de"}, "bayern"),
        ("zp", "940351234", {"country": "us"}, "94035"),
        ("ge", True, {}, None),
        ("external_id", False, {}, None),
        ("em", None, {}, None),
        ("external_id", ["a"], {}, None),
        ("external_id", b"abc", {}, None),
        ("external_id", float("nan"), {}, None),
        ("external_id", float("inf"), {}, None),
        pytest.param("external_id", 10**5000, {}, None, id="int-too-large-for-str"),
        ("client_ip_address", "1.2.3.4", {}, None),
        ("", "x", {}, None),
    ],
)
def test_normalize_field_coerces_numbers_and_rejects_other_types(key, value, kwargs, expected):
    # GIVEN a key and a value of some type
    # WHEN normalised through the generic entry point
    result = normalize_field(key, value, today=TODAY, **kwargs)
    # THEN numbers are coerced to str, other types and unknown keys give None
    assert result == expected


@pytest.mark.parametrize("key", sorted(HASHED_KEYS))
def test_hash_field_passes_sha256_through_lower_cased(key):
    # GIVEN an upper-case, padded 64-hex value (already hashed by the sender)
    value = f" {SHA_UPPER} "
    # WHEN hashed for any key
    result = hash_field(key, value, today=TODAY)
    # THEN it is not re-hashed, only stripped and lower-cased
    assert result == SHA_UPPER.lower()


def test_hash_field_hashes_md5_looking_values():
    # GIVEN a 32-hex (MD5-looking) external id
    # WHEN hashed
    result = hash_field("external_id", MD5, today=TODAY)
    # THEN it is normalised and hashed like any other value
    assert result == "f215faf9d88b7f0a881632ee22459ee452a296c808d261b6cc993d3a1fd0600e"


def test_hash_field_md5_looking_email_is_invalid():
    # GIVEN a 32-hex value sent as email / WHEN hashed / THEN it is not an address, so it is dropped
    assert hash_field("em", MD5, today=TODAY) is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("em", "not-an-email"),
        ("ph", "abc"),
        ("db", "2/30/1997"),
        ("country", "Atlantis"),
        ("ge", "x"),
        ("fn", "--"),
        ("external_id", "   "),
        ("external_id", "a\ud800b"),
        ("zp", None),
        ("unknown", "value"),
        ("client_ip_address", SHA_UPPER),
        ("fbp", "fb.1.1596403881668.1116446470"),
    ],
)
def test_hash_field_returns_none_for_invalid_values(key, value):
    # GIVEN an invalid (or not UTF-8 encodable) value, or a key that is never hashed
    # WHEN hashed / THEN nothing is returned (never-hashed keys are not this function's business)
    assert hash_field(key, value, today=TODAY) is None


def test_hash_field_hashes_the_normalised_value():
    # GIVEN a raw US state name and the user's country
    # WHEN hashed
    result = hash_field("st", "California", country="us", today=TODAY)
    # THEN the hash is of the 2-letter code
    assert result == "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"


# PB-node's MALE_SET / FEMALE_SET, in its order.
PB_MALE = (
    "man", "male", "boy", "gentleman", "guy", "sir", "mister", "mr", "son", "father", "dad", "daddy", "papa",
    "uncle", "nephew", "brother", "husband", "boyfriend", "groom", "widower", "king", "prince", "duke", "count",
    "emperor", "god", "lord", "lad", "fellow", "chap", "bloke", "dude", "he", "him", "his", "himself", "m",
)  # fmt: skip
PB_FEMALE = (
    "woman", "female", "girl", "lady", "miss", "ms", "mrs", "madam", "ma'am", "daughter", "mother", "mom", "mama",
    "mommy", "aunt", "niece", "sister", "wife", "girlfriend", "bride", "widow", "queen", "princess", "duchess",
    "countess", "empress", "goddess", "maiden", "lass", "gal", "chick", "dame", "belle", "she", "her", "hers",
    "herself", "f",
)  # fmt: skip


@pytest.mark.parametrize(
    ("value", "expected"), [*((w, "m") for w in PB_MALE), *((w, "f") for w in PB_FEMALE)]
)
def test_normalize_gender_accepts_the_parameter_builder_synonyms(value, expected):
    # GIVEN a word from PB-node's MALE_SET / FEMALE_SET (capi-param-builder 1.3.2, genderUtil.js)
    # WHEN normalised as given and upper-cased with padding
    # THEN it maps to m / f
    assert normalize_gender(value) == expected
    assert normalize_gender(f" {value.upper()} ") == expected


def test_gender_synonym_lists_are_exactly_the_parameter_builder_lists():
    # GIVEN the parameter builder's two lists (37 male, 38 female words)
    # WHEN compared with every word Relay maps
    # THEN Relay maps exactly those words, to the right letter
    assert (len(PB_MALE), len(PB_FEMALE)) == (37, 38)
    expected = {**dict.fromkeys(PB_MALE, "m"), **dict.fromkeys(PB_FEMALE, "f")}
    assert expected == _GENDERS


ZWSP, ZWNJ, ZWJ, WJ, BOM, SHY, LRM, RLM = (
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\u200e",
    "\u200f",
)


@pytest.mark.parametrize(
    ("key", "value", "kwargs", "clean"),
    [
        ("em", f"{BOM}jane{ZWSP}.doe{SHY}@exam{ZWJ}ple.com{WJ}", {}, "jane.doe@example.com"),
        ("em", f"{LRM}Jane@Example.com{RLM}", {}, "jane@example.com"),
        ("em", f"jane@example.com{ZWNJ}\u2066", {}, "jane@example.com"),
        ("ph", f"+1 650{ZWSP}555{SHY}1212", {}, "16505551212"),
        ("ph", f"{BOM}(650) 555-1212", {"region": "US"}, "16505551212"),
        ("fn", f"Ja{ZWSP}ne{SHY}", {}, "jane"),
        ("ln", f"Do{ZWJ}e\ufe0f", {}, "doe"),
        ("ct", f"Men{ZWSP}lo Park", {}, "menlopark"),
        ("st", f"Cali{SHY}fornia", {"country": "us"}, "ca"),
        ("zp", f"94{ZWSP}035", {"country": "us"}, "94035"),
        ("zp", f"SW1A{ZWSP} 1AA", {"country": "gb"}, "sw1a1aa"),
        ("country", f"U{ZWSP}S", {}, "us"),
        ("ge", f"female{ZWSP}", {}, "f"),
        ("db", f"1997-02-16{BOM}", {}, "19970216"),
        ("external_id", f"User{ZWSP} 42{WJ}", {}, "user42"),
    ],
)
def test_invisible_characters_are_removed_before_hashing(key, value, kwargs, clean):
    # GIVEN a value with zero-width, BOM, soft-hyphen, bidi or variation characters pasted into it
    # WHEN normalised and hashed
    normalized = normalize_field(key, value, today=TODAY, **kwargs)
    hashed = hash_field(key, value, today=TODAY, **kwargs)
    # THEN it is the value as typed, and hashes as the value typed without them
    assert normalized == clean
    assert hashed == sha256_hex(clean)
