"""`python -m bench.sdk_cli [--now ISO] FILE`: the SDK as a command, like `relay preview --compact`.

Reads JSON lines, writes the preview document `{"requests": [{"pixel_id", "body"}], "rejected": [],
"skipped": []}` (compact JSON) to stdout. Imports the facebook-business SDK's serverside modules only.
"""

from __future__ import annotations

import sys
from datetime import datetime

from bench import sdk


def main(argv: list[str]) -> int:
    now = datetime.fromisoformat(argv[argv.index("--now") + 1]) if "--now" in argv else datetime.now()
    with open(argv[-1], "rb") as handle:
        lines = [line for line in handle.read().splitlines() if line.strip()]
    sys.stdout.buffer.write(sdk.preview_document(sdk.transform(lines, int(now.timestamp()))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
