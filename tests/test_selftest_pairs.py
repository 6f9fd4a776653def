"""Every rule proven both ways: it passes on the unfaulted reference, and some fault makes it fire.

Runs the mutation self-test (`conformance.selftest`) once per module: every fault of the reference's
table on its API(s) in profile azure, the faults that azure forgives through an erratum again in
strict (where they must be violations), and - for the one rule the reference cannot be faulted into
(EMB-INT-FORMATS: it claims no integer format) - a mutating proxy in front of the reference
(tests/hostile/servers.py `MUTANTS`).
"""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile.servers import MUTANTS, ChildRun, child_env, mutating_proxy, run_cli

from conformance.reference import running_reference
from conformance.rules._model import Level
from conformance.rules.catalogue import all_rules
from conformance.selftest import (
    SELFTEST_LIMITS,
    FaultVerdict,
    RunSettings,
    SelftestReport,
    kills,
    run_selftest,
)

pytestmark = pytest.mark.slow

#: Rules the unfaulted reference cannot exercise, because it claims no capability they judge.
#: (a) accepts "not evaluated / not_applicable" for exactly these; each still needs a fault (b).
NOT_APPLICABLE_ON_REFERENCE = {
    "EMB-INT-FORMATS": "the reference refuses int8/uint8/binary/ubinary with 422 (Unsupported.encoding_formats), "
                       "so there is never a 2xx integer-format answer to judge",
    "RETRY-AFTER": "the unfaulted reference never throttles, and the rule only judges 429 answers",
}
#: Tests each mutant needs (a smoke run through the proxy otherwise spends its time elsewhere).
MUTANT_TESTS = {
    "int-formats-as-float": "test_embedding_capabilities",
}


@dataclass
class MutantRun:
    name: str
    rule: str
    run: ChildRun
    results: dict | None


@dataclass
class Proof:
    azure: SelftestReport
    strict: SelftestReport
    mutants: dict[str, MutantRun]
    work: Path


def _run_mutants(work: Path, out: dict[str, MutantRun]) -> None:
    import yaml

    with running_reference() as ref:
        for name, (rule, mutation, caps) in MUTANTS.items():
            with mutating_proxy(ref.base_url, mutation) as proxy:
                d = work / name
                d.mkdir(parents=True)
                target = ref.target("model-inference")
                target.update(endpoint=f"{proxy.url}/models", limits=SELFTEST_LIMITS,
                              capabilities={**target["capabilities"], **caps})
                (d / "target.yaml").write_text(yaml.safe_dump(target), encoding="utf-8")
                run = run_cli(["run", "--target", str(d / "target.yaml"), "--endpoint", f"{proxy.url}/models",
                               "--depth", "smoke", "--report-dir", str(d / "reports"), "--seed", "7", "--workers", "0",
                               "-k", MUTANT_TESTS[name]],
                              env=child_env(CONFORMANCE_API_KEY=ref.api_key), cwd=d, deadline=120)
                results_file = d / "reports" / "results.json"
                results = json.loads(results_file.read_text(encoding="utf-8")) if results_file.exists() else None
                out[name] = MutantRun(name, rule, run, results)


def _erratum_kills(report: SelftestReport) -> list[str]:
    """Faults whose expected rules fired in azure only as warnings an erratum downgraded."""
    names = []
    for v in report.verdicts:
        expected = [r for r in (v.run.results or {}).get("results", []) if r["rule_id"] in v.fault.rules]
        hits = [r for r in expected if kills(r, "azure")]
        if hits and all(r["outcome"] == "warning" and any(f.get("erratum") for f in r["findings"]) for r in hits):
            names.append(v.fault.name)
    return sorted(set(names))


