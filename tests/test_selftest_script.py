"""The mutation script's own logic: what counts as a kill, which API a fault runs on, test selection,
the summary line and the exit code (one real run of the script against one fault)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.reference.faults import FAULTS, Fault
from conformance.reference.personas import PERSONAS
from conformance.selftest import (
    DEFAULT_SEED,
    Job,
    RunOutcome,
    RunSettings,
    SeedSweep,
    command,
    fault_apis,
    kills,
    plan,
    selection,
    sweep_seeds,
)


def _result(rule: str, outcome: str, erratum: str | None = None) -> dict:
    return {"rule_id": rule, "operation_id": "getChatCompletions", "outcome": outcome,
            "findings": [{"path": "$.id", "erratum": erratum}], "tests": []}


def test_a_violation_always_kills_and_a_pass_never_does() -> None:
    assert kills(_result("SCHEMA-RESPONSE", "violation"), "strict")
    assert not kills(_result("SCHEMA-RESPONSE", "pass"), "azure")
    assert not kills(_result("SCHEMA-RESPONSE", "not_applicable"), "azure")


def test_a_warning_kills_only_for_warning_rules_or_an_erratum_in_azure() -> None:
    assert kills(_result("STREAM-SDK-INTEROP", "warning"), "strict")  # a WARNING-level rule
    forgiven = _result("STREAM-CHUNK-SCHEMA", "warning", erratum="C-OPENAI-WIRE-SHAPES: ...")
    assert kills(forgiven, "azure")
    assert not kills(forgiven, "strict"), "in strict a violation-level rule must report a violation"
    # A violation-level rule that only warned of its own accord (no erratum) has not caught the fault.
    assert not kills(_result("AUTH-MISSING", "warning"), "azure")


def test_a_warning_expected_fault_is_killed_by_a_warning_or_a_violation(tmp_path: Path) -> None:
    assert kills(_result("AUTH-MISSING", "warning"), "strict", "warning")
    assert kills(_result("AUTH-MISSING", "violation"), "azure", "warning")
    assert not kills(_result("AUTH-MISSING", "pass"), "azure", "warning")
    assert FAULTS["auth-403"].expect == "warning" and FAULTS["length-not-reported"].expect == "warning"
    assert FAULTS["chat-missing-id"].expect == "violation"
    with pytest.raises(ValueError, match="expect must be one of"):
        Fault("x", "", ("AUTH-MISSING",), expect="note")
    # The run's firings honour the level: the same warning kills only a warning-expected fault.
    run = RunOutcome(Job("model-inference", "azure", "auth-403"), 1, 1.0, tmp_path,
                     {"results": [_result("AUTH-MISSING", "warning")]})
    assert run.fired("warning") == {"AUTH-MISSING": {"getChatCompletions at $.id"}}
    assert run.fired() == {}


def test_faults_run_on_their_api() -> None:
    any_api = Fault("x", "", ("SCHEMA-RESPONSE",), "any")
    aoai = Fault("y", "", ("SCHEMA-RESPONSE",), "azure-openai")
    mi = Fault("z", "", ("SCHEMA-RESPONSE",), "model-inference")
    assert fault_apis(any_api, "model-inference") == ["model-inference"]
    assert fault_apis(any_api, "both") == ["model-inference", "azure-openai"]
    assert fault_apis(aoai, "model-inference") == ["azure-openai"]
    assert fault_apis(mi, "azure-openai") == []
    baselines, jobs = plan("model-inference", ["azure", "strict"], [any_api, aoai])
    assert {(j.api, j.profile) for j in baselines} == {(a, p) for a in ("model-inference", "azure-openai")
                                                       for p in ("azure", "strict")}
    assert [(f.name, j.api, j.profile) for f, j in jobs] == [
        ("x", "model-inference", "azure"), ("x", "model-inference", "strict"),
        ("y", "azure-openai", "azure"), ("y", "azure-openai", "strict")]


def test_personas_are_baselines_of_every_api_and_profile() -> None:
    baselines, jobs = plan("both", ["azure", "strict"], [], ["sparse"])
    assert jobs == []
    personas = [(j.api, j.profile) for j in baselines if j.persona == "sparse"]
    assert sorted(personas) == sorted((a, p) for a in ("model-inference", "azure-openai") for p in ("azure", "strict"))
    job = Job("azure-openai", "strict", persona="sparse")
    assert job.label == "persona-sparse@azure-openai/strict"
    assert command(job, Path("r"), RunSettings())[-4:] == ["--persona", "sparse", "--seed", str(DEFAULT_SEED)]


def test_every_fault_in_the_table_gets_a_run_by_default() -> None:
    _, jobs = plan("model-inference", ["azure"], FAULTS.values())
    assert sorted(f.name for f, _ in jobs) == sorted(FAULTS)


def test_selection_names_the_tests_that_judged_the_rules_else_runs_everything(tmp_path: Path) -> None:
    base = RunOutcome(Job("model-inference", "azure"), 0, 1.0, tmp_path, {"results": [
        {"rule_id": "STREAM-DONE", "outcome": "pass", "findings": [], "tests": [
            "conformance/suite/test_semantics.py::test_streamed_answer[getChatCompletions]",
            "conformance/suite/test_semantics.py::test_stop_sequence_is_not_returned[getChatCompletions]"]},
    ]})
    assert selection(["STREAM-DONE"], base) == "test_stop_sequence_is_not_returned or test_streamed_answer"
    assert selection(["STREAM-DONE", "CHAT-STOP"], base) is None  # CHAT-STOP judged nowhere: full run
    assert "test_missing_credential_is_refused" in (selection(["RETRY-AFTER"], base) or "")


@pytest.mark.slow
def test_script_prints_the_table_and_the_exact_last_line(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.selftest", "--faults", "chat-missing-id", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "killed 1/1, false alarms 0", proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.returncode == 0
    row = next(line for line in lines if line.startswith("chat-missing-id"))
    assert " yes " in row and "SCHEMA-RESPONSE" in row
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["killed"] == 1 and doc["false_alarms"] == 0 and doc["faults_detail"][0]["expected_fired"] == ["SCHEMA-RESPONSE"]


def test_unknown_fault_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "conformance.selftest", "--faults", "no-such-fault"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "no-such-fault" in proc.stderr


def _sweep_run(tmp_path: Path, seed: int, api: str, alarms: list[dict]) -> RunOutcome:
    return RunOutcome(Job(api, "azure", seed=seed), 0 if not alarms else 1, 1.0, tmp_path, {"results": alarms})


def test_a_seed_sweep_counts_violations_and_warnings_as_false_alarms_per_seed(tmp_path: Path) -> None:
    runs = [
        _sweep_run(tmp_path, 1, "model-inference", []),
        _sweep_run(tmp_path, 1, "azure-openai", [_result("CHAT-MAX-TOKENS", "warning")]),
        _sweep_run(tmp_path, 2, "model-inference", [_result("SCHEMA-RESPONSE", "violation"),
                                                    _result("CHAT-STOP", "pass")]),
    ]
    sweep = SeedSweep(runs, [1, 2], "standard")
    assert sweep.per_seed() == {1: 1, 2: 1} and sweep.false_alarms == 2 and not sweep.ok
    assert sweep.summary_line() == "false alarms 2 over 3 runs"
    text = sweep.render()
    assert "false alarm: seed 1 azure-openai/azure: warning CHAT-MAX-TOKENS on getChatCompletions" in text
    assert text.splitlines()[0].split() == ["seed", "persona", "azure-openai/azure", "model-inference/azure", "false",
                                            "alarms"]
    assert Job("model-inference", "azure", seed=7).label == "unfaulted@model-inference/azure#7"


def test_a_seed_sweep_shows_each_persona_on_its_own_row(tmp_path: Path) -> None:
    persona_run = RunOutcome(Job("azure-openai", "azure", persona="sparse", seed=1), 1, 1.0, tmp_path,
                             {"results": [_result("CLIENT-CALL", "warning")]})
    sweep = SeedSweep([_sweep_run(tmp_path, 1, "azure-openai", []), persona_run], [1], "standard")
    rows = [line.split() for line in sweep.render().splitlines()[1:3]]
    assert rows == [["1", "(none)", "0", "0"], ["1", "sparse", "1", "1"]]
    assert "false alarm: seed 1 azure-openai/azure persona sparse: warning CLIENT-CALL" in sweep.render()
    assert sweep.per_seed() == {1: 1} and sweep.to_json()["runs"][1]["persona"] == "sparse"


@pytest.mark.slow
def test_the_reference_and_every_persona_raise_no_false_alarm_over_a_few_seeds(tmp_path: Path) -> None:
    # `python -m conformance.selftest --seeds` runs 20 seeds per API, profile and persona; CI runs a few:
    # every persona at standard depth in azure here, in strict at smoke depth in tests/reference/test_personas.py.
    seeds = [DEFAULT_SEED + 101, DEFAULT_SEED + 202]
    everyone = [None, *sorted(PERSONAS)]
    apis = ["model-inference", "azure-openai"]
    azure = sweep_seeds(apis, ["azure"], seeds[:1], work_dir=tmp_path / "azure", personas=everyone)
    strict = sweep_seeds(apis, ["strict"], seeds[1:], work_dir=tmp_path / "strict")
    assert {r.job.persona for r in azure.runs} == set(everyone)
    for sweep in (azure, strict):
        assert not sweep.errors, sweep.errors
        assert sweep.false_alarms == 0, sweep.render()
        assert all(r.results["summary"]["target"]["depth"] == "standard" for r in sweep.runs)
