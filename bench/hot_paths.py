"""The hot paths one by one: spec loading, validator construction, per-response validation, report writing.

Checks the two structural promises: validators are compiled once per (pointer, direction) and
reused (the second `Spec.validator()` call must be a dictionary hit), and per-response validation
cost grows with the response, not with the number of responses judged so far.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Row, main_wrapper  # noqa: E402

API, VERSION = "model-inference", "2025-04-01"


def _per_call_us(fn: Any, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return 1e6 * (time.perf_counter() - t0) / n


def chat_response(choices: int = 1) -> dict:
    return {"id": "x", "object": "chat.completion", "created": 1700000000, "model": "m",
            "choices": [{"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": "hello"}}
                        for i in range(choices)],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}


def embeddings_response(inputs: int, dims: int) -> dict:
    return {"id": "x", "object": "list", "model": "m",
            "data": [{"index": i, "object": "embedding", "embedding": [0.125] * dims} for i in range(inputs)],
            "usage": {"prompt_tokens": 5, "total_tokens": 5}}


def measure() -> list[Row]:
    from conformance.spec import loader as spec_mod

    b = "hot paths"
    rows: list[Row] = []
    t0 = time.perf_counter()
    spec = spec_mod._load.__wrapped__(API, VERSION)  # uncached: what the first load_spec() of a run costs
    spec._ensure_converted()
    t_load = time.perf_counter() - t0
    pointer = spec.response_pointer("getChatCompletions", 200)
    assert pointer is not None
    t0 = time.perf_counter()
    first = spec.validator(pointer)
    t_first = time.perf_counter() - t0
    cached_us = _per_call_us(lambda: spec.validator(pointer), 10_000)
    rows += [
        Row(b, f"load {API} {VERSION} uncached (YAML, operations, JSON Schema conversion), ms", f"{1000 * t_load:.0f}"),
        Row(b, "first validator() for ChatCompletions (compile), ms", f"{1000 * t_first:.2f}"),
        Row(b, "later validator() calls (cached), us", f"{cached_us:.2f}", "same object, < 5 us",
            spec.validator(pointer) is first and cached_us < 5),
    ]
    emb = spec.response_pointer("getEmbeddings", 200)
    assert emb is not None
    cases = (("chat, 1 choice", pointer, chat_response(1)), ("chat, 8 choices", pointer, chat_response(8)),
             ("embeddings 1 x 256 floats", emb, embeddings_response(1, 256)),
             ("embeddings 16 x 1536 floats", emb, embeddings_response(16, 1536)))
    for label, ptr, doc in cases:
        assert not [i for i in spec.validate(ptr, doc) if i.level == "error"], label
        n = 20 if "1536" in label else 500
        us = _per_call_us(lambda p=ptr, d=doc: spec.validate(p, d), n)
        rows.append(Row(b, f"validate_response {label}, us/response", f"{us:,.0f}"))
    early = _per_call_us(lambda: spec.validate(pointer, chat_response(1)), 2000)
    late = _per_call_us(lambda: spec.validate(pointer, chat_response(1)), 2000)
    rows.append(Row(b, "chat validation us/response after 2k vs 4k responses", f"{early:.0f} vs {late:.0f}",
                    "no growth (< 1.5x)", late < 1.5 * early))
    rows += _report_rows(b)
    return rows


def _report_rows(b: str) -> list[Row]:
    """Report writing for a run with many findings (the report caps what it renders)."""
    from conformance.runner.offline import validate_traffic

    traffic = sorted((ROOT.parent / "shared" / "corpus").glob("*.json"))
    if not traffic:
        return []
    with tempfile.TemporaryDirectory(prefix="bench-hot-") as tmp:
        results, _ = validate_traffic(traffic, report_dir=Path(tmp) / "a")
        from conformance.report import write_reports

        findings = sum(len(r.findings) for r in results.results)
        t0 = time.perf_counter()
        paths = write_reports(results, Path(tmp) / "b", pytest_html_name=None)
        took = time.perf_counter() - t0
        sizes = ", ".join(f"{k} {p.stat().st_size / 1e3:,.0f} kB" for k, p in paths.items())
    return [Row(b, f"write_reports ({len(results.results)} results, {findings} findings, "
                   f"{len(results.exchanges)} exchanges), ms", f"{1000 * took:.0f} ({sizes})")]


if __name__ == "__main__":
    sys.exit(main_wrapper("Hot paths: spec, validators, per-response validation, reports", measure))