@pytest.fixture(scope="module")
def proof(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proof]:
    work = tmp_path_factory.mktemp("selftest")
    mutants: dict[str, MutantRun] = {}
    side = threading.Thread(target=_run_mutants, args=(work / "mutants", mutants), daemon=True)
    side.start()
    settings = RunSettings()
    azure = run_selftest("model-inference", ("azure",), jobs=2, settings=settings, work_dir=work / "azure")
    strict = run_selftest("model-inference", ("strict",), _erratum_kills(azure), jobs=2, settings=settings,
                          work_dir=work / "strict")
    side.join(timeout=300)
    yield Proof(azure, strict, mutants, work)


def _describe(v: FaultVerdict) -> str:
    fired = ", ".join(f"{r} ({len(p)}x)" for r, p in sorted(v.fired.items())) or "nothing"
    why = f" - run error: {v.run.error}" if v.run.error else ""
    seen = {}
    for r in (v.run.results or {}).get("results", []):
        if r["rule_id"] in v.fault.rules:
            seen.setdefault(r["rule_id"], set()).add(r["outcome"])
    got = "; ".join(f"{rule} outcomes {sorted(o)}" for rule, o in sorted(seen.items())) or "expected rules not evaluated"
    return (f"{v.fault.name} [{v.run.job.api}/{v.run.job.profile}]: expected {', '.join(v.fault.rules)} ({got}); "
            f"fired {fired}{why}")


def test_every_fault_is_killed_by_its_expected_rules(proof: Proof) -> None:
    survivors = [_describe(v) for v in proof.azure.verdicts if not v.killed]
    assert not survivors, f"{len(survivors)} fault(s) survived ({proof.azure.summary_line()}):\n" + "\n".join(survivors)


def test_no_false_alarms_on_the_unfaulted_reference(proof: Proof) -> None:
    runs = proof.azure.baselines + proof.strict.baselines
    alarms = [f"{b.job.api}/{b.job.profile}: {line}" for b in runs for line in _violations(b.results)]
    errors = [f"{b.job.label}: {b.error}" for b in runs if b.error]
    assert not errors, "unfaulted runs produced no results:\n" + "\n".join(errors)
    assert not alarms, f"{len(alarms)} false alarm(s) on the unfaulted reference:\n" + "\n".join(alarms)


def test_erratum_forgiven_faults_are_violations_in_strict(proof: Proof) -> None:
    assert proof.strict.verdicts, "no fault is forgiven by an erratum in azure: expected at least stream-object-chunk"
    assert "stream-object-chunk" in {v.fault.name for v in proof.strict.verdicts}
    weak = []
    for v in proof.strict.verdicts:
        expected = [r for r in (v.run.results or {}).get("results", []) if r["rule_id"] in v.fault.rules]
        if not any(r["outcome"] == "violation" for r in expected):
            weak.append(f"{_describe(v)}; outcomes {sorted({r['outcome'] for r in expected})}")
    assert not weak, "in strict these faults must be violations of their rules:\n" + "\n".join(weak)


def test_every_rule_passes_on_the_unfaulted_reference(proof: Proof) -> None:
    outcomes: dict[str, set[str]] = {}
    for b in proof.azure.baselines:
        for rule, seen in b.outcomes().items():
            outcomes.setdefault(rule, set()).update(seen)
    problems = []
    for rule in all_rules():
        seen = outcomes.get(rule.id, set())
        if rule.id in NOT_APPLICABLE_ON_REFERENCE:
            if "pass" in seen:
                problems.append(f"{rule.id}: now passes on the reference; drop it from NOT_APPLICABLE_ON_REFERENCE")
            elif seen - {"not_applicable"}:
                problems.append(f"{rule.id}: listed as not applicable on the reference but had {sorted(seen)}")
        elif "pass" not in seen:
            problems.append(f"{rule.id}: never passed on the unfaulted reference (outcomes: {sorted(seen) or 'not evaluated'})")
    assert not problems, "rules without the passing half of their pair:\n" + "\n".join(problems)


