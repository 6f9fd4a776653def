"""results.json: round-trips, matches the schema documented in docs/results-format.md, holds no secret."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import jsonschema
import pytest

from conformance.report import read_results_json, write_reports, write_results_json
from conformance.results import RunResults
from conformance.transport import redact
from tests.paths import REPO
from tests.report.sample import FAKE_SECRET, sample_results

DOC = REPO / "docs" / "results-format.md"


@pytest.fixture(scope="module")
def schema() -> dict:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- results-schema -->\s*```json\n(.*?)```", text, re.S)
    assert block, "docs/results-format.md lost its JSON Schema block"
    return json.loads(block.group(1))


def test_schema_in_the_doc_is_a_valid_schema(schema: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("failing", [True, False])
def test_written_file_matches_the_documented_schema(tmp_path: Path, schema: dict, failing: bool) -> None:
    path = tmp_path / "results.json"
    write_results_json(sample_results(failing=failing), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: e.json_path)
    assert not errors, [f"{e.json_path}: {e.message}" for e in errors]
    assert data["format_version"] == 2


def test_schema_catches_a_drifted_file(schema: dict) -> None:
    data = sample_results().to_json()
    data["results"][0]["outcome"] = "passed"  # not a documented outcome
    data["summary"]["target"]["endpoint_host"] = "user:pw@host"  # credentials never belong here
    paths = {e.json_path for e in jsonschema.Draft202012Validator(schema).iter_errors(data)}
    assert paths == {"$.results[0].outcome", "$.summary.target.endpoint_host"}


def test_every_field_is_documented(schema: dict) -> None:
    doc = DOC.read_text(encoding="utf-8")
    data = sample_results().to_json()
    for key in list(data) + list(data["summary"]) + list(data["results"][0]):
        assert f"`{key}`" in doc, key
    for key in data["summary"]["target"]:
        assert f"`target.{key}`" in doc, key
    finding = next(f for r in data["results"] for f in r["findings"])
    for key in finding:
        assert f"`{key}`" in doc, key


def test_round_trip_to_json_from_json(tmp_path: Path) -> None:
    original = sample_results(secret="just-some-text")
    path = tmp_path / "results.json"
    write_results_json(original, path)
    loaded = RunResults.from_json(json.loads(path.read_text(encoding="utf-8")))
    assert loaded == original
    assert read_results_json(path) == original


def test_reader_ignores_unknown_fields_and_refuses_other_versions(tmp_path: Path) -> None:
    data = sample_results().to_json()
    data["summary"]["new_optional_field"] = 1
    data["summary"]["target"]["region"] = "westeurope"
    data["results"][0]["duration_ms"] = 12
    data["something_new"] = {}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert read_results_json(path).results[0].rule_id == data["results"][0]["rule_id"]
    data["format_version"] = 3
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="format_version 3, this suite reads 2"):
        read_results_json(path)
    data["format_version"] = 1
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="format_version 1 was written by an older suite version"):
        read_results_json(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read results"):
        read_results_json(path)
    path.write_text('{"format_version": 2, "summary": {"verdict": "x"}}', encoding="utf-8")
    with pytest.raises(ValueError, match="incomplete results"):
        read_results_json(path)


def test_no_secret_and_no_credential_header_in_the_file(tmp_path: Path) -> None:
    redact.register_secret(FAKE_SECRET)
    results = sample_results()
    results.exchanges["x1"]["request"]["headers"]["Authorization"] = "Bearer unregistered-tok-9"
    results.exchanges["x1"]["request"]["url"] += "&api-key=unregistered-key-9"
    results.exchanges["x1"]["response"]["headers"][FAKE_SECRET] = "secret as a header name"
    path = tmp_path / "results.json"
    write_results_json(results, path)
    text = path.read_text(encoding="utf-8")
    assert FAKE_SECRET not in text and "unregistered-tok-9" not in text and "unregistered-key-9" not in text
    data = json.loads(text)
    assert data["exchanges"]["x1"]["request"]["headers"]["Authorization"] == "[redacted]"
    assert redact.REDACTED in data["exchanges"]["x1"]["response"]["body"]
    assert results.exchanges["x1"]["request"]["headers"]["Authorization"] == "Bearer unregistered-tok-9"


def test_unencodable_text_still_writes_valid_json(tmp_path: Path) -> None:
    results = sample_results()
    results.exchanges["x1"]["response"]["body"] = "lone \ud800 surrogate \x1b[31m"
    path = tmp_path / "results.json"
    write_results_json(results, path)
    data = json.loads(path.read_bytes().decode("utf-8"))  # strict UTF-8
    assert data["exchanges"]["x1"]["response"]["body"] == "lone \ud800 surrogate \x1b[31m"


def test_write_reports_writes_both_atomically_and_readable(tmp_path: Path) -> None:
    out = write_reports(sample_results(), tmp_path / "reports", html_name="r.html", json_name="r.json")
    assert out == {"html": tmp_path / "reports" / "r.html", "json": tmp_path / "reports" / "r.json"}
    for p in out.values():
        assert p.stat().st_size > 1000 and stat.S_IMODE(p.stat().st_mode) == 0o644
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["r.html", "r.json"]  # no temp files
