"""Print the transfer headline table (markdown) of a leave-one-movement-out ``crosstrainer evaluate`` run.

    python scripts/transfer_table.py runs/transfer-lomo            # the table in docs/evaluation.md and README
    python scripts/transfer_table.py runs/transfer-lomo --json out.json

The default model's card embeds the same table: ``crosstrainer train default --out DIR --card-only --transfer-run RUN``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from crosstrainer.evaluation.transfer import load_run, markdown_table, summary, transfer_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="evaluate run folder (or its metrics.json)")
    parser.add_argument("--json", type=Path, help="also write rows and summary as JSON here")
    args = parser.parse_args()
    data = load_run(args.run)
    rows = transfer_rows(data)
    print(f"Command: `{data.get('config', {}).get('command', '?')}`\n")
    print(markdown_table(rows))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary(rows)}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
