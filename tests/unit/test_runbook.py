"""docs/runbook.md lists every DLQ and skip reason of relay.queue, each with what to do."""

from __future__ import annotations

import re

from relay.queue import DLQ_REASONS, NO_REASON, SKIP_REASONS
from tests.support import ROOT

RUNBOOK = ROOT / "docs" / "runbook.md"
ROW = re.compile(r"^\| `(?P<reason>[a-z_]+)` \| (?P<cause>[^|]+?) \| (?P<todo>[^|]+?) \|$")


def _table(heading: str) -> dict[str, tuple[str, str]]:
    """reason → (cause, what to do) of the table under `### heading`."""
    text = RUNBOOK.read_text(encoding="utf-8")
    section = text.split(f"\n### {heading}\n", 1)[1].split("\n#", 1)[0]
    rows = [m for line in section.splitlines() if (m := ROW.match(line.strip()))]
    table = {m["reason"]: (m["cause"].strip(), m["todo"].strip()) for m in rows}
    assert len(table) == len(rows), f"a reason is listed twice under {heading}"
    return table


def test_the_runbook_lists_exactly_the_dlq_reasons_each_with_cause_and_action():
    # GIVEN the DLQ reason vocabulary / WHEN the runbook's DLQ table is read
    table = _table("DLQ reasons")
    # THEN it has one row per reason, no more, each saying what happened and what to do
    assert sorted(table) == sorted(DLQ_REASONS)
    assert all(cause and todo for cause, todo in table.values())
    assert "no `reason` attribute" in table[NO_REASON][0]


def test_the_runbook_lists_exactly_the_skip_reasons_each_with_cause_and_action():
    # GIVEN the skip reason vocabulary / WHEN the runbook's skip table is read
    table = _table("Skip reasons")
    # THEN it has one row per reason, no more, each with its cause and what to do
    assert sorted(table) == sorted(SKIP_REASONS)
    assert all(cause and todo for cause, todo in table.values())
