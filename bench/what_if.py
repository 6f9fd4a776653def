"""What the proposed hot-path fixes would gain, measured by applying them in this process only.

Nothing in the package is changed: each fix is patched in here, timed against the unpatched code on
the same input, and the findings are compared so a speed-up that changes a verdict shows up.
The fixes (see docs/performance.md for where they belong):
  memo     - stream helpers computed once per transcript instead of once per rule:
             `judge.chunks()` (JSON-decodes every event; ~6 rules call it) and
             `assemble_chat_stream()` (~15 chat rules call it through `chat.answer`).
  rs       - a jsonschema_rs pre-check in front of the Python validator: the converted schema with
             open enums made strict; valid there means no issue and no note, so the Python
             validator runs only on the (rare) responses that have something to report.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import cycle, islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Row, main_wrapper  # noqa: E402
from sse_validation import judge, parse, synthetic_stream  # noqa: E402


def _last_call_cache(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Remember the result for the last argument object (rules run one exchange at a time)."""
    state: list[Any] = [None, None, None]

    def wrapper(ts: Any) -> Any:
        if state[0] is ts and state[1] == len(ts.events):
            return state[2]
        state[:] = [ts, len(ts.events), fn(ts)]
        return state[2]

    return wrapper


def patch_memo() -> Callable[[], None]:
    import conformance.rules.chat as chat
    import conformance.rules.judge as judge_mod
    import conformance.rules.streaming as streaming

    saved = (chat.assemble_chat_stream, streaming.chunks)
    chat.assemble_chat_stream = _last_call_cache(saved[0])
    streaming.chunks = _last_call_cache(judge_mod.chunks)

    def undo() -> None:
        chat.assemble_chat_stream, streaming.chunks = saved

    return undo


def _strict(node: Any) -> Any:
    from conformance.schema import OPEN_ENUM

    if isinstance(node, dict):
        return {("enum" if k == OPEN_ENUM else k): (v if k == OPEN_ENUM else _strict(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_strict(x) for x in node]
    return node


def patch_rs() -> Callable[[], None]:
    import jsonschema_rs

    from conformance.schema import SchemaValidator
    from conformance.spec import available_versions, load_spec

    docs: dict[str, Any] = {}
    for api in ("model-inference", "azure-openai"):
        for version in available_versions(api):
            spec = load_spec(api, version)
            spec._ensure_converted()
            docs.update({uri: _strict(doc) for uri, doc in spec._converted.items()})
    registry = jsonschema_rs.Registry(list(docs.items()))
    original = SchemaValidator.validate
    compiled: dict[int, Any] = {}

    def validate(self: SchemaValidator, instance: Any) -> list:
        rs = compiled.get(id(self))
        if rs is None:
            try:
                rs = jsonschema_rs.validator_for(
                    {k: v for k, v in self.schema.items() if not k.startswith("x-")}, registry=registry)
            except Exception:  # noqa: BLE001 - e.g. a `{...}` in a $ref pointer: rs wants it percent-encoded
                rs = False
            compiled[id(self)] = rs
        try:
            if rs and rs.is_valid(instance):
                return []
        except Exception:  # noqa: BLE001 - unresolvable $ref at validation time: judge the slow way
            pass
        return original(self, instance)

    SchemaValidator.validate = validate  # type: ignore[method-assign]

    def undo() -> None:
        SchemaValidator.validate = original  # type: ignore[method-assign]

    return undo


def _signature(findings: list) -> list[tuple[str, str, str]]:
    return sorted((f.rule_id, str(f.level), f.message) for f in findings)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _traffic_findings(path: Path, out: Path) -> list:
    from conformance.offline import validate_traffic

    results, _ = validate_traffic([path], report_dir=out)
    return sorted((r.rule_id, r.operation_id, str(f.get("message"))) for r in results.results for f in r.findings)


def _embeddings_row() -> Row:
    from hot_paths import embeddings_response

    from conformance.spec import load_spec

    spec = load_spec("model-inference", "2025-04-01")
    pointer = spec.response_pointer("getEmbeddings", 200)
    doc = embeddings_response(16, 1536)
    base_t, base = _timed(lambda: [spec.validate(pointer, doc) for _ in range(5)])
    undo = patch_rs()
    spec.validate(pointer, doc)
    t, fixed = _timed(lambda: [spec.validate(pointer, doc) for _ in range(5)])
    undo()
    return Row("what-if validation", f"rs: embeddings 16 x 1536 floats, ms/response (baseline {200 * base_t:.1f})",
               f"{200 * t:.2f} ({base_t / t:,.0f}x faster)", "same issues", base == fixed)


def measure() -> list[Row]:
    rows: list[Row] = []
    n = 10_000
    raw = synthetic_stream(n)
    judge(parse(synthetic_stream(3)), synthetic_stream(3))
    variants: dict[str, tuple] = {"baseline": (), "memo": (patch_memo,), "rs": (patch_rs,),
                                  "memo + rs": (patch_memo, patch_rs)}
    best: dict[str, tuple[float, Any]] = {}
    for _ in range(3):  # interleaved, best of 3: the machine is shared and its load changes
        for label, patches in variants.items():
            undo = [p() for p in patches]
            judge(parse(synthetic_stream(3)), synthetic_stream(3))
            t, f = _timed(lambda: judge(parse(raw), raw))
            for u in undo:
                u()
            if label not in best or t < best[label][0]:
                best[label] = (t, f)
    base_t, base_f = best.pop("baseline")
    for label, (t, f) in best.items():
        same = _signature(f) == _signature(base_f)
        rows.append(Row("what-if SSE", f"{label}: parse+judge {n:,} chunks, s (baseline {base_t:.2f})",
                        f"{t:.2f} ({base_t / t:.1f}x faster, {n / t:,.0f} chunks/s)",
                        "same findings", same))
    rows.append(_embeddings_row())
    corpus = sorted(Path("/work/shared/corpus").glob("*.json"))
    if corpus:
        lines = [json.dumps(json.loads(p.read_text(encoding="utf-8"))) for p in corpus]
        with tempfile.TemporaryDirectory(prefix="bench-whatif-") as tmp:
            sample = Path(tmp) / "corpus-1k.jsonl"
            sample.write_text("\n".join(islice(cycle(lines), 1000)) + "\n", encoding="utf-8")
            _traffic_findings(sample, Path(tmp) / "warm")
            base: list[tuple[float, Any]] = []
            fixed: list[tuple[float, Any]] = []
            for _ in range(2):  # interleaved
                base.append(_timed(lambda: _traffic_findings(sample, Path(tmp) / "base")))
                undo = [patch_memo(), patch_rs()]
                fixed.append(_timed(lambda: _traffic_findings(sample, Path(tmp) / "fixed")))
                for u in undo:
                    u()
            base_t, base_f = min(base, key=lambda x: x[0])
            t, f = min(fixed, key=lambda x: x[0])
            rows.append(Row("what-if traffic", f"memo + rs: validate_traffic 1,000 corpus exchanges, s "
                            f"(baseline {base_t:.2f}, {1000 / base_t:,.0f}/s)",
                            f"{t:.2f} ({base_t / t:.1f}x faster, {1000 / t:,.0f}/s)", "same findings", f == base_f))
    return rows


if __name__ == "__main__":
    sys.exit(main_wrapper("What-if: proposed hot-path fixes, applied in-process", measure))
