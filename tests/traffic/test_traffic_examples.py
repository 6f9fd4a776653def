"""The upstream spec examples, replayed as recorded traffic, pass every exchange rule in both profiles.

An example is the spec authors' own picture of a conformant exchange, so any violation here is
either a suite false alarm or a known-bad example listed in specs/examples-allowlist.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import yaml

from conformance.runner.offline import validate_traffic
from conformance.spec import Operation, Spec, load_spec
from conformance.spec.files import SPECS_DIR

ALLOWLIST = SPECS_DIR / "examples-allowlist.yaml"
_MI = "model-inference/2025-04-01/examples/"
#: Semantic-rule findings on the generated ("_Gen") examples: their values are placeholders, not a
#: plausible answer. Kept here because specs/examples-allowlist.yaml lists schema issues only
#: (tests/test_spec_examples.py asserts it exactly). (file, rule, JSON path) -> why it is a true finding.
SEMANTIC_KNOWN_BAD = {
    (
        _MI + "GetChatCompletions_MaximumSet_Gen.json",
        "CHAT-CHOICES-INDEX",
        "$.choices[*].index",
    ): "the only choice has index 7",
    (_MI + "GetChatCompletions_MaximumSet_Gen.json", "CHAT-CREATED", "$.created"): "created is 18 (1970)",
    (
        _MI + "GetChatCompletions_MaximumSet_Gen.json",
        "CHAT-USAGE-SUM",
        "$.usage.total_tokens",
    ): "total_tokens 16 != 28 + 19",
    (
        _MI + "GetChatCompletions_AudioModality_Gen.json",
        "CHAT-USAGE-SUM",
        "$.usage.total_tokens",
    ): "total_tokens 16 != 28 + 19",
    (
        _MI + "GetChatCompletions_MaximumSet_Gen.json",
        "STREAM-CONTENT-TYPE",
        "header:content-type",
    ): "the request says stream: true, the example answers one JSON document",
    (
        _MI + "GetEmbeddings_MaximumSet_Gen.json",
        "EMB-DIMENSIONS",
        "$.data[0].embedding",
    ): "dimensions 1024 requested, 12 values given",
    (
        _MI + "GetImageEmbeddings_MaximumSet_Gen.json",
        "EMB-DIMENSIONS",
        "$.data[0].embedding",
    ): "dimensions 1024 requested, 12 values given",
}
PREFIX = {"model-inference": "/models", "azure-openai": "/openai"}
HOST = "https://example-resource.invalid"


def _allowlist() -> list[dict[str, str]]:
    return list((yaml.safe_load(ALLOWLIST.read_text(encoding="utf-8")) or {}).get("examples") or [])


def _example_operations(spec: Spec) -> dict[str, str]:
    """Example file name -> operationId, from the spec's own `x-ms-examples` references."""
    out: dict[str, str] = {}
    for item in (spec.raw.get("paths") or {}).values():
        for op in item.values() if isinstance(item, dict) else ():
            if isinstance(op, dict):
                for ref in (op.get("x-ms-examples") or {}).values():
                    out[Path(ref.get("$ref", "")).name] = op.get("operationId", "")
    return out


def _operation(spec: Spec, example: dict[str, Any], name: str) -> Operation | None:
    # The spec's own x-ms-examples link wins: some example files name a stale operationId.
    wanted = _example_operations(spec).get(name) or example.get("operationId")
    by_lower = {op_id.lower(): op for op_id, op in spec.operations.items()}
    return by_lower.get(str(wanted).lower()) if wanted else None


def _exchange(spec: Spec, op: Operation, example: dict[str, Any], status: str) -> dict[str, Any] | None:
    """One recorded exchange (our traffic format) from an example's parameters and one response."""
    params = example.get("parameters") or {}
    path = op.path
    query: dict[str, str] = {}
    headers = {"Accept": "application/json"}
    for p in op.parameters:
        if p.name not in params:
            continue
        value = str(params[p.name])
        if p.location == "path":
            path = path.replace("{" + p.name + "}", quote(value, safe=""))
        elif p.location == "query":
            query[p.name] = value
        elif p.location == "header":
            headers[p.name] = value
    request: dict[str, Any] = {
        "method": op.method,
        "url": HOST + PREFIX[spec.api] + path + "?" + urlencode(query),
        "headers": headers,
    }
    if "body" in params:
        request["body"] = params["body"]
        headers["Content-Type"] = (op.request_media_types or ("application/json",))[0]
    answer = (example.get("responses") or {}).get(status) or {}
    if "body" not in answer:
        return None
    media = next(iter(op.responses.get(status) or {"application/json": None}))
    response = {
        "status": int(status),
        "headers": {"Content-Type": media, **(answer.get("headers") or {})},
        "body": answer["body"],
    }
    return {"request": request, "response": response}


