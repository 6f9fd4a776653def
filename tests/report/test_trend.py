"""conformance trend: nights per deployment, the night a rule started or stopped failing, inline SVG."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conformance.cli import main
from conformance.report.json_out import write_results_json
from conformance.report.trend import collect
from conformance.report.trend_html import trend
from conformance.results import RuleResult, RunResults, count_outcomes
from tests.report.sample import SCRIPT, sample_results

NIGHTS = ("2026-11-27", "2026-11-28", "2026-11-29")


def night(date: str, outcomes: dict[str, str], *, host: str = "contoso.services.ai.azure.com") -> RunResults:
    """A synthetic run of one night: `outcomes` maps rule id -> outcome on getChatCompletions."""
    r = sample_results(failing=False)
    families = {"SCHEMA-RESPONSE": "schema", "STREAM-DONE": "streaming", "CHAT-USAGE-SUM": "semantics"}
    r.results = [
        RuleResult(rule, "getChatCompletions", outcome, family=families.get(rule, "schema"),
                   level="violation",
                   findings=[{"rule": rule, "level": "violation", "message": "x"}] if outcome == "violation" else [])
        for rule, outcome in outcomes.items()
    ]
    r.summary.counts = count_outcomes(r.results)
    r.summary.verdict = "not conformant" if r.summary.counts["violation"] else "conformant"
    r.summary.exit_code = 1 if r.summary.counts["violation"] else 0
    r.summary.started = f"{date}T03:17:00Z"
    r.summary.target.endpoint_host = host
    return r


def three_nights(root: Path) -> None:
    """staging: STREAM-DONE starts failing on the second night (a fault appeared) and stays."""
    plan = [
        {"SCHEMA-RESPONSE": "pass", "STREAM-DONE": "pass", "CHAT-USAGE-SUM": "violation"},
        {"SCHEMA-RESPONSE": "pass", "STREAM-DONE": "violation", "CHAT-USAGE-SUM": "violation"},
        {"SCHEMA-RESPONSE": "pass", "STREAM-DONE": "violation", "CHAT-USAGE-SUM": "pass"},
    ]
    for date, outcomes in zip(NIGHTS, plan, strict=True):
        write_results_json(night(date, outcomes), root / "staging" / f"{date}.json")


def test_the_night_a_fault_appeared_is_marked(tmp_path: Path) -> None:
    three_nights(tmp_path / "trend")
    result, paths = trend(tmp_path / "trend", tmp_path / "out")
    (d,) = result.deployments
    assert d.name == "staging"
    assert [n.date for n in d.nights] == list(NIGHTS)
    assert [n.violations for n in d.nights] == [1, 2, 1]
    events = [(e.date, e.rule_id, e.kind) for e in d.events]
    assert events == [("2026-11-28", "STREAM-DONE", "started"), ("2026-11-29", "CHAT-USAGE-SUM", "stopped")]
    page = paths["html"].read_text(encoding="utf-8")
    # The counts chart marks the second night as the one a rule started failing; the grid shows the family.
    assert re.search(r'<g class="marker" data-night="2026-11-28" data-kind="started">', page)
    assert re.search(r'data-family="streaming" data-night="2026-11-27" data-worst="pass"', page)
    assert re.search(r'data-family="streaming" data-night="2026-11-28" data-worst="violation"', page)
    assert page.count("<svg") == 2 and "<script" not in page
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["deployments"][0]["events"][0]["kind"] == "started"


def test_layouts_last_run_of_a_night_and_unreadable_files(tmp_path: Path) -> None:
    root = tmp_path / "trend"
    # <date>/<deployment>/results.json and <deployment>/<date>/results.json mean the same deployment.
    write_results_json(night(NIGHTS[0], {"STREAM-DONE": "pass"}), root / NIGHTS[0] / "prod" / "results.json")
    write_results_json(night(NIGHTS[1], {"STREAM-DONE": "violation"}), root / "prod" / NIGHTS[1] / "results.json")
    # Two runs on the third night: the later one counts.
    early = night(NIGHTS[2], {"STREAM-DONE": "violation"})
    late = night(NIGHTS[2], {"STREAM-DONE": "pass"})
    late.summary.started = f"{NIGHTS[2]}T09:00:00Z"
    write_results_json(late, root / "prod" / f"{NIGHTS[2]}-b.json")
    write_results_json(early, root / "prod" / f"{NIGHTS[2]}-a.json")
    (root / "prod" / "notes.json").write_text("[]", encoding="utf-8")
    result = collect(root)
    (d,) = result.deployments
    assert d.name == "prod"
    assert [(e.date, e.kind) for e in d.events] == [(NIGHTS[1], "started"), (NIGHTS[2], "stopped")]
    assert [u["file"] for u in result.unreadable] == ["prod/notes.json"]


def test_waived_and_no_longer_judged_are_not_fixes(tmp_path: Path) -> None:
    root = tmp_path / "t"
    write_results_json(night(NIGHTS[0], {"STREAM-DONE": "violation", "CHAT-USAGE-SUM": "violation"}),
                       root / "a" / f"{NIGHTS[0]}.json")
    write_results_json(night(NIGHTS[1], {"STREAM-DONE": "waived", "CHAT-USAGE-SUM": "not_applicable"}),
                       root / "a" / f"{NIGHTS[1]}.json")
    (d,) = collect(root).deployments
    assert sorted((e.rule_id, e.kind) for e in d.events) == [
        ("CHAT-USAGE-SUM", "no longer judged"), ("STREAM-DONE", "waived")
    ]


def test_files_directly_in_the_folder_group_by_endpoint_and_escape(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    for date in NIGHTS[:2]:
        write_results_json(night(date, {"STREAM-DONE": "pass"}, host=f"{SCRIPT}.example"), root / f"{date}.json")
    result, paths = trend(root, tmp_path / "out")
    assert len(result.deployments) == 1 and len(result.deployments[0].nights) == 2
    page = paths["html"].read_text(encoding="utf-8")
    assert "&lt;script&gt;" in page and "<script" not in page


def test_trend_command(tmp_path: Path) -> None:
    three_nights(tmp_path / "trend")
    assert main(["trend", str(tmp_path / "trend"), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "trend.html").is_file()
    assert main(["trend", str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 2
