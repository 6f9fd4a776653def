"""Waivers, baselines, the verdict, and the run-to-run diff."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from conformance.report import Waiver, WaiverError, diff_results, load_waivers, render_diff
from conformance.results import RuleResult, RunResults, Summary, Target
from conformance.results.collect import ResultCollector
from conformance.results.pipeline import conclude
from conformance.results.verdict import RunEnd
from conformance.results.waivers import BASELINE_REASON, Acceptance, today_utc
from tests.report.sample import sample_results

TODAY = date(2025, 6, 2)
CHAT = "getChatCompletions"


def _summary() -> Summary:
    return Summary("", {}, Target("h", "model-inference", "2025-05-01", "azure", "standard"), "", "", "0.1.0", "", 1)


def _run(*results: tuple[str, str, str], acceptance: Acceptance | None = None, end: RunEnd | None = None) -> RunResults:
    """Results through the one pipeline, from (rule, operation, outcome) triples."""
    c = ResultCollector()
    for rule, op, outcome in results:
        if outcome in ("violation", "waived", "warning"):
            level = "warning" if outcome == "warning" else "violation"
            c.findings.append({"rule": rule, "operation": op, "level": level, "message": f"{rule} broke",
                               "waived": "earlier" if outcome == "waived" else None})
            c.mark_evaluated(rule, op)
        elif outcome == "pass":
            c.mark_evaluated(rule, op)
        elif outcome == "not_applicable":
            c.mark_not_applicable(rule, op, "n/a")
        else:
            c.mark_not_judged(rule, op, "budget")
    return conclude(c, _summary(), acceptance=acceptance, end=end)


def _outcome(results: RunResults, rule: str, op: str = CHAT) -> RuleResult:
    return next(r for r in results.results if r.rule_id == rule and r.operation_id == op)


def test_live_waiver_waives_and_the_verdict_follows() -> None:
    run = _run(("STREAM-DONE", CHAT, "violation"), ("BODY-JSON", CHAT, "pass"))
    assert run.summary.verdict == "not conformant" and run.summary.exit_code == 1
    waiver = Waiver("STREAM-DONE", "vendor ticket 12", operation="getChat*", expires=TODAY)
    out = _run(("STREAM-DONE", CHAT, "violation"), ("BODY-JSON", CHAT, "pass"),
               acceptance=Acceptance.build([waiver], today=TODAY))
    r = _outcome(out, "STREAM-DONE")
    assert r.outcome == "waived" and r.reason == "vendor ticket 12"
    assert r.findings[0]["waived"] == "vendor ticket 12"
    assert out.summary.counts["violation"] == 0 and out.summary.counts["waived"] == 1
    assert out.summary.verdict == "conformant" and out.summary.exit_code == 0
    assert out.summary.stale_waivers == []  # it matched: never stale


def test_expired_waiver_does_not_apply_and_is_listed() -> None:
    acceptance = Acceptance.build([Waiver("STREAM-DONE", "was fixed", expires=date(2025, 6, 1))], today=TODAY)
    out = _run(("STREAM-DONE", CHAT, "violation"), acceptance=acceptance)
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


def test_unmatched_waivers_are_stale_and_matched_ones_never() -> None:
    waivers = [
        Waiver("BODY-JSON", "passes anyway"),  # matches a pass, not a violation
        Waiver("STREAM-DONE", "other operation", operation="getEmbeddings"),
        Waiver("STREAM-*", "globs are not rule globs"),
        Waiver("ERROR-SHAPE", "matched five times"),
    ]
    out = _run(("STREAM-DONE", CHAT, "violation"), ("BODY-JSON", CHAT, "pass"),
               *[("ERROR-SHAPE", f"op{i}", "violation") for i in range(5)],
               acceptance=Acceptance.build(waivers, today=TODAY))
    assert _outcome(out, "STREAM-DONE").outcome == "violation"
    assert [(w["kind"], w["rule"], w["operation"]) for w in out.summary.stale_waivers] == [
        ("unmatched", "BODY-JSON", "*"),
        ("unmatched", "STREAM-DONE", "getEmbeddings"),
        ("unmatched", "STREAM-*", "*"),
    ]
    assert all(_outcome(out, "ERROR-SHAPE", f"op{i}").reason == "matched five times" for i in range(5))


def test_waiver_dates_are_utc() -> None:
    from datetime import UTC, datetime

    assert today_utc() == datetime.now(UTC).date()
    assert Acceptance().today == today_utc()


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
        ("waivers:\n  - rule: STREAM-DOEN\n    reason: r\n", "unknown rule 'STREAM-DOEN' (did you mean STREAM-DONE?)"),
    ],
)
def test_load_waivers_rejects_bad_files_clearly(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WaiverError, match=None) as info:
        load_waivers(path, known_rules=["STREAM-DONE", "X"])
    assert message in str(info.value) and str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_waivers_file(tmp_path: Path) -> None:
    with pytest.raises(WaiverError, match="cannot read waivers file"):
        load_waivers(tmp_path / "absent.yaml")


def test_baseline_gate_fails_only_on_new_violations() -> None:
    baseline = _run(
        ("STREAM-DONE", CHAT, "violation"), ("ERROR-SHAPE", CHAT, "waived"), ("BODY-JSON", CHAT, "pass")
    )
    triples = (
        ("STREAM-DONE", CHAT, "violation"),  # known
        ("ERROR-SHAPE", CHAT, "violation"),  # known (waived then)
        ("BODY-JSON", CHAT, "violation"),  # new
        ("STREAM-DONE", "getEmbeddings", "violation"),  # same rule, new operation: new
    )
    out = _run(*triples, acceptance=Acceptance.build(baseline=baseline))
    assert _outcome(out, "STREAM-DONE").outcome == "waived"
    assert _outcome(out, "STREAM-DONE").findings[0]["waived"] == BASELINE_REASON
    assert _outcome(out, "STREAM-DONE").reason == BASELINE_REASON
    assert _outcome(out, "ERROR-SHAPE").outcome == "waived"
    assert _outcome(out, "BODY-JSON").outcome == "violation"
    assert _outcome(out, "STREAM-DONE", "getEmbeddings").outcome == "violation"
    assert out.summary.counts["violation"] == 2 and out.summary.exit_code == 1
    only_known = _run(("STREAM-DONE", CHAT, "violation"), acceptance=Acceptance.build(baseline=baseline))
    assert only_known.summary.verdict == "conformant" and only_known.summary.exit_code == 0


def test_verdicts_and_exit_codes() -> None:
    from conformance.results.verdict import DESELECTED

    assert (_run().summary.verdict, _run().summary.exit_code) == ("incomplete", 1)  # nothing judged
    s = _run(("A", CHAT, "not_judged"), ("B", CHAT, "pass")).summary  # a rule that applies was not judged
    assert (s.verdict, s.exit_code) == ("incomplete", 1)
    s = _run(("A", CHAT, "warning"), ("B", CHAT, "not_applicable")).summary
    assert (s.verdict, s.exit_code) == ("conformant", 0)
    s = _run(("A", CHAT, "pass"), end=RunEnd(deselected=["3 tests deselected"])).summary
    assert (s.verdict, s.exit_code, s.deselected) == ("partial", 0, ["3 tests deselected"])
    c = ResultCollector()
    c.mark_evaluated("A", CHAT)
    c.mark_not_judged("B", CHAT, DESELECTED)
    assert conclude(c, _summary()).summary.verdict == "partial"
    s = _run(("A", CHAT, "pass"), end=RunEnd(errors=["test_x crashed"])).summary
    assert (s.verdict, s.exit_code) == ("incomplete", 1)
    s = _run(("A", CHAT, "violation"), end=RunEnd(errors=["op stopped answering"])).summary
    assert (s.verdict, s.exit_code) == ("not conformant", 1)
    # Interrupted (SIGINT, SIGTERM, max duration): incomplete whatever was found, and a waiver never changes that.
    for triples in ((("A", CHAT, "pass"),), (("A", CHAT, "violation"),)):
        s = _run(*triples, end=RunEnd(interrupted="SIGTERM")).summary
        assert (s.verdict, s.exit_code, s.interrupted) == ("incomplete", 1, "SIGTERM")
    s = _run(("A", CHAT, "pass"), end=RunEnd(unreachable=True)).summary
    assert (s.verdict, s.exit_code) == ("incomplete", 3)


def test_diff_new_fixed_accepted_warnings_and_no_longer_judged() -> None:
    old = _run(
        ("A", CHAT, "violation"),
        ("B", CHAT, "pass"),
        ("C", CHAT, "warning"),
        ("D", CHAT, "violation"),
        ("E", CHAT, "pass"),
        ("F", CHAT, "pass"),
        ("H", CHAT, "violation"),
    )
    new = _run(
        ("A", CHAT, "pass"),
        ("B", CHAT, "violation"),
        ("C", CHAT, "pass"),
        ("D", CHAT, "not_judged"),
        ("E", CHAT, "warning"),
        ("G", CHAT, "violation"),
        ("F", CHAT, "pass"),
        ("H", CHAT, "violation"),
        acceptance=Acceptance.build([Waiver("H", "ticket 9")]),
    )
    d = diff_results(old, new)
    assert [c.rule for c in d.new_violations] == ["B", "G"]
    assert [c.rule for c in d.fixed] == ["A"]
    assert [c.rule for c in d.still_failing] == ["H"]
    assert [(c.rule, c.new) for c in d.no_longer_judged] == [("D", "not_judged")]
    assert [c.rule for c in d.new_warnings] == ["E"] and [c.rule for c in d.gone_warnings] == ["C"]
    assert d.exit_code == 1
    text = render_diff(d)
    assert "New violations (2):" in text and "+ B on getChatCompletions: pass -> violation" in text
    assert "+ G on getChatCompletions: absent -> violation" in text and "B broke" in text
    assert "Fixed (1):" in text and "No longer judged (was failing) (1):" in text
    assert "Still failing (accepted) (1):" in text
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
