"""Normalisation and hashing of Meta CAPI ``user_data`` values (DESIGN §6).

Pure functions, no I/O. Lookup tables (countries, US/CA subdivisions, months) are built lazily on first use.
Every normaliser returns ``None`` for an empty or invalid result and never raises on ``str`` input.
Every one first removes invisible characters (``relay.pii.strip_invisible``: zero-width spaces and
joiners, BOM, soft hyphen, bidi marks...), so a pasted ``jane\u200b@example.com`` hashes as typed.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from relay.pii import strip_invisible

HASHED_KEYS: frozenset[str] = frozenset(
    {"em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id"}
)

HASH_HEX_LENGTH = 64
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
_TRUNK_ZERO_RE = re.compile(r"^\+\s*(\d{1,3})[\s.\-]*\(\s*0\s*\)")
# An international (exit) prefix typed after the "+": "+00 1 ...", "+011 44 ...", "+0011 61 ...". Country
# codes never start with 0, so "+0" is always such a slip. 0011 is tried before 00 (see docs/normalization.md).
_DOUBLE_PREFIX_RE = re.compile(r"\+\s*(?:0011|011|00)")
# Fast path shape: "+", then ASCII digits and ordinary punctuation only.
_FAST_PHONE_RE = re.compile(r"\+[0-9 .\-()/]+")
_FAST_PHONE_DROP = b"+ .-()/"
_ZIP_PLUS4_RE = re.compile(r"\d{5}\s*-\s*\d{4}")
_ISO_DATE_RE = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[t\s]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_NUMERIC_DATE_RE = re.compile(r"(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{4}|\d{2})")
_MONTH_FIRST_RE = re.compile(r"([a-z]+)\.?[\s\-/.,]*(\d{1,2})(?:st|nd|rd|th)?[\s\-/.,]+(\d{4}|\d{2})")
_DAY_FIRST_RE = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?[\s\-/.,]*(?:of\s+)?([a-z]+)\.?[\s\-/.,]*(\d{4}|\d{2})")
_YEAR_FIRST_RE = re.compile(r"(\d{4})[\s\-/.,]+([a-z]+)\.?[\s\-/.,]+(\d{1,2})")

# Aliases pycountry lacks (its alpha-2/3 codes, names, official and common names are indexed directly).
_COUNTRY_ALIASES: dict[str, str] = {
    "uk": "gb", "great britain": "gb", "britain": "gb", "england": "gb", "scotland": "gb", "wales": "gb",
    "northern ireland": "gb", "america": "us", "deutschland": "de", "holland": "nl", "russia": "ru",
    "korea": "kr", "ivory coast": "ci", "turkey": "tr", "espana": "es", "italia": "it", "schweiz": "ch",
    "suisse": "ch", "osterreich": "at", "brasil": "br", "uae": "ae", "macedonia": "mk",
    "swaziland": "sz", "burma": "mm", "palestine": "ps", "vatican": "va",
}  # fmt: skip
_STATE_COUNTRIES = ("us", "ca")
# Written abbreviations -> code, matched like names (case, dots and spaces ignored: "N. Dak." is "ndak").
# US: the AP Stylebook list, then other common forms (GPO and traditional: Calif./Cal., Penn./Penna.,
# Wisc., Tex., ...). Canada: Canadian Press style (Alta., B.C., Man., Nfld., Ont., P.E.I., Que., Sask., ...).
_STATE_ABBREVIATIONS: dict[str, dict[str, str]] = {
    "us": {
        # AP Stylebook
        "Ala.": "al", "Ariz.": "az", "Ark.": "ar", "Calif.": "ca", "Colo.": "co", "Conn.": "ct",
        "Del.": "de", "D.C.": "dc", "Fla.": "fl", "Ga.": "ga", "Ill.": "il", "Ind.": "in", "Kan.": "ks",
        "Ky.": "ky", "La.": "la", "Md.": "md", "Mass.": "ma", "Mich.": "mi", "Minn.": "mn", "Miss.": "ms",
        "Mo.": "mo", "Mont.": "mt", "Neb.": "ne", "Nev.": "nv", "N.H.": "nh", "N.J.": "nj", "N.M.": "nm",
        "N.Y.": "ny", "N.C.": "nc", "N.D.": "nd", "Okla.": "ok", "Ore.": "or", "Pa.": "pa", "R.I.": "ri",
        "S.C.": "sc", "S.D.": "sd", "Tenn.": "tn", "Vt.": "vt", "Va.": "va", "Wash.": "wa", "W.Va.": "wv",
        "Wis.": "wi", "Wyo.": "wy",
        # other common forms
        "Alas.": "ak", "Cal.": "ca", "Ida.": "id", "Kans.": "ks", "Nebr.": "ne", "N. Dak.": "nd",
        "S. Dak.": "sd", "Oreg.": "or", "Penn.": "pa", "Penna.": "pa", "Tex.": "tx", "Wisc.": "wi",
        "P.R.": "pr",
    },
    "ca": {
        # Canadian Press
        "Alta.": "ab", "B.C.": "bc", "Man.": "mb", "N.B.": "nb", "N.L.": "nl", "Nfld.": "nl",
        "Nfld. and Lab.": "nl", "N.S.": "ns", "N.W.T.": "nt", "Ont.": "on", "P.E.I.": "pe", "Que.": "qc",
        "Sask.": "sk", "Y.T.": "yt",
        # other common forms
        "Newfoundland": "nl", "P.Q.": "qc", "Yuk.": "yt", "Nvt.": "nu",
    },
}  # fmt: skip
_US_NON_STATES = frozenset({"US-AS", "US-GU", "US-MP", "US-UM", "US-VI"})  # outlying areas other than PR


# ASCII text is its own NFC and NFKC form, and its only letters and digits are [A-Za-z] and [0-9]:
# the fast paths below give exactly what the Unicode-wide rules give for it.
_ASCII_NOT_KEPT = {"LMN": re.compile(r"[^A-Za-z0-9]+"), "LM": re.compile(r"[^A-Za-z]+")}


def _nfc(value: str) -> str:
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def _nfkc(value: str) -> str:
    return value if value.isascii() else unicodedata.normalize("NFKC", value)


def _keep(value: str, categories: str) -> str:
    """Keep only the characters whose Unicode major category (first letter) is in ``categories``."""
    if value.isascii() and (not_kept := _ASCII_NOT_KEPT.get(categories)) is not None:
        return not_kept.sub("", value)
    return "".join(ch for ch in value if unicodedata.category(ch)[0] in categories)


def _fold_key(value: str) -> str:
    """Accent-folded, case-insensitive, letters-only lookup key ("Côte d'Ivoire" -> "cotedivoire")."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", value.casefold()) if ch.isalpha())


