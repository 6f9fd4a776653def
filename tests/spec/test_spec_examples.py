"""Every vendored upstream example validates against its own spec, except the allow-listed
upstream mistakes in specs/examples-allowlist.yaml, which must match what is found EXACTLY: a fixed
example (or a validator change) that makes an entry stale fails the test, so the list stays honest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.constants import APIS
from conformance.spec import Spec, available_versions, load_spec
from conformance.spec.files import SPECS_DIR

ALLOWLIST = SPECS_DIR / "examples-allowlist.yaml"


def _operation_for(spec: Spec, example_file: Path, example: dict[str, Any]) -> str | None:
    """AOAI examples are bound by `x-ms-examples` in the spec; model-inference ones name the operation."""
    for item in spec.raw.get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict):
                for ref in (op.get("x-ms-examples") or {}).values():
                    if Path(ref.get("$ref", "")).name == example_file.name:
                        return op["operationId"]
    wanted = str(example.get("operationId", "")).lower()
    return next((op_id for op_id in spec.operations if op_id.lower() == wanted), None)


def _example_issues(spec: Spec, example_file: Path) -> list[tuple[str, str, str, str]]:
    """(where, json path, keyword, message) for every problem; nothing is skipped silently."""
    example = json.loads(example_file.read_text(encoding="utf-8"))
    op_id = _operation_for(spec, example_file, example)
    if op_id is None:
        return [
            (
                "operation",
                "$",
                "unknown-operation",
                f"{example.get('operationId')!r} is not an operation of the spec",
            )
        ]
    op = spec.operation(op_id)
    found: list[tuple[str, str, str, str]] = []
    params = example.get("parameters") or {}
    if op.request_schema_pointer is not None:
        if "body" not in params:
            found.append(("request", "$", "missing-body", "the example has no request body"))
        elif not any("json" in mt for mt in op.request_media_types):
            found.append(("request", "$", "not-json", f"request body is {', '.join(op.request_media_types)}"))
        else:
            found += [
                ("request", i.path, i.keyword, i.message)
                for i in spec.validate_request(op_id, params["body"])
                if i.level == "error"
            ]
    for status, response in (example.get("responses") or {}).items():
        if "body" not in response:
            found.append((f"response {status}", "$", "no-body", "the example response has no `body`"))
            continue
        issues = spec.validate_response(op_id, int(status), response["body"])
        found += [(f"response {status}", i.path, i.keyword, i.message) for i in issues if i.level == "error"]
    return found


def _example_files() -> list[tuple[str, str, Path]]:
    out = []
    for api in APIS:
        for version in available_versions(api):
            for f in sorted((SPECS_DIR / api / version / "examples").glob("*.json")):
                out.append((api, version, f))
    return out


def _allowlisted() -> dict[str, set[tuple[str, str, str]]]:
    raw = yaml.safe_load(ALLOWLIST.read_text(encoding="utf-8")) or {}
    out: dict[str, set[tuple[str, str, str]]] = {}
    for entry in raw.get("examples", []):
        assert entry.get("reason", "").strip(), f"allow-list entry without a reason: {entry}"
        out.setdefault(entry["file"], set()).add((entry["where"], entry["path"], entry["keyword"]))
    return out


def test_there_are_examples_to_check() -> None:
    files = _example_files()
    assert len(files) >= 20
    assert {api for api, _, _ in files} == set(APIS)


@pytest.mark.parametrize(
    ("api", "version", "example_file"), _example_files(), ids=lambda v: getattr(v, "name", v)
)
def test_example_matches_allowlist_exactly(api: str, version: str, example_file: Path) -> None:
    spec = load_spec(api, version)
    rel = example_file.relative_to(SPECS_DIR).as_posix()
    found = {(where, path, keyword) for where, path, keyword, _ in _example_issues(spec, example_file)}
    expected = _allowlisted().get(rel, set())
    unexpected = found - expected
    stale = expected - found
    assert not unexpected, f"{rel}: new issues, not allow-listed: {sorted(unexpected)}"
    assert not stale, f"{rel}: allow-listed issues no longer found (remove them): {sorted(stale)}"


def test_allowlist_names_only_existing_files() -> None:
    files = {f.relative_to(SPECS_DIR).as_posix() for _, _, f in _example_files()}
    assert set(_allowlisted()) <= files
