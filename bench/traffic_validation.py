"""`validate_traffic` throughput on 10,000 recorded exchanges (JSON lines).

The file is built from real recordings: every ../shared/corpus exchange (when present) plus the
traffic of a smoke-depth run against the embedded reference (`--save-traffic`), repeated until
10,000 lines. Reading alone (`read_traffic`) is timed separately from the whole pipeline
(read, match, judge, collect, verdict, report.html + results.json + junit.xml).
"""

from __future__ import annotations

import cProfile
import json
import pstats
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Row, main_wrapper, run_conformance  # noqa: E402

N = 10_000
CORPUS = ROOT.parent / "shared" / "corpus"


def recorded_lines(work: Path) -> tuple[list[str], int, int]:
    """(lines, corpus exchanges, reference exchanges) to replicate."""
    lines = []
    for f in sorted(CORPUS.glob("*.json")) if CORPUS.is_dir() else []:
        try:
            lines.append(json.dumps(json.loads(f.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    corpus = len(lines)
    traffic = work / "reference.jsonl"
    run_conformance(["--depth", "smoke", "--save-traffic", str(traffic)], workdir=work)
    ref = [ln for ln in traffic.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return lines + ref, corpus, len(ref)


def measure() -> list[Row]:
    from conformance.runner.offline import validate_traffic
    from conformance.traffic import read_traffic

    with tempfile.TemporaryDirectory(prefix="bench-traffic-") as tmp:
        work = Path(tmp)
        lines, corpus, ref = recorded_lines(work)
        big = work / "traffic-10k.jsonl"
        big.write_text("\n".join(islice(cycle(lines), N)) + "\n", encoding="utf-8")
        size_mb = big.stat().st_size / 1e6
        t0 = time.perf_counter()
        read = sum(1 for _ in read_traffic([big]))
        t_read = time.perf_counter() - t0
        validate_traffic([big.parent / "reference.jsonl"], report_dir=work / "warm")  # load specs, compile
        t0 = time.perf_counter()
        results, code = validate_traffic([big], report_dir=work / "report")
        t_all = time.perf_counter() - t0
        sample = work / "traffic-1k.jsonl"  # profiling 10k would take minutes; the mix is the same
        sample.write_text("\n".join(islice(cycle(lines), N // 10)) + "\n", encoding="utf-8")
        prof = cProfile.Profile()
        prof.runcall(validate_traffic, [sample], report_dir=work / "report-prof")
        stats = pstats.Stats(prof).stats
        total = sum(v[2] for v in stats.values())

        def cum(fragment: str) -> float:
            return max((v[3] for k, v in stats.items() if fragment in f"{k[0]}:{k[2]}"), default=0.0)

        parts = {name: cum(frag) for name, frag in (
            ("read_traffic", "traffic.py:read_traffic"), ("judge_exchange", "judge.py:judge_exchange"),
            ("applicable_rules", "judge.py:applicable_rules"), ("write reports", "offline.py:write_all"),
            ("of which schema validation", "schema.py:validate"), ("SSE assembly", "assemble.py:assemble_chat_stream"))}
    rate = N / t_all
    b = "traffic validation"
    return [
        Row(b, "input", f"{N} exchanges ({corpus} corpus + {ref} reference, repeated), {size_mb:.1f} MB"),
        Row(b, "read_traffic only: s / exchanges/s", f"{t_read:.2f} / {read / t_read:,.0f}"),
        Row(b, "validate_traffic (read+judge+reports): s / exchanges/s", f"{t_all:.2f} / {rate:,.0f}"),
        Row(b, "exit code / results rows", f"{code} / {len(results.results)}"),
        Row(b, "share of profiled time (1,000-exchange sample)", "; ".join(f"{k} {100 * v / total:.0f}%" for k, v in parts.items())),
    ]


if __name__ == "__main__":
    sys.exit(main_wrapper("Traffic validation (10,000 recorded exchanges)", measure))
