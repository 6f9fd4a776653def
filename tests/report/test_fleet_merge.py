"""conformance merge: one row per deployment, worst first, rules failing widely first, safe HTML, fleet.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from conformance.cli import main
from conformance.report import write_reports
from conformance.report.fleet import find_results
from conformance.report.fleet_html import merge
from conformance.transport import redact
from tests.report.sample import FAKE_SECRET, SCRIPT, sample_results

DOC = Path(__file__).resolve().parents[2] / "docs" / "results-format.md"


@pytest.fixture(scope="module")
def fleet_schema() -> dict:
    block = re.search(r"<!-- fleet-schema -->\s*```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block, "docs/results-format.md lost its fleet.json schema block"
    schema = json.loads(block.group(1))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _runs(root: Path) -> Path:
    """Three deployments: two failing the same rules, one conformant, one with hostile names."""
    runs = root / "runs"
    failing = sample_results()
    write_reports(failing, runs / "staging")
    write_reports(sample_results(failing=False), runs / "prod-eu")
    hostile = sample_results()
    hostile.summary.target.endpoint_host = f"{SCRIPT}.example"
    hostile.results = [r for r in hostile.results if r.rule_id != "STREAM-DONE"]
    hostile.summary.counts["violation"] -= 1
    write_reports(hostile, runs / "prod-us")
    return runs


def test_rows_worst_first_with_relative_links(tmp_path: Path, fleet_schema: dict) -> None:
    runs = _runs(tmp_path)
    fleet, paths = merge([runs], tmp_path / "out")
    assert [d.name for d in fleet.deployments] == ["staging", "prod-us", "prod-eu"]
    assert [d.verdict for d in fleet.deployments] == ["not conformant", "not conformant", "conformant"]
    assert fleet.deployments[0].report == "../runs/staging/report.html"
    assert fleet.exit_code == 1
    # The rule failing on both failing deployments comes before the one failing on one.
    spread = {r.rule_id: len(r.deployments) for r in fleet.failing_rules}
    assert spread["SCHEMA-RESPONSE"] == 2 and spread["STREAM-DONE"] == 1
    assert [r.rule_id for r in fleet.failing_rules][-1] == "STREAM-DONE"
    # Families failing on most deployments are the first columns.
    assert fleet.families[0] == "schema"
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    errors = [e.message for e in jsonschema.Draft202012Validator(fleet_schema).iter_errors(data)]
    assert errors == []
    assert data["summary"] == {
        "deployments": 3, "verdicts": {"not conformant": 2, "conformant": 1}, "not_run": 0, "exit_code": 1
    }


def test_page_is_self_contained_and_escapes_server_text(tmp_path: Path) -> None:
    redact.register_secret(FAKE_SECRET)
    runs = _runs(tmp_path)
    _, paths = merge([runs], tmp_path / "out")
    page = paths["html"].read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;" in page  # the host part of the hostile endpoint, as text
    assert "<script" not in page  # the fleet page has no script at all
    assert FAKE_SECRET not in page
    assert "Content-Security-Policy" in page and "script-src 'none'" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing loaded from outside
    assert 'href="../runs/staging/report.html"' in page


def test_unreadable_and_duplicate_files(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    broken = tmp_path / "broken" / "results.json"
    broken.parent.mkdir()
    broken.write_text('{"format_version": 1}', encoding="utf-8")
    files = find_results([runs, runs / "staging" / "results.json", broken])
    assert len(files) == 4  # the staging file once, although named twice
    wrong_types = tmp_path / "wrong-types" / "results.json"
    wrong_types.parent.mkdir()
    data = json.loads((runs / "staging" / "results.json").read_text(encoding="utf-8"))
    data["summary"]["counts"] = ["not", "an", "object"]
    wrong_types.write_text(json.dumps(data), encoding="utf-8")
    fleet, _ = merge([runs, broken, wrong_types], tmp_path / "out")
    assert len(fleet.deployments) == 3
    assert [(n.name, n.exit_code) for n in fleet.not_run] == [("broken", 2), ("wrong-types", 2)]
    assert "no summary" in fleet.not_run[0].reason
    assert fleet.exit_code == 2  # worst of the inputs


def test_merge_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = _runs(tmp_path)
    out = tmp_path / "out"
    assert main(["merge", str(runs / "prod-eu"), "-o", str(out)]) == 0
    assert main(["merge", str(runs), "-o", str(out)]) == 1
    assert (out / "fleet.html").is_file() and (out / "fleet.json").is_file()
    capsys.readouterr()
    assert main(["merge", str(tmp_path / "nothing-here"), "-o", str(out)]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["merge", str(tmp_path / "empty"), "-o", str(out)]) == 2
    assert "no results.json" in capsys.readouterr().err


def test_headline_says_exactly_how_many_are_not_conformant(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_reports(sample_results(failing=False), runs / "a")
    partial = sample_results(failing=False)
    partial.summary.verdict = "partial"  # some tests deselected: not a violation, not a clean pass either
    write_reports(partial, runs / "b")
    _, paths = merge([runs], tmp_path / "out")
    page = paths["html"].read_text(encoding="utf-8")
    assert '<div class="verdict v-incomplete" role="status"><div><div class="big">1 of 2 conformant</div>' in page
    assert "not conformant" not in page.split("<main>")[0]
