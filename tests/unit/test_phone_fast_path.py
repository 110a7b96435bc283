"""The phone fast path gives exactly libphonenumber's answer: exact values, and a property test over every
country calling code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import ValidationResult, _test_number_length

from relay import normalize
from relay.normalize import _FALLBACK, _fast_e164, _normalize_phone, normalize_phone

CALLING_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
REGIONS = [None, "US", "GB", "DE", "FR", "BR", "JP", "IN", "AU", "HK", "RU", "AR"]
SEPARATORS = [" ", ".", "-", "(", ")", "/", "  ", " - ", ") ", " ("]
_DESC_TYPES = (
    "general_desc", "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number",
    "voip", "pager", "uan", "voicemail",
)  # fmt: skip


def _reference(value: str, region: str | None) -> str | None:
    """The full libphonenumber path: same preprocessing, no fast path."""
    return _normalize_phone(value, region, fast=False)


@cache
def _examples(code: int) -> tuple[list[str], list[str]]:
    """Example national numbers and national prefixes for `code`, from libphonenumber's own metadata."""
    examples: list[str] = []
    prefixes = ["", "0", "1", "8", "9", "00", "01"]
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        if metadata is None:
            continue
        for name in _DESC_TYPES:
            desc = getattr(metadata, name, None)
            if desc is not None and desc.example_number:
                examples.append(desc.example_number)
        prefixes += [
            p for p in (metadata.national_prefix, metadata.national_prefix_for_parsing) if p and p.isdigit()
        ]
    return examples or ["1234567"], sorted(set(prefixes))


def _national_digits(code: int, shape: Shape) -> str:
    examples, prefixes = _examples(code)
    if shape.use_example:  # a real number, shortened or lengthened by a few digits
        base = examples[shape.example % len(examples)]
        base = base[: len(base) + shape.change] if shape.change < 0 else base + shape.extra[: shape.change]
    else:  # any length, 0 to 20 digits
        base = shape.digits
    return prefixes[shape.prefix % len(prefixes)] + base


def _written(digits: str, separators: list[str]) -> str:
    """`digits` with separators[i] before digit i (ordinary punctuation, or nothing)."""
    return "".join(sep + ch for sep, ch in zip([*separators, *[""] * len(digits)], digits, strict=False))


@dataclass(frozen=True)
class Shape:
    """How to write a number, applied to every calling code in turn."""

    use_example: bool
    example: int
    change: int
    extra: str
    digits: str
    prefix: int
    separators: list[str]
    lead: str
    region: str | None


SHAPES = st.builds(
    Shape,
    use_example=st.booleans(),
    example=st.integers(0, 40),
    change=st.integers(-4, 4),
    extra=st.text("0123456789", min_size=4, max_size=4),
    digits=st.text("0123456789", max_size=20),
    prefix=st.integers(0, 20),
    separators=st.just([]) | st.lists(st.sampled_from([*SEPARATORS, "", "", ""]), max_size=24),
    lead=st.sampled_from(["+", "00", "+ ", "00 "]),
    region=st.sampled_from([*REGIONS, "main"]),
)


@settings(deadline=None, max_examples=150)
@given(shape=SHAPES)
def test_fast_path_equals_libphonenumber_for_every_calling_code(shape):
    # GIVEN a way of writing a number: national digits of varied lengths (a real example mutated, or random),
    # with or without a national prefix and punctuation, in "+" or "00" form, and a user region
    for code in CALLING_CODES:
        value = shape.lead + _written(str(code) + _national_digits(code, shape), shape.separators)
        region = phonenumbers.region_code_for_country_code(code) if shape.region == "main" else shape.region
        # WHEN it is normalised for every calling code, with and without the fast path
        fast = normalize_phone(value, region)
        reference = _reference(value, region)
        # THEN the results are identical, and the fast path did decide (it only declines the trunk "(0)" form)
        assert fast == reference, (code, value, region)
        plus_form = "+" + value[2:] if value.startswith("00") else value
        assert _fast_e164(plus_form) is not _FALLBACK or normalize._TRUNK_ZERO_RE.match(plus_form)


