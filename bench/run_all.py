"""Run every benchmark script and print one markdown table (nonzero exit only if a script crashed).

Each script runs in its own process (`--json FILE`), so one crash or one heavy import never
skews another's numbers. `--only NAME` (repeatable) runs a subset, e.g. `--only sse_validation`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, Row, machine, table  # noqa: E402

SCRIPTS = ("run_times", "suite_overhead", "vs_schemathesis", "hot_paths", "sse_validation", "traffic_validation",
           "latency_run")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", choices=SCRIPTS, help="run only this script (repeatable)")
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parent
    rows: list[Row] = []
    crashed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-all-") as tmp:
        for name in args.only or SCRIPTS:
            out = Path(tmp) / f"{name}.json"
            t0 = time.perf_counter()
            proc = subprocess.run([PYTHON, str(here / f"{name}.py"), "--json", str(out)], capture_output=True, text=True)
            took = time.perf_counter() - t0
            print(f"{name}: exit {proc.returncode} in {took:.0f} s", file=sys.stderr)
            if proc.returncode != 0 or not out.exists():
                crashed.append(name)
                print(proc.stdout[-1500:] + proc.stderr[-3000:], file=sys.stderr)
                rows.append(Row(name, "CRASHED", f"exit {proc.returncode}"))
                continue
            rows += [Row(**r) for r in json.loads(out.read_text(encoding="utf-8"))]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# Benchmarks ({stamp}; {machine()})\n\n{table(rows)}")
    met = sum(1 for r in rows if r.met is True)
    missed = [f"{r.bench}: {r.metric}" for r in rows if r.met is False]
    print(f"\n{met} goal(s) met, {len(missed)} missed" + (": " + "; ".join(missed) if missed else ""))
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
