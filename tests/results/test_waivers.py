"""Waivers, baselines, the verdict, and the run-to-run diff."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from conformance.report import (
    Waiver,
    WaiverError,
    apply_baseline,
    apply_waivers,
    diff_results,
    finalize,
    load_waivers,
    render_diff,
)
from conformance.results import RuleResult, RunResults, Summary, Target
from tests.report.sample import sample_results

TODAY = date(2025, 6, 2)
CHAT = "getChatCompletions"


def _run(*results: tuple[str, str, str]) -> RunResults:
    summary = Summary(
        "", {}, Target("h", "model-inference", "2025-05-01", "azure", "standard"), "", "", "0.1.0", "", 1
    )
    rrs = [
        RuleResult(
            rule,
            op,
            outcome,
            findings=[{"rule": rule, "level": "violation", "message": f"{rule} broke"}]
            if outcome == "violation"
            else [],
        )
        for rule, op, outcome in results
    ]
    return finalize(RunResults(summary=summary, results=rrs))


def _outcome(results: RunResults, rule: str, op: str = CHAT) -> RuleResult:
    return next(r for r in results.results if r.rule_id == rule and r.operation_id == op)


def test_live_waiver_waives_and_the_verdict_follows() -> None:
    run = _run(("STREAM-DONE", CHAT, "violation"), ("BODY-JSON", CHAT, "pass"))
    assert run.summary.verdict == "not conformant" and run.summary.exit_code == 1
    out = apply_waivers(
        run, [Waiver("STREAM-DONE", "vendor ticket 12", operation="getChat*", expires=TODAY)], today=TODAY
    )
    r = _outcome(out, "STREAM-DONE")
    assert r.outcome == "waived" and r.reason == "vendor ticket 12"
    assert r.findings[0]["waived"] == "vendor ticket 12"
    assert out.summary.counts["violation"] == 0 and out.summary.counts["waived"] == 1
    assert out.summary.verdict == "conformant" and out.summary.exit_code == 0
    assert out.summary.stale_waivers == []
    assert _outcome(run, "STREAM-DONE").outcome == "violation"  # the input is not modified


def test_expired_waiver_does_not_apply_and_is_listed() -> None:
    run = _run(("STREAM-DONE", CHAT, "violation"))
    out = apply_waivers(run, [Waiver("STREAM-DONE", "was fixed", expires=date(2025, 6, 1))], today=TODAY)
    assert _outcome(out, "STREAM-DONE").outcome == "violation"
    assert out.summary.verdict == "not conformant" and out.summary.exit_code == 1
    assert out.summary.stale_waivers == [
        {
            "kind": "expired",
            "rule": "STREAM-DONE",
            "operation": "*",
            "reason": "was fixed",
            "expires": "2025-06-01",
            "matches": 1,
        }
    ]


def test_unmatched_waivers_are_stale() -> None:
    run = _run(("STREAM-DONE", CHAT, "violation"), ("BODY-JSON", CHAT, "pass"))
    waivers = [
        Waiver("BODY-JSON", "passes anyway"),  # matches a pass, not a violation
        Waiver("STREAM-DONE", "other operation", operation="getEmbeddings"),
        Waiver("STREAM-*", "globs are not rule globs"),
    ]
    out = apply_waivers(run, waivers, today=TODAY)
    assert _outcome(out, "STREAM-DONE").outcome == "violation"
    assert [(w["kind"], w["rule"], w["operation"]) for w in out.summary.stale_waivers] == [
        ("unmatched", "BODY-JSON", "*"),
        ("unmatched", "STREAM-DONE", "getEmbeddings"),
        ("unmatched", "STREAM-*", "*"),
    ]


def test_only_violation_findings_are_marked_waived() -> None:
    run = sample_results()
    out = apply_waivers(run, [Waiver("SCHEMA-RESPONSE", "r", operation=CHAT)], today=TODAY)
    r = _outcome(out, "SCHEMA-RESPONSE")
    assert r.outcome == "waived" and all(f["waived"] == "r" for f in r.findings)
    assert _outcome(out, "SCHEMA-RESPONSE", "getEmbeddings").findings[0]["waived"] is None  # a note, a pass


def test_load_waivers_reads_dates_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "waivers:\n"
        "  - rule: STREAM-DONE\n    reason: ticket 1\n    expires: 2025-09-30\n"
        "  - rule: ERROR-SHAPE\n    operation: getEmb*\n    reason: ticket 2\n    expires: '2025-10-01'\n"
        "  - {rule: AUTH-WRONG, reason: no expiry}\n",
        encoding="utf-8",
    )
    assert load_waivers(path) == [
        Waiver("STREAM-DONE", "ticket 1", "*", date(2025, 9, 30)),
        Waiver("ERROR-SHAPE", "ticket 2", "getEmb*", date(2025, 10, 1)),
        Waiver("AUTH-WRONG", "no expiry"),
    ]
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    assert load_waivers(tmp_path / "empty.yaml") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("waivers:\n  - rule: X\n    reason: r\n    expire: 2025-01-01\n", "unknown key(s) expire"),
        ("waivers:\n  - rule: X\n", '"reason" is required'),
        ("waivers:\n  - reason: r\n", '"rule" is required'),
        ("waivers:\n  - rule: X\n    reason: r\n    expires: next week\n", '"expires" must be a date'),
        (
            "waivers:\n  - rule: X\n    reason: r\n    operation: 3\n",
            '"operation" must be a non-empty string',
        ),
        ("- rule: X\n", 'single key "waivers"'),
        ("waivers: {rule: X}\n", '"waivers" must be a list'),
        ("waivers: [\n", "not valid YAML"),
        ("waivers:\n  - just a string\n", "waivers[0]: expected a mapping"),
    ],
)
def test_load_waivers_rejects_bad_files_clearly(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WaiverError, match=None) as info:
        load_waivers(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_waivers_file(tmp_path: Path) -> None:
    with pytest.raises(WaiverError, match="cannot read waivers file"):
        load_waivers(tmp_path / "absent.yaml")


def test_baseline_gate_fails_only_on_new_violations() -> None:
    baseline = _run(
        ("STREAM-DONE", CHAT, "violation"), ("ERROR-SHAPE", CHAT, "waived"), ("BODY-JSON", CHAT, "pass")
    )
    current = _run(
        ("STREAM-DONE", CHAT, "violation"),  # known
        ("ERROR-SHAPE", CHAT, "violation"),  # known (waived then)
        ("BODY-JSON", CHAT, "violation"),  # new
        ("STREAM-DONE", "getEmbeddings", "violation"),  # same rule, new operation: new
    )
    out = apply_baseline(current, baseline)
    assert _outcome(out, "STREAM-DONE").outcome == "waived"
    assert _outcome(out, "STREAM-DONE").findings[0]["waived"] == "in baseline"
    assert _outcome(out, "ERROR-SHAPE").outcome == "waived"
    assert _outcome(out, "BODY-JSON").outcome == "violation"
    assert _outcome(out, "STREAM-DONE", "getEmbeddings").outcome == "violation"
    assert out.summary.counts["violation"] == 2 and out.summary.exit_code == 1
    only_known = apply_baseline(_run(("STREAM-DONE", CHAT, "violation")), baseline)
    assert only_known.summary.verdict == "conformant" and only_known.summary.exit_code == 0


def test_finalize_verdicts() -> None:
    assert _run().summary.verdict == "incomplete"
    assert _run(("A", CHAT, "skipped"), ("B", CHAT, "not_applicable")).summary.verdict == "incomplete"
    assert _run(("A", CHAT, "warning")).summary.verdict == "conformant"
    cut = finalize(_run(("A", CHAT, "pass")), complete=False)
    assert cut.summary.verdict == "incomplete" and cut.summary.exit_code == 0
    crashed = _run(("A", CHAT, "pass"))
    crashed.summary.exit_code = 3  # an internal error code set by the caller survives
    assert finalize(crashed).summary.exit_code == 3
    # Gates keep an "incomplete" verdict: a waiver never turns an interrupted run into "conformant".
    interrupted_ok = finalize(_run(("B", CHAT, "pass")), complete=False)
    assert apply_waivers(interrupted_ok, [], today=TODAY).summary.verdict == "incomplete"
    assert apply_baseline(interrupted_ok, _run()).summary.verdict == "incomplete"


def test_diff_new_fixed_warnings_and_unchecked() -> None:
    old = _run(
        ("A", CHAT, "violation"),
        ("B", CHAT, "pass"),
        ("C", CHAT, "warning"),
        ("D", CHAT, "violation"),
        ("E", CHAT, "pass"),
        ("F", CHAT, "pass"),
    )
    new = _run(
        ("A", CHAT, "pass"),
        ("B", CHAT, "violation"),
        ("C", CHAT, "pass"),
        ("D", CHAT, "skipped"),
        ("E", CHAT, "warning"),
        ("G", CHAT, "violation"),
        ("F", CHAT, "pass"),
    )
    d = diff_results(old, new)
    assert [c.rule for c in d.new_violations] == ["B", "G"]
    assert [c.rule for c in d.fixed] == ["A"]
    assert [(c.rule, c.new) for c in d.no_longer_checked] == [("D", "skipped")]
    assert [c.rule for c in d.new_warnings] == ["E"] and [c.rule for c in d.gone_warnings] == ["C"]
    assert {c.rule for c in d.changed} == {"A", "B", "C", "D", "E", "G"}
    assert d.exit_code == 1
    text = render_diff(d)
    assert "New violations (2):" in text and "+ B on getChatCompletions: pass -> violation" in text
    assert "+ G on getChatCompletions: absent -> violation" in text and "B broke" in text
    assert "Fixed (1):" in text and "No longer checked (was failing) (1):" in text
    assert "New warnings (1):" in text and "Gone warnings (1):" in text
    assert text.rstrip().endswith("Result: 2 new violations -> exit 1")


def test_diff_of_identical_runs_and_hostile_messages() -> None:
    run = sample_results()
    d = diff_results(run, run)
    assert d.exit_code == 0 and not d.changed and "No outcome changed." in render_diff(d)
    fixed = diff_results(run, sample_results(failing=False))
    assert fixed.exit_code == 0 and {c.rule for c in fixed.changed} == {
        "SCHEMA-RESPONSE",
        "STREAM-DONE",
        "X-RETIRED-RULE",
    }
    back = render_diff(diff_results(sample_results(failing=False), run))
    assert "\x1b" not in back and "\\x1b[31m" in back  # the finding message's escape is shown, not obeyed