def _write_examples(root: Path) -> tuple[int, list[dict[str, str]]]:
    """Write every example as a traffic file under `root` (same relative path); return count + skips."""
    written, skipped = 0, []
    for file in sorted(SPECS_DIR.glob("*/*/examples/*.json")):
        api, version = file.parts[-4], file.parts[-3]
        spec = load_spec(api, version)
        rel = file.relative_to(SPECS_DIR).as_posix()
        example = json.loads(file.read_text(encoding="utf-8"))
        op = _operation(spec, example, file.name)
        if op is None:
            skipped.append({"file": rel, "keyword": "unknown-operation"})
            continue
        for status in example.get("responses") or {}:
            record = _exchange(spec, op, example, status)
            if record is None:
                skipped.append({"file": rel, "keyword": "no-body", "where": f"response {status}"})
                continue
            out = root / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(record), encoding="utf-8")
            written += 1
    return written, skipped


def _allowed(finding: dict[str, Any], source: str, allow: list[dict[str, str]]) -> bool:
    if (source, finding["rule"], finding.get("path")) in SEMANTIC_KNOWN_BAD:
        return True
    return finding["rule"] == "SCHEMA-RESPONSE" and any(
        a["file"] == source
        and a.get("path") == finding.get("path")
        and a.get("keyword") == finding.get("keyword")
        and str(a.get("where", "")).startswith("response")
        for a in allow
    )


@pytest.mark.parametrize("profile", ["strict", "azure"])
def test_spec_examples_pass_every_exchange_rule(tmp_path: Path, profile: str) -> None:
    allow = _allowlist()
    written, skipped = _write_examples(tmp_path / "traffic")
    assert written >= 15
    # An example we cannot replay is skipped only when the allow-list says why.
    for s in skipped:
        assert any(a["file"] == s["file"] and a["keyword"] == s["keyword"] for a in allow), s

    results, code = validate_traffic([tmp_path / "traffic"], profile=profile, report_dir=tmp_path / "reports")

    assert results.summary.requests == written
    unexpected, used, excused = [], set(), set()
    for r in results.results:
        for f in r.findings:
            if f["level"] != "violation":
                if f.get("erratum"):
                    excused.add((f["test"], f["rule"], f["path"]))
                continue
            if _allowed(f, f["test"], allow):
                used.add((f["test"], f["rule"], f["path"]))
            else:
                unexpected.append(f"{f['test']}: [{f['rule']}] {f['path']} {f['keyword']}: {f['message']}")
    assert not unexpected, "\n".join(unexpected)
    assert code == (1 if used else 0)
    # The known-bad lists stay honest: every semantic entry still fires (remove it when upstream fixes it).
    assert set(SEMANTIC_KNOWN_BAD) <= used
    listed = {
        (a["file"], "SCHEMA-RESPONSE", a["path"])
        for a in allow
        if str(a.get("where", "")).startswith("response") and a["keyword"] != "no-body"
    }
    # Strict flags every listed issue; azure may excuse some by a documented erratum (as a warning).
    assert listed <= (used if profile == "strict" else used | excused), listed - used - excused
    # Every example was matched to its operation and judged by at least the schema rule.
    judged = {t for r in results.results if r.rule_id == "SCHEMA-RESPONSE" for t in r.tests}
    judged |= {f["test"] for r in results.results if r.rule_id == "SCHEMA-RESPONSE" for f in r.findings}
    assert len(judged) == written
    assert not any(r.outcome == "not_applicable" for r in results.results)
    assert (tmp_path / "reports" / "junit.xml").is_file()
