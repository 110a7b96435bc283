"""`relay preview`: the DESIGN §8 contract for good and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.cli import main
from tests.support import EVENTS, ROOT

NOW = "2026-11-26T13:00:00Z"


def run(capsys, *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["preview", "--now", NOW, *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err


@pytest.mark.parametrize("variant", ["default", "retail", "travel", "b2b_saas"])
def test_every_sample_previews_without_rejections(capsys, variant):
    # GIVEN the sample file of a variant
    # WHEN previewed with that variant
    code, doc, _ = run(capsys, "--variant", variant, str(EVENTS / f"{variant}.json"))
    # THEN every event is sent or deliberately skipped, and the document has the contract's shape
    assert code == 0
    assert set(doc) == {"requests", "rejected", "skipped"}
    assert doc["rejected"] == []
    samples = json.loads((EVENTS / f"{variant}.json").read_text())
    sent = [e for r in doc["requests"] for e in r["body"]["data"]]
    assert len(sent) + len(doc["skipped"]) == len(samples)
    assert {r["pixel_id"] for r in doc["requests"]} == {"1234567890"}


def test_bad_input_is_rejected_per_line_and_the_rest_still_processed(capsys):
    # GIVEN JSON lines with a non-JSON line, a non-object, missing fields, wrong types and one good event
    # WHEN previewed
    code, doc, _ = run(capsys, str(EVENTS / "invalid.jsonl"))
    # THEN each bad line is rejected with a reason naming the field, and the good event is in a request
    assert code == 0
    reasons = {r["at"]: r["reason"] for r in doc["rejected"]}
    assert reasons["line 1"] == "event: required for track events"
    assert reasons["line 2"].startswith("line 2: not valid JSON")
    assert reasons["line 3"] == "event: expected a JSON object, got list"
    assert reasons["line 4"].startswith("context.page.url: ")
    assert reasons["line 5"] == "properties.currency: required for Purchase"
    assert reasons["line 6"].startswith("timestamp: ")
    assert reasons["line 7"] == "properties.total: expected a number, got a non-numeric string"
    assert reasons["line 8"] == "context.userAgent: required for website events"
    assert [e["event_id"] for r in doc["requests"] for e in r["body"]["data"]] == ["good-1"]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            [{"type": "track"}, {"type": "page"}, "not an event"],
            [
                ("[0]", "event: required for track events"),
                ("[1]", "timestamp: missing (neither timestamp nor receivedAt is set)"),
                ("[2]", "event: expected a JSON object, got str"),
            ],
        ),
        ({"type": "track"}, [("[0]", "event: required for track events")]),
        (
            {"Records": [{"body": 7}, {"body": "{}"}]},
            [("Records[0]", "Records[0].body: expected a string"), ("Records[1]", "type: Field required")],
        ),
    ],
    ids=["array", "one object", "sqs event"],
)
def test_a_rejected_element_is_placed_by_its_position_in_the_input(capsys, tmp_path, document, expected):
    # GIVEN an array, a single object and an SQS event, each with elements that cannot be mapped
    path = tmp_path / "in.json"
    path.write_text(json.dumps(document))
    # WHEN previewed
    code, doc, _ = run(capsys, str(path))
    # THEN each rejection names where the element is (index or record), with its reason
    assert code == 0
    assert [(r["at"], r["reason"]) for r in doc["rejected"]] == expected


def test_options_reach_the_request(capsys, tmp_path):
    # GIVEN a pixel id, a test code and an integration config file
    config = tmp_path / "integration.json"
    config.write_text(
        json.dumps(
            {
                "consent_categories": [],
                "config": {"event_mappings": {"page": "ViewContent", "screen": "ViewContent"}},
            }
        )
    )
    # WHEN previewed
    code, doc, _ = run(
        capsys,
        "--pixel-id",
        "998877",
        "--test-event-code",
        "TEST42",
        "--config",
        str(config),
        str(EVENTS / "default.json"),
    )
    # THEN the request carries them
    assert code == 0
    request = doc["requests"][0]
    assert request["pixel_id"] == "998877"
    assert request["body"]["test_event_code"] == "TEST42"
    names = [e["event_name"] for e in request["body"]["data"]]
    assert "PageView" not in names
    assert "ViewContent" in names
    assert [s["reason"] for s in doc["skipped"]] == ["identify"]  # no consent categories required


def test_sqs_event_files_are_accepted(capsys):
    # GIVEN the SQS-wrapped samples used by sam local invoke
    # WHEN previewed
    code, doc, _ = run(capsys, "--variant", "travel", str(EVENTS / "sqs" / "travel.json"))
    # THEN their bodies are previewed like the plain file
    assert code == 0
    assert len([e for r in doc["requests"] for e in r["body"]["data"]]) == 6


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"", {"requests": [], "rejected": [], "skipped": []}), (b"42", None), (b'{"type": "page"}', None)],
)
def test_odd_but_readable_input_exits_0(capsys, tmp_path, content, expected):
    # GIVEN empty input, a bare number, a single object
    path = tmp_path / "in.json"
    path.write_bytes(content)
    # WHEN previewed
    code, doc, _ = run(capsys, str(path))
    # THEN output is produced
    assert code == 0
    if expected is not None:
        assert doc == expected
    else:
        assert len(doc["rejected"]) == 1


@pytest.mark.parametrize("content", [None, b"\xff\xfe\x00bad"])
def test_unreadable_input_exits_2(capsys, tmp_path, content):
    # GIVEN a missing file, or bytes that are not UTF-8
    path = tmp_path / "in.json"
    if content is not None:
        path.write_bytes(content)
    # WHEN previewed
    code, doc, err = run(capsys, str(path))
    # THEN exit code 2, a message, no document
    assert code == 2
    assert doc == {}
    assert err.startswith("relay: ")


def test_invalid_config_exits_2_naming_the_field(capsys):
    # GIVEN a non-numeric pixel id
    # WHEN previewed
    code, _, err = run(capsys, "--pixel-id", "abc", str(EVENTS / "default.json"))
    # THEN exit 2 naming config.pixel_id
    assert code == 2
    assert "config.pixel_id" in err


def test_module_entry_point_reads_stdin():
    # GIVEN `python -m relay preview -` with events on stdin
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "core")}
    events = (EVENTS / "retail.json").read_bytes()
    # WHEN run as a process
    proc = subprocess.run(
        [sys.executable, "-m", "relay", "preview", "--variant", "retail", "--now", NOW, "--compact", "-"],
        input=events,
        capture_output=True,
        env=env,
        check=False,
        timeout=60,
    )
    # THEN it exits 0 with one JSON document on one line
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(b"\n") == 1
    assert len(json.loads(proc.stdout)["requests"][0]["body"]["data"]) == 5


def test_module_entry_point_exits_2_on_a_file_that_is_not_utf8(tmp_path):
    # GIVEN a file whose only fault is one byte that is not UTF-8, after the first checked piece
    from relay.cli import UTF8_CHECK_CHUNK

    path = tmp_path / "in.jsonl"
    path.write_bytes(b" " * (UTF8_CHECK_CHUNK + 10) + b"\xff\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "core")}
    # WHEN run as a process (it leaves through the one-shot exit)
    proc = subprocess.run(
        [sys.executable, "-m", "relay", "preview", "--now", NOW, str(path)],
        capture_output=True,
        env=env,
        check=False,
        timeout=60,
    )
    # THEN exit 2, the offset in the whole file named, nothing on stdout
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert proc.stderr.decode().strip() == (
        f"relay: {path} is not UTF-8 text (invalid start byte at byte {UTF8_CHECK_CHUNK + 10})"
    )


@pytest.mark.parametrize("split", [1, 2, 3])
def test_utf8_check_reads_a_character_split_between_two_pieces(split):
    # GIVEN valid UTF-8 whose 4-byte character straddles the pieces' boundary at each of its bytes
    from relay.cli import UTF8_CHECK_CHUNK, _check_utf8

    raw = b"a" * (UTF8_CHECK_CHUNK - split) + "\U0001f600".encode() + b"b"
    # WHEN checked / THEN it is UTF-8; the same bytes cut short are not
    _check_utf8(raw)
    with pytest.raises(UnicodeDecodeError):
        _check_utf8(raw[: UTF8_CHECK_CHUNK - split + 2])


def test_the_cli_names_the_same_variants_as_the_integrations_model():
    # GIVEN the command line's variant choices (kept import-free for start-up time)
    from relay.cli import VARIANT_CHOICES
    from relay.integrations import VARIANTS

    # THEN they are the model's, in the same order
    assert VARIANT_CHOICES == VARIANTS


_SURROGATE_EVENT = {
    "type": "track",
    "event": "Gift Wrapped",
    "messageId": "m-s",
    "timestamp": "2026-11-26T12:30:00Z",
    "properties": {"note": "a\ud800"},
    "context": {"userAgent": "UA/1", "ip": "198.51.100.7", "page": {"url": "https://a.example/"}},
}


@pytest.mark.parametrize("shape", ["array", "sqs"])
def test_preview_reads_a_lone_surrogate_as_delivery_does(capsys, tmp_path, shape):
    # GIVEN an array, and an SQS event, whose one event holds a lone surrogate escape (orjson refuses it)
    body = json.dumps(_SURROGATE_EVENT)  # ensure_ascii: the surrogate travels as the escape \ud800
    text = f"[{body}]" if shape == "array" else json.dumps({"Records": [{"body": body}]})
    path = tmp_path / "in.json"
    path.write_text(text)
    # WHEN previewed
    code, doc, _ = run(capsys, str(path))
    # THEN the event is sent with its surrogate repaired to U+FFFD, as delivery's parse repairs it
    assert code == 0
    assert doc["rejected"] == []
    [event] = [e for r in doc["requests"] for e in r["body"]["data"]]
    assert event["custom_data"] == {"note": "a\ufffd"}


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_LINE = st.one_of(
    _JSON_VALUES.map(lambda v: json.dumps(v)),
    st.sampled_from(["", "  ", "{", "}", "[1,", "]", '"a', "1", "x", '{"a":', "\\ud800", '"\\ud800"']),
    st.text(max_size=6),
)


@given(lines=st.lists(_LINE, min_size=1, max_size=5), indent=st.sampled_from(["", " ", "\t"]))
def test_the_json_lines_shortcut_only_fires_when_the_input_is_not_one_document(lines, indent):
    # GIVEN any text made of lines: JSON values, fragments of values, or neither
    from relay.preview import _plainly_lines

    raw = "\n".join(indent + line for line in lines).encode("utf-8", "surrogatepass")
    # WHEN the shortcut says "JSON lines"
    # THEN neither whole-document reader accepts the input (both would have fallen through to lines)
    if _plainly_lines(raw):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(raw)
        with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)):  # what _lenient catches
            json.loads(raw)


def test_a_document_split_over_lines_is_still_read_as_one_document(capsys, tmp_path):
    # GIVEN a pretty-printed JSON array of events (its first line, "[", is no JSON value alone)
    events = json.loads((EVENTS / "default.json").read_text())
    path = tmp_path / "pretty.json"
    path.write_text(json.dumps(events, indent=2))
    # WHEN previewed / THEN it is one document: every element is read, none reported as a bad line
    code, doc, _ = run(capsys, str(path))
    assert code == 0
    assert doc["rejected"] == []
    assert sum(len(r["body"]["data"]) for r in doc["requests"]) + len(doc["skipped"]) == len(events)


@pytest.mark.parametrize(
    ("raw", "lines"),
    [
        (b'{"a":1}\n{"b":2}\n', True),
        (b'{"a":1}\n\n  \n', False),  # one document, white space after it
        (b'[\n{"a":1}\n]', False),  # "[" alone is no value: the document reader decides
        (b'"\\ud800"\n{}', False),  # orjson refuses a lone surrogate: the lenient reader decides
        (b'{"a":1}', False),
    ],
)
def test_the_json_lines_shortcut_on_plain_cases(raw, lines):
    from relay.preview import _plainly_lines

    # GIVEN / WHEN / THEN
    assert _plainly_lines(raw) is lines