@settings(deadline=None, max_examples=500)
@given(
    body=st.text("0123456789 .-()/", max_size=24) | st.text(max_size=24),
    lead=st.sampled_from(["+", "00", "+0", "+00", "+011", "+0011", "", " +"]),
    region=st.sampled_from(REGIONS),
)
def test_fast_path_equals_libphonenumber_for_any_text(body, lead, region):
    # GIVEN any text after a "+" / "00" / double prefix (unknown or zero calling codes, letters, odd shapes)
    value = lead + body
    # WHEN normalised with and without the fast path
    # THEN the results are identical
    assert normalize_phone(value, region) == _reference(value, region)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+1 650-555-1212", "16505551212"),
        ("+1/650/555.1212", "16505551212"),
        ("+ 1 (650) 555-1212.", "16505551212"),
        ("+44 7700 900123", "447700900123"),
        ("+39 06 1234 5678", "390612345678"),  # Italian leading zero kept
        ("+49 030 1234567", "49301234567"),  # national prefix 0 after the country code: stripped
        ("+61 0 2 9876 5432", "61298765432"),
        ("+81 090-1234-5678", "819012345678"),
        ("+7 8 495 123-45-67", "74951234567"),  # Russia's national prefix 8
        ("+54 9 11 1234-5678", "5491112345678"),  # Argentina: transform rule keeps the mobile 9
        ("+55 0 21 2345-6789", "552123456789"),  # Brazil: national prefix 0 stripped
        ("+378 0549 123456", "3780549123456"),  # San Marino
        ("+800 1234 5678", "80012345678"),  # non-geographic calling code
        ("+1 555 1212", "15551212"),  # "possible" as a local-only length, as libphonenumber says
        ("+1 650", None),  # too short
        ("+12", None),  # not a viable number
        ("+52 1 55 1234 5678", None),  # not a possible length once read
        ("+1 650 555 1212 1212 1212 1212", None),  # too long
    ],
)
def test_fast_path_exact_values(text, expected):
    # GIVEN a plain "+CC..." number
    # WHEN read by the fast path
    result = _fast_e164(text)
    # THEN it gives the E.164 digits (or None), and libphonenumber agrees
    assert result == expected
    assert _reference(text, None) == expected


@pytest.mark.parametrize(
    "text",
    [
        "+44 (0)20 7946 0958",  # trunk "(0)": the full path rewrites it
        "+1 650 555 1212 ext 9",  # letters / extensions
        "+1 650 555 1212 #9",
        "+0 650 555 1212",  # "+0": parse retries with the default region's exit prefix
        "+28 1234 5678",  # unassigned calling code: parse retries with the default region
        "(650) 555-1212",  # national format
        "16505551212",
        "++1 650 555 1212",
        "+1\t650 555 1212",
        "+١ ٦٥٠ ٥٥٥ ١٢١٢",  # Arabic-Indic digits
        "+" + "1" * 260,  # longer than parse accepts
    ],
)
def test_fast_path_declines_shapes_it_does_not_replay(text):
    # GIVEN a shape outside the fast path
    # WHEN read by the fast path
    # THEN it declines, leaving the number to libphonenumber
    assert _fast_e164(text) is _FALLBACK


def test_length_table_equals_libphonenumber_test_number_length_for_every_calling_code():
    # GIVEN every calling code's metadata and libphonenumber's own length test
    names = {
        normalize._POSSIBLE: ValidationResult.IS_POSSIBLE,
        normalize._LOCAL_ONLY: ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        normalize._TOO_SHORT: ValidationResult.TOO_SHORT,
        normalize._TOO_LONG: ValidationResult.TOO_LONG,
        normalize._INVALID_LENGTH: ValidationResult.INVALID_LENGTH,
    }
    mismatches = []
    for code in CALLING_CODES:
        region = phonenumbers.region_code_for_country_code(code)
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        plan = normalize._calling_code_plan(code)
        assert plan is not None, code
        assert metadata is not None, code
        # WHEN every length from 0 to 40 digits is classified both ways
        for length in range(41):
            ours = names[plan.length_result(length)]
            if ours != _test_number_length("5" * length, metadata):
                mismatches.append((code, length))
    # THEN they agree everywhere (and every calling code has a plan: none is left to the slow path)
    assert mismatches == []