def test_warning_expected_faults_fire_as_warnings(proof: Proof) -> None:
    """`Fault.expect = "warning"` states the level its rules reach; a violation means the table undersells it."""
    verdicts = [v for v in proof.azure.verdicts if v.fault.expect == "warning"]
    assert {"auth-403", "length-not-reported"} <= {v.fault.name for v in verdicts}
    wrong = []
    for v in verdicts:
        outcomes = {r["outcome"] for r in (v.run.results or {}).get("results", []) if r["rule_id"] in v.fault.rules}
        if "warning" not in outcomes or "violation" in outcomes:
            wrong.append(f"{_describe(v)}; outcomes {sorted(outcomes)}")
    assert not wrong, "faults expected at warning level did not fire exactly as warnings:\n" + "\n".join(wrong)


def test_every_rule_is_caught_by_some_fault(proof: Proof) -> None:
    caught: dict[str, list[str]] = {}
    for v in proof.azure.verdicts + proof.strict.verdicts:
        # A warning-expected fault is caught by a warning: it proves nothing about violation-level rules.
        strength = [r for r in v.fired if v.fault.expect == "violation" or _level(r) == Level.WARNING]
        for rule in strength:
            caught.setdefault(rule, []).append(v.fault.name)
    for m in proof.mutants.values():
        for r in (m.results or {}).get("results", []):
            if kills(r, "azure"):
                caught.setdefault(r["rule_id"], []).append(f"mutant {m.name}")
    missing = [f"{r.id} ({r.family}, {r.level.value}): no fault or mutant run reports it"
               for r in all_rules() if r.id not in caught]
    assert not missing, "rules without the failing half of their pair:\n" + "\n".join(missing)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_proxy_is_caught_by_its_rule(proof: Proof, name: str) -> None:
    m = proof.mutants.get(name)
    assert m is not None, f"mutant {name} did not run (see the fixture's side thread)"
    assert m.results is not None, f"mutant {name}: no results.json; exit {m.run.exit_code}: {m.run.stdout[-800:]}"
    outcomes = sorted({r["outcome"] for r in m.results["results"] if r["rule_id"] == m.rule})
    assert "violation" in outcomes, f"mutant {name}: {m.rule} outcomes {outcomes}, expected a violation"
    assert m.run.exit_code == 1, f"mutant {name}: exit {m.run.exit_code}, expected 1 (violations)"


def test_failure_text_names_rule_operation_path_value_and_curl(proof: Proof) -> None:
    v = next(v for v in proof.azure.verdicts if v.fault.name == "chat-missing-id" and v.run.job.api == "model-inference")
    junit = v.run.report_dir / "junit.xml"
    failures = [f.get("message", "") + "\n" + (f.text or "") for f in ET.parse(junit).getroot().iter("failure")]
    texts = [t for t in failures if "[SCHEMA-RESPONSE]" in t and "operation: getChatCompletions" in t]
    assert texts, f"no SCHEMA-RESPONSE failure for getChatCompletions in {junit}: {[t[:200] for t in failures]}"
    text = texts[0]
    assert "'id' is a required property" in text or "required" in text, text
    assert "  at: $" in text, f"no JSON path line in:\n{text}"
    assert " = " in text.split("  at: ", 1)[1].splitlines()[0], f"the path line shows no value:\n{text}"
    curl = [line for line in text.splitlines() if "curl " in line]
    assert curl and "$CONFORMANCE_API_KEY" in curl[0], f"no curl line with $CONFORMANCE_API_KEY in:\n{text}"
    assert "/chat/completions" in curl[0], curl[0]
    assert v.run.output and "[SCHEMA-RESPONSE]" in v.run.output, "the terminal output does not name the rule"


def _level(rule_id: str) -> Level:
    return next(r.level for r in all_rules() if r.id == rule_id)


def _violations(results: dict | None) -> list[str]:
    out = []
    for r in (results or {}).get("results", []):
        if r["outcome"] == "violation":
            f = (r.get("findings") or [{}])[0]
            out.append(f"{r['rule_id']} on {r['operation_id']} at {f.get('path')} = {f.get('value')}: {f.get('message')}")
    return out
