"""df.js in a fake browser (tests/js/df_test.js under Node.js): its contract, case by case."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TAG = ROOT / "layers" / "core" / "relay" / "collector" / "static" / "df.js"
# The bound for the tag: small enough to load on every page.
MAX_GZIPPED_BYTES = 4 * 1024


def test_df_js_keeps_its_contract_in_a_fake_browser():
    # GIVEN Node.js (on every machine of this kind) and the fake-browser script
    node = shutil.which("node")
    assert node is not None, "Node.js is needed to test df.js (apt-get install nodejs)"
    # WHEN it runs every case
    done = subprocess.run(
        [node, str(ROOT / "tests" / "js" / "df_test.js")], capture_output=True, text=True, timeout=120
    )
    # THEN each passed
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout
    assert done.stdout.count("ok   ") >= 14


def test_df_js_is_small_and_needs_no_build():
    # GIVEN the tag as served / THEN at most 4 KB gzipped, plain source (comments kept), no imports
    text = TAG.read_text(encoding="utf-8")
    assert len(gzip.compress(text.encode(), 9)) <= MAX_GZIPPED_BYTES
    assert "import " not in text
    assert "require(" not in text
    assert text.startswith("/*! df.js")