def sha256_hex(value: str) -> str:
    """Return the lower-case hex SHA-256 of ``value``'s UTF-8 bytes."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_hashed(value: str) -> bool:
    """True when ``value`` (after strip) is exactly 64 hex characters, any case; 32-hex is not hashed."""
    return len(value) >= HASH_HEX_LENGTH and _SHA256_RE.fullmatch(value.strip()) is not None


def normalize_email(value: str) -> str | None:
    """Trim and lower-case; None unless the result has the shape local@domain.tld with no white space."""
    # ASCII text has no invisible characters and is its own NFC form.
    email = value.strip().lower() if value.isascii() else _nfc(_nfc(strip_invisible(value)).strip().lower())
    return email if _EMAIL_RE.fullmatch(email) else None


def normalize_phone(value: str, region: str | None = None) -> str | None:
    """E.164 digits without "+" (e.g. "16505551212"), parsed with ``region`` as default region; else None."""
    text = value.strip() if value.isascii() else _nfkc(strip_invisible(value)).strip()
    if text[:2] == "00":
        text = "+" + text[2:]
    # _normalize_phone(fast=True), its first reading written out: it runs once for every new phone number
    digits = _fast_e164(text)
    if digits is _FALLBACK:
        digits = _libphonenumber_e164(text, region)
    return digits if digits is not None else _after_exit_prefix(text, region, True)


def _normalize_phone(value: str, region: str | None, *, fast: bool) -> str | None:
    """normalize_phone; ``fast=False`` skips the fast path (the reference the property tests compare with)."""
    text = value.strip() if value.isascii() else _nfkc(strip_invisible(value)).strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    digits = _e164(text, region, fast)
    return digits if digits is not None else _after_exit_prefix(text, region, fast)


def _after_exit_prefix(text: str, region: str | None, fast: bool) -> str | None:
    digits = None
    if prefix := _DOUBLE_PREFIX_RE.match(text):
        # "+001 616 ...": read as if the exit prefix had not been typed. Only after the plain reading failed,
        # so a region whose own exit prefix libphonenumber recognises after "+" keeps that reading.
        digits = _e164("+" + text[prefix.end() :], region, fast)
    return digits


def _e164(text: str, region: str | None, fast: bool) -> str | None:
    if fast:
        digits = _fast_e164(text)
        if digits is not _FALLBACK:
            return digits
    return _libphonenumber_e164(text, region)


def _libphonenumber_e164(text: str, region: str | None) -> str | None:
    text = _TRUNK_ZERO_RE.sub(r"+\1", text)
    attempts: list[tuple[str, str | None, bool]] = [(text, None, False)]  # has "+": region is ignored
    if region and region.strip():
        attempts.insert(0, (text, region.strip().upper(), False))
    if not text.startswith("+"):
        # No region and no "+": the digits may start with a country code ("16505551212"). Only a number
        # that is *valid* there is accepted, so a national "(650)555-1212" is not misread as +65 (Singapore).
        attempts.append(("+" + text, None, True))
    for candidate, default_region, strict in attempts:
        digits = _possible_e164(candidate, default_region, strict)
        if digits:
            return digits
    return None


def _possible_e164(text: str, region: str | None, strict: bool = False) -> str | None:
    try:
        import phonenumbers  # imported on first use: the module takes tens of ms to load

        number = phonenumbers.parse(text, region)
        check = phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number
        if not check(number):
            return None
        digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
    except Exception:  # phonenumbers may raise on arbitrary input; our contract is "never raises"
        return None
    return digits if digits.isascii() and digits.isdigit() else None


# --- phone fast path --------------------------------------------------------------------------------------
# For "+CC..." written with ASCII digits and ordinary punctuation, the steps phonenumbers.parse +
# is_possible_number + format_number(E164) take are replayed on libphonenumber's own metadata, with the
# regular expressions compiled once per country calling code. Anything else, or any shape where parse's
# answer would depend on the default region, falls back to the full libphonenumber path. The property test
# tests/unit/test_phone_fast_path.py proves the two give identical results for every country calling code.


class _Fallback(enum.Enum):
    FALLBACK = enum.auto()


_FALLBACK: Literal[_Fallback.FALLBACK] = _Fallback.FALLBACK
_MAX_INPUT_LENGTH = 250  # phonenumbers.parse refuses longer strings
_MIN_NSN, _MAX_NSN = 2, 17  # libphonenumber's national significant number bounds
_MAX_CC_DIGITS = 3
_CC_SIZES = tuple(range(1, _MAX_CC_DIGITS + 1))
# _test_number_length outcomes, as libphonenumber's ValidationResult names them
_POSSIBLE, _LOCAL_ONLY, _TOO_SHORT, _TOO_LONG, _INVALID_LENGTH = range(5)


def _length_result(length: int, lengths: tuple[int, ...], local_only: tuple[int, ...]) -> int:
    """libphonenumber's _test_number_length for a description with these possible lengths, in their order."""
    if length in local_only:
        return _LOCAL_ONLY
    first = lengths[0]
    if first == length:
        return _POSSIBLE
    if first > length:
        return _TOO_SHORT
    if lengths[-1] < length:
        return _TOO_LONG
    return _POSSIBLE if length in lengths[1:] else _INVALID_LENGTH


