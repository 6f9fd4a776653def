"""The verdict and the exit code, decided once from the rule results and how the run ended."""

from __future__ import annotations

from conformance.results import RuleResult
from conformance.results.verdict import DESELECTED, RunEnd, decide


def _row(outcome: str, level: str = "violation", reason: str = "") -> RuleResult:
    return RuleResult(rule_id="R", operation_id="op", outcome=outcome, level=level, reason=reason)


def test_a_rule_that_can_fail_the_run_and_was_not_judged_makes_it_incomplete() -> None:
    rows = [_row("pass"), _row("not_judged", reason="no successful streamed answer was obtained")]
    assert decide(rows, RunEnd()) == ("incomplete", 1)


def test_a_warning_level_rule_not_judged_leaves_the_verdict_as_it_is() -> None:
    """The CLIENT-* rules without the clients extra: judging them could only have warned."""
    rows = [_row("pass"), _row("not_judged", level="warning", reason="not judged (install the clients extra)")]
    assert decide(rows, RunEnd()) == ("conformant", 0)
    assert decide([*rows, _row("violation")], RunEnd()) == ("not conformant", 1)


def test_deselection_is_partial_and_an_interruption_incomplete() -> None:
    assert decide([_row("pass"), _row("not_judged", reason=DESELECTED)], RunEnd()) == ("partial", 0)
    assert decide([_row("pass")], RunEnd(interrupted="SIGINT")) == ("incomplete", 1)
    assert decide([], RunEnd()) == ("incomplete", 1)  # nothing judged
