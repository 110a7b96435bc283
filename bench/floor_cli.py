"""`python -m bench.floor_cli [--now ISO] FILE`: the floor as a command, like `relay preview --compact`.

Reads JSON lines (the bar workload), writes the preview document `{"requests": [{"pixel_id", "body"}],
"rejected": [], "skipped": []}` orjson-compact to stdout. Imports only orjson, hashlib and datetime.
"""

from __future__ import annotations

import sys
from datetime import datetime

from bench import floor


def main(argv: list[str]) -> int:
    now = datetime.fromisoformat(argv[argv.index("--now") + 1]) if "--now" in argv else datetime.now()
    with open(argv[-1], "rb") as handle:
        lines = [line for line in handle.read().splitlines() if line.strip()]
    sys.stdout.buffer.write(floor.preview_document(floor.transform(lines, int(now.timestamp()))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