@dataclass(frozen=True, slots=True)
class _CallingCodePlan:
    """One country calling code's metadata, precompiled for the fast path."""

    national_prefix: re.Pattern[str] | None  # national_prefix_for_parsing
    transform: str | None  # national_prefix_transform_rule
    general: re.Pattern[str] | None  # general_desc.national_number_pattern
    # _length_result of general_desc for lengths 0 .. max possible length + 1; any longer number is too long
    length_results: tuple[int, ...]

    def length_result(self, length: int) -> int:
        results = self.length_results
        return results[length] if length < len(results) else _TOO_LONG

    def national_number(self, digits: str) -> str:
        """``digits`` after the national-prefix stripping parse applies to a number with a country code."""
        prefix = self.national_prefix
        match = prefix.match(digits) if prefix is not None else None
        if prefix is None or match is None:
            return digits
        general = self.general
        viable = general is not None and general.fullmatch(digits) is not None
        if self.transform and match.groups()[-1] is not None:
            candidate = prefix.sub(self.transform, digits, count=1)
        else:
            candidate = digits[match.end() :]
        if viable and (general is None or general.fullmatch(candidate) is None):
            return digits  # the original was a viable number and the stripped one is not
        if self.length_result(len(candidate)) in (_TOO_SHORT, _LOCAL_ONLY, _INVALID_LENGTH):
            return digits  # too short to be a possible number once stripped: keep the prefix
        return candidate


