"""Wall time and cost of `conformance run` per depth against the embedded reference (the default target).

Goals: standard <= 30 s, smoke <= 5 s. Requests and tokens come from results.json's summary: they
are what the same run would spend on a paid deployment. Each depth runs twice in one working
directory and the second run is reported (the first warms hypothesis' `.hypothesis/` charmap
cache, which a user's second run also finds); the first run's time is shown as "cold".
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Row, main_wrapper, run_conformance  # noqa: E402

GOALS = {"smoke": 5.0, "standard": 30.0}


def measure() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-times-") as tmp:
        for depth, goal in GOALS.items():
            work = Path(tmp) / depth
            work.mkdir()
            cold, _, _ = run_conformance(["--depth", depth], workdir=work)
            wall, s, code = run_conformance(["--depth", depth], workdir=work)
            tokens = s.get("tokens") or {}
            b = f"run time ({depth})"
            rows += [
                Row(b, "wall s (cold / warm); pytest session s", f"{cold:.2f} / {wall:.2f}; {s['duration_s']:.2f}",
                    f"<= {goal:g} s", wall <= goal),
                Row(b, "requests / retries", f"{s['requests']} / {s.get('retries', 0)}"),
                Row(b, "tokens prompt / completion / total",
                    f"{tokens.get('prompt', 0)} / {tokens.get('completion', 0)} / {tokens.get('total', 0)}"),
                Row(b, "verdict (exit code)", f"{s['verdict']} ({code})"),
            ]
    return rows


if __name__ == "__main__":
    sys.exit(main_wrapper("Run time and cost per depth (embedded reference)", measure))