@cache
def _calling_codes() -> dict[str, int]:
    import phonenumbers

    return {str(code): code for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}


@cache
def _calling_code_plan(code: int) -> _CallingCodePlan | None:
    """The plan for ``code``, or None when its metadata has a shape the fast path does not replay."""
    import phonenumbers
    from phonenumbers.phonemetadata import PhoneMetadata

    region = phonenumbers.region_code_for_country_code(code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None or metadata.general_desc is None or not metadata.general_desc.possible_length:
        return None
    desc = metadata.general_desc
    national_prefix = metadata.national_prefix_for_parsing
    prefix = re.compile(national_prefix) if national_prefix else None
    transform = metadata.national_prefix_transform_rule or None
    if prefix is not None and transform is not None and prefix.groups == 0:
        return None  # libphonenumber would fail on such metadata; let it
    pattern = desc.national_number_pattern
    lengths, local_only = tuple(desc.possible_length), tuple(desc.possible_length_local_only)
    longest = max(lengths + local_only)
    return _CallingCodePlan(
        national_prefix=prefix,
        transform=transform,
        general=re.compile(pattern) if pattern else None,
        length_results=tuple(_length_result(n, lengths, local_only) for n in range(longest + 2)),
    )


def _fast_e164(text: str) -> str | Literal[_Fallback.FALLBACK] | None:
    """E.164 digits for a plain "+CC..." number, None when libphonenumber would refuse it, or _FALLBACK."""
    if len(text) > _MAX_INPUT_LENGTH or _FAST_PHONE_RE.fullmatch(text) is None:
        return _FALLBACK
    if "(" in text and _TRUNK_ZERO_RE.match(text):
        return _FALLBACK  # the trunk "(0)" form: the full path rewrites it first
    digits = text.encode("ascii").translate(None, _FAST_PHONE_DROP).decode("ascii")  # the shape is ASCII
    if len(digits) <= _MIN_NSN:
        return None  # parse: not a viable number / too short after the "+"
    if digits[0] == "0":
        return _FALLBACK  # parse retries without the "+", reading the default region's exit prefix
    codes = _calling_codes()
    for size in _CC_SIZES:
        code = codes.get(digits[:size])
        if code is not None:
            break
    else:
        return _FALLBACK  # unknown calling code: parse retries with the default region
    national = digits[size:]
    if len(national) < _MIN_NSN:
        return None
    plan = _calling_code_plan(code)
    if plan is None:
        return _FALLBACK
    national = plan.national_number(national)
    length = len(national)
    if not _MIN_NSN <= length <= _MAX_NSN:
        return None
    results = plan.length_results  # plan.length_result(length), written out
    if (results[length] if length < len(results) else _TOO_LONG) not in (_POSSIBLE, _LOCAL_ONLY):
        return None  # is_possible_number
    return digits[:size] + national


# The characters of pii.INVISIBLE that str.isalnum() accepts (Hangul fillers, category Lo); every other
# invisible character is a format character or a mark, which isalnum() refuses (a unit test checks both
# over every code point).
ALNUM_INVISIBLE = ("\u115f", "\u1160", "\u3164", "\uffa0")


def _spaced_words(value: str, digits: bool) -> str | None:
    """What the per-character rule keeps of non-ASCII text made of letters (and digits, when `digits`)
    and spaces: its NFC, lower-cased form without the spaces; None when the text holds anything else.

    Exact: with no invisible character, strip_invisible is the identity; every character isalnum()
    accepts is a letter or a number (category L or N), isalpha() a letter, so the rule keeps them all and
    drops only the spaces. A mark, punctuation or an invisible character fails the check (→ None)."""
    for ch in ALNUM_INVISIBLE:
        if ch in value:
            return None
    text = _nfc(value).lower()
    kept = text.replace(" ", "") if " " in text else text
    if not (kept.isalnum() if digits else kept.isalpha()):
        return None
    return _nfc(kept)


def normalize_name(value: str) -> str | None:
    """fn/ln: lower-case; keep letters, combining marks and digits (any script); drop everything else."""
    if not value.isascii() and (kept := _spaced_words(value, digits=True)) is not None:
        return kept or None
    return _nfc(_keep(_nfc(strip_invisible(value)).lower(), "LMN")) or None


def normalize_city(value: str) -> str | None:
    """ct: lower-case; keep letters and combining marks only (no punctuation, digits or spaces)."""
    if not value.isascii() and (kept := _spaced_words(value, digits=False)) is not None:
        return kept or None
    return _nfc(_keep(_nfc(strip_invisible(value)).lower(), "LM")) or None


@cache
def _state_table(country: str) -> dict[str, str]:
    """Folded subdivision name or code -> 2-letter code, for "us" (states + DC + PR) or "ca"."""
    import pycountry  # imported on first use, like the tables built from it

    table: dict[str, str] = {}
    for sub in pycountry.subdivisions:
        if sub.country_code != country.upper() or sub.code in _US_NON_STATES:
            continue
        code = sub.code.split("-", 1)[1].lower()
        table[code] = code
        table[_fold_key(sub.name)] = code
    for abbreviation, code in _STATE_ABBREVIATIONS.get(country, {}).items():
        table.setdefault(_fold_key(abbreviation), code)
    return table


def normalize_state(value: str, country: str | None = None) -> str | None:
    """st: US/CA (or no country) names, codes or abbreviations -> 2-letter code; else the full name, letters only."""
    country = country.strip().lower() if country else None
    if country is None or country in _STATE_COUNTRIES:
        key = _fold_key(_nfc(strip_invisible(value)))
        for candidate in (country,) if country else _STATE_COUNTRIES:
            code = _state_table(candidate).get(key)
            if code:
                return code
    return normalize_city(value)


def normalize_zip(value: str, country: str | None = None) -> str | None:
    """zp: lower-case, no white space or dashes; US (or NNNNN-NNNN with no country): first 5 digits."""
    country = country.strip().lower() if country else None
    text = _nfkc(_nfkc(strip_invisible(value)).strip().lower())
    us = country == "us" or (country is None and _ZIP_PLUS4_RE.fullmatch(text) is not None)
    if text.isascii():  # ASCII's only dash punctuation is "-"; split() drops exactly what isspace() is
        cleaned = "".join(text.split()).replace("-", "")
    else:
        cleaned = _nfkc("".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Pd"))
    if us and len(cleaned) >= 5 and cleaned[:5].isascii() and cleaned[:5].isdigit():
        cleaned = cleaned[:5]
    return cleaned or None


@cache
def _alpha_2_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, lower case (pycountry's countries alone: a cold start skips the names)."""
    import pycountry

    return frozenset(country.alpha_2.lower() for country in pycountry.countries)


@cache
def _country_table() -> dict[str, str]:
    """Folded name -> alpha-2: pycountry's codes and names, our aliases, then unambiguous derived names.

    Derived names (see _country_name_variants) are those of current countries and of ISO 3166-3 historic
    countries with a single current successor. A derived name claimed by two countries ("Virgin Islands",
    from "Virgin Islands, British" and "Virgin Islands, U.S.") maps to nothing; a code, name or alias that
    already exists keeps its country.
    """
    import pycountry  # imported on first use, like the tables built from it

    table: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2.lower()
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                table.setdefault(_fold_key(name), code)
    for alias, code in _COUNTRY_ALIASES.items():
        table.setdefault(_fold_key(alias), code)
    derived: dict[str, set[str]] = {}
    named: list[tuple[str, str]] = [
        (name, country.alpha_2.lower())
        for country in pycountry.countries
        for attr in ("name", "official_name", "common_name")
        if (name := getattr(country, attr, None))
    ]
    current = {country.alpha_2 for country in pycountry.countries}
    named.extend(
        (historic.name, successor)
        for historic in pycountry.historic_countries
        if (successor := _historic_successor(historic.alpha_4, historic.alpha_2, current)) is not None
    )
    for name, code in named:
        for variant in _country_name_variants(name):
            if key := _fold_key(variant):
                derived.setdefault(key, set()).add(code)
    for key, codes in derived.items():
        if len(codes) == 1 and key not in table:
            table[key] = next(iter(codes))
    return table


def _historic_successor(alpha_4: str, alpha_2: str, current: set[str]) -> str | None:
    """The one current alpha-2 an ISO 3166-3 code was merged or renamed into ("ZRCD" -> "cd"), else None.

    The last two letters of the 4-letter code name the successor; "AA" means the code itself lived on
    ("BYAA": Byelorussian SSR -> BY); "HH" (divided) or a successor that is itself withdrawn gives None.
    """
    successor = alpha_2 if alpha_4[2:] == "AA" else alpha_4[2:]
    return successor.lower() if successor in current else None


def _country_name_variants(name: str) -> list[str]:
    """Natural readings of a pycountry name: its inverted form, the part before the comma, no parentheses.

    "Congo, The Democratic Republic of the" -> "The Democratic Republic of the Congo", "Democratic Republic
    of the Congo", "Congo"; "Virgin Islands, British" -> "British Virgin Islands", "Virgin Islands";
    "Holy See (Vatican City State)" -> "Holy See"; "the State of Palestine" -> "State of Palestine".
    """
    variants = [name]
    base = re.sub(r"\s*\([^)]*\)", "", name).strip()
    if base != name:
        variants.append(base)
    parts = [part.strip() for part in base.split(",")]
    if len(parts) >= 2 and all(parts):
        head, tail = parts[0], parts[-1]
        variants.append(head)
        if tail.lower().endswith((" of", " of the")) or (len(parts) == 2 and " " not in tail):
            # "Korea, Republic of" -> "Republic of Korea"; "Virgin Islands, U.S." -> "U.S. Virgin Islands".
            # Other tails are lists ("Bonaire, Sint Eustatius and Saba"): no inverted reading.
            variants.append(f"{tail} {head}")
    variants += [variant[4:] for variant in variants if variant.lower().startswith("the ")]
    return variants


def normalize_country(value: str) -> str | None:
    """ISO 3166-1 alpha-2 lower-case from a code (alpha-2/3), name or common alias; None when unknown.

    A leading "The" is ignored when the name is not known with it ("The Netherlands" -> "nl").
    """
    text = _nfc(strip_invisible(value)).strip()
    if len(text) == 2 and text.isascii() and text.isalpha() and (alpha_2 := text.lower()) in _alpha_2_codes():
        return alpha_2  # an alpha-2 code is its own entry in the table: known without building the table
    table = _country_table()
    key = _fold_key(text)
    if not key:
        return None
    code = table.get(key)
    if code is None and text[:4].casefold() == "the " and (rest := _fold_key(text[4:])):
        code = table.get(rest)
    return code


@cache
def _months() -> dict[str, int]:
    """English month names and abbreviations (C locale) -> month number."""
    import calendar  # birthdays only: not paid by a start-up that never reads one

    months = {"sept": 9}
    for number in range(1, 13):
        months[calendar.month_name[number].lower()] = number
        months[calendar.month_abbr[number].lower()] = number
    return months


def _full_year(year: str, today: datetime.date) -> int:
    if len(year) == 4:
        return int(year)
    century = today.year // 100 * 100
    yy = int(year)
    return century + yy if yy <= today.year % 100 else century - 100 + yy


def _make_date(year: int, month: int, day: int, today: datetime.date) -> str | None:
    try:
        date = datetime.date(year, month, day)
    except ValueError:
        return None
    return date.strftime("%Y%m%d") if 1900 <= year <= today.year and date <= today else None


def normalize_birthday(value: str, today: datetime.date) -> str | None:
    """db: a common date form -> "YYYYMMDD": a real date, year 1900..today.year, not after ``today``."""
    if isinstance(today, datetime.datetime):
        today = today.date()
    text = _nfkc(strip_invisible(value)).strip().lower()
    if not text.isascii():
        return None
    if len(text) == 8 and text.isdigit():
        for y, m, d in (
            (text[:4], text[4:6], text[6:]),
            (text[4:], text[:2], text[2:4]),
            (text[4:], text[2:4], text[:2]),
        ):
            result = _make_date(int(y), int(m), int(d), today)
            if result:
                return result
        return None
    if match := _ISO_DATE_RE.fullmatch(text):
        return _make_date(int(match[1]), int(match[2]), int(match[3]), today)
    if match := _NUMERIC_DATE_RE.fullmatch(text):
        first, second = int(match[1]), int(match[2])
        month, day = (second, first) if first > 12 else (first, second)
        return _make_date(_full_year(match[3], today), month, day, today)
    months = _months()
    if (match := _MONTH_FIRST_RE.fullmatch(text)) and match[1] in months:
        return _make_date(_full_year(match[3], today), months[match[1]], int(match[2]), today)
    if (match := _DAY_FIRST_RE.fullmatch(text)) and match[2] in months:
        return _make_date(_full_year(match[3], today), months[match[2]], int(match[1]), today)
    if (match := _YEAR_FIRST_RE.fullmatch(text)) and match[2] in months:
        return _make_date(int(match[1]), months[match[2]], int(match[3]), today)
    return None


# Meta's parameter builder (capi-param-builder, PB-node src/piiUtil/genderUtil.js, also client JS and PHP):
# the words it maps to m / f after trim + lower-case. Its list is English only.
_MALE_WORDS = (
    "m", "male", "man", "boy", "gentleman", "guy", "sir", "mister", "mr", "son", "father", "dad", "daddy",
    "papa", "uncle", "nephew", "brother", "husband", "boyfriend", "groom", "widower", "king", "prince",
    "duke", "count", "emperor", "god", "lord", "lad", "fellow", "chap", "bloke", "dude", "he", "him", "his",
    "himself",
)  # fmt: skip
_FEMALE_WORDS = (
    "f", "female", "woman", "girl", "lady", "miss", "ms", "mrs", "madam", "ma'am", "daughter", "mother",
    "mom", "mama", "mommy", "aunt", "niece", "sister", "wife", "girlfriend", "bride", "widow", "queen",
    "princess", "duchess", "countess", "empress", "goddess", "maiden", "lass", "gal", "chick", "dame",
    "belle", "she", "her", "hers", "herself",
)  # fmt: skip
_GENDERS = {**dict.fromkeys(_MALE_WORDS, "m"), **dict.fromkeys(_FEMALE_WORDS, "f")}


def normalize_gender(value: str) -> str | None:
    """ge: "m" or "f" from the words Meta's parameter builder accepts (male, man, mr, he, ...; female, woman,
    mrs, she, ...), trimmed, any case; else None."""
    return _GENDERS.get(_nfc(strip_invisible(value)).strip().lower())


def normalize_external_id(value: str) -> str | None:
    """external_id: trim, lower-case, remove all white space; None if empty."""
    if value.isascii():  # no invisible characters, its own NFC form
        return "".join(value.lower().split()) or None
    return _nfc("".join(_nfc(strip_invisible(value)).lower().split())) or None


def _coerce(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            value = int(value)
    try:
        return str(value)
    except ValueError:  # int too large to convert to str
        return None


_TEXT_NORMALISERS: dict[str, Callable[[str], str | None]] = {
    "em": normalize_email,
    "fn": normalize_name,
    "ln": normalize_name,
    "ct": normalize_city,
    "country": normalize_country,
    "ge": normalize_gender,
    "external_id": normalize_external_id,
}


def normalize_field(
    key: str,
    value: object,
    *,
    country: str | None = None,
    region: str | None = None,
    today: datetime.date,
) -> str | None:
    """Normalised, NOT hashed value of ``value`` for a key in HASHED_KEYS; None if invalid or unknown key.

    Numbers are coerced to str; bool, None and other types give None. ``country`` (normalised alpha-2) is used
    for st and zp; ``region`` (else ``country``) is the phone default region. Never raises.
    """
    text = _coerce(value)
    if text is None:
        return None
    if key == "ph":
        return normalize_phone(text, region or country)
    if key == "st":
        return normalize_state(text, country)
    if key == "zp":
        return normalize_zip(text, country)
    if key == "db":
        return normalize_birthday(text, today)
    normaliser = _TEXT_NORMALISERS.get(key)
    return normaliser(text) if normaliser else None


def hash_field(
    key: str,
    value: object,
    *,
    country: str | None = None,
    region: str | None = None,
    today: datetime.date,
) -> str | None:
    """SHA-256 hex of the normalised value; a 64-hex str is passed through stripped and lower-cased.

    Returns None for a key not in HASHED_KEYS, or a value that is invalid, empty or not UTF-8 encodable.
    Never raises.
    """
    if key not in HASHED_KEYS:
        return None
    if isinstance(value, str) and is_hashed(value):
        return value.strip().lower()
    normalized = normalize_field(key, value, country=country, region=region, today=today)
    if normalized is None:
        return None
    try:
        return sha256_hex(normalized)
    except UnicodeEncodeError:  # lone surrogates have no UTF-8 form
        return None
