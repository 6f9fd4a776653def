"""The results pipeline: findings -> rule results -> waivers and baseline -> coverage -> verdict -> exit code.

`conclude` is the only function that turns what a run collected into `RunResults`; live runs (the
pytest plugin) and recorded traffic (`validate-traffic`) both call it once, after which nothing
changes an outcome, a count, the verdict or the exit code.

Coverage: every (rule, operation) pair the suite planned to judge appears, as judged, not
applicable (with the reason) or not judged (with the reason). A planned pair that got no judgement
is explained from what the run saw: the operation was not served, the test was deselected, skipped
or never ran, or the answer the rule needs never came ("no successful streamed answer was
obtained"); when that answer did come but nothing in it called for the rule, it is not applicable.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from conformance.results.collect import MAX_NOTES, Pair, ResultCollector
from conformance.results.model import RUN_LEVEL, RuleResult, RunResults, Summary, count_outcomes
from conformance.results.verdict import DESELECTED, RunEnd, decide
from conformance.results.waivers import Acceptance
from conformance.rules.catalogue import all_rules, get_rule

#: Pseudo operations that are not operations of the spec (an unknown route, a run-level finding).
PSEUDO_OPERATIONS = ("(unknown route)", "(none)", "", RUN_LEVEL)

#: The answer an exchange rule needs before it can judge anything, and how its absence reads.
PREREQUISITES = {
    "stream": "no successful streamed answer was obtained",
    "2xx": "no successful answer was obtained",
    "any": "no answer was obtained",
}
NOTHING_CALLED_FOR_IT = "no answer in this run called for it"
SITUATION_DID_NOT_ARISE = "the situation it judges did not arise in this run"


def prerequisite(rule: Any) -> str:
    """Which answer a rule needs: streaming rules a 2xx stream, semantics a 2xx answer, others any."""
    if rule is None:
        return "any"
    if rule.family == "streaming" or rule.id.startswith("STREAM-"):
        return "stream"
    if rule.family == "semantics":
        return "2xx"
    return "any"


def conclude(
    collector: ResultCollector,
    summary: Summary,
    *,
    acceptance: Acceptance | None = None,
    end: RunEnd | None = None,
    capabilities: dict[str, Any] | None = None,
) -> RunResults:
    """The run's results, decided once (see the module docstring)."""
    end = end or RunEnd(errors=list(collector.errors))
    if acceptance:
        acceptance.accept(collector.findings)
    api = summary.target.api
    results = [r for r in judged_results(collector) if _belongs(r.rule_id, api)]
    results += coverage_gaps(collector, {(r.rule_id, r.operation_id) for r in results}, end, api)
    results = _without_redundant_placeholders(results)
    results.sort(key=lambda r: (r.rule_id, r.operation_id))
    summary.stale_waivers = acceptance.stale(collector.findings) if acceptance else []
    summary.notes = [*summary.notes, *suite_notes(collector.notes)]
    run = RunResults(
        summary=summary,
        results=results,
        capabilities=capabilities or {},
        exchanges=collector.exchanges,
        clients=[collector.clients[k] for k in sorted(collector.clients)],
    )
    return summarise(run, end)


def _without_redundant_placeholders(results: list[RuleResult]) -> list[RuleResult]:
    """Drop "not applicable" rows of no operation ("(none)": a test for a kind of operation this API
    lacks) for rules that have rows of their own on real operations; they would only add noise."""
    real = {r.rule_id for r in results if r.operation_id not in PSEUDO_OPERATIONS}
    return [r for r in results
            if not (r.operation_id == "(none)" and r.outcome == "not_applicable" and r.rule_id in real)]


def _belongs(rule_id: str, api: str) -> bool:
    """A rule of the other API is no part of this target's results, even if a shared test named it.

    `api` is the target's API, or several joined by ", " (recorded traffic of both APIs).
    """
    rule = get_rule(rule_id)
    return rule is None or not api or rule.api == "any" or rule.api in api.split(", ")


def suite_notes(notes: list[str]) -> list[str]:
    """Cases the suite dropped (never judged against the target), counted, with the first few listed."""
    if not notes:
        return []
    shown = sorted(set(notes))[:MAX_NOTES]
    out = [f"{len(notes)} case(s) dropped as suite notes (never judged against the target):", *shown]
    if len(set(notes)) > len(shown):
        out.append(f"... and {len(set(notes)) - len(shown)} more")
    return out


def summarise(run: RunResults, end: RunEnd | None = None) -> RunResults:
    """Counts, not-judged lines, verdict and exit code of `run` from its rule results (in place)."""
    end = end or RunEnd(errors=list(run.summary.errors))
    s = run.summary
    s.counts = count_outcomes(run.results)
    s.errors = list(end.errors)
    s.interrupted = end.interrupted
    s.deselected = list(end.deselected)
    s.not_judged = not_judged_lines(run.results)
    s.verdict, s.exit_code = decide(run.results, end)
    return run


def judged_results(c: ResultCollector) -> list[RuleResult]:
    """One RuleResult per pair that was judged, or marked not applicable / not judged by a test."""
    by_key: dict[Pair, list[dict[str, Any]]] = defaultdict(list)
    for f in c.findings:
        by_key[(f["rule"], f["operation"])].append(f)
    keys = set(c.evaluated) | set(c.not_applicable) | set(c.not_judged) | set(by_key)
    out: list[RuleResult] = []
    for key in keys:
        rule_id, op = key
        fs = by_key.get(key, [])
        violations = [f for f in fs if f.get("level") == "violation"]
        accepted = [f for f in violations if f.get("waived")]
        reason = ""
        if len(accepted) < len(violations):
            outcome = "violation"
        elif accepted:
            outcome = "waived"
            reason = "; ".join(sorted({str(f["waived"]) for f in accepted}))
        elif any(f.get("level") == "warning" for f in fs):
            outcome = "warning"
        elif key in c.evaluated:
            outcome = "pass"  # some tests of this pair judged it, others may have been skipped: it held
        elif key in c.not_judged:  # another test of the pair may have found it not applicable: it still applied
            outcome, reason = "not_judged", c.not_judged[key]
        else:
            outcome, reason = "not_applicable", c.not_applicable.get(key, "")
        rule = get_rule(rule_id)
        out.append(RuleResult(
            rule_id=rule_id, operation_id=op, outcome=outcome, family=rule.family if rule else "",
            level=rule.level.value if rule else "", findings=fs, tests=sorted(c.evaluated.get(key, [])),
            reason=reason,
        ))
    return out


def planned_pairs(c: ResultCollector, api: str) -> dict[Pair, list[str]]:
    """What the suite meant to judge: its tests' planned pairs, plus every exchange rule that is not
    specific to a kind of operation (SCHEMA-RESPONSE, BODY-JSON, ...) on every operation some test
    could exercise."""
    rules = {r.id: r for r in all_rules() if _belongs(r.id, api)}
    plan = {pair: tests for pair, tests in c.plan.items() if pair[0] in rules}
    named = c.kind_rules
    exercised = {op for pair, _ in plan.items() for op in [pair[1]]
                 if pair not in c.not_applicable and op not in PSEUDO_OPERATIONS}
    if c.offered:
        exercised &= set(c.offered)
    for rule in rules.values():
        if rule.scope == "exchange" and rule.id not in named:
            for op in exercised:
                plan.setdefault((rule.id, op), [])
    return plan


def coverage_gaps(c: ResultCollector, present: set[Pair], end: RunEnd, api: str) -> list[RuleResult]:
    """A result for every planned pair that nothing judged or marked, with the reason."""
    out = []
    plan = planned_pairs(c, api)
    partly_deselected = {op for (_, op), tests in plan.items() if any(t in c.deselected for t in tests)}
    judged_somewhere = {rule_id for rule_id, _ in present}
    for (rule_id, op), tests in plan.items():
        if (rule_id, op) in present:
            continue
        if op == RUN_LEVEL and rule_id in judged_somewhere:
            continue  # a run-level test (the official clients) judged the rule on the operations it called
        rule = get_rule(rule_id)
        outcome, reason = _why_not_judged(c, rule, op, tests, end, op in partly_deselected)
        out.append(RuleResult(rule_id=rule_id, operation_id=op, outcome=outcome,
                              family=rule.family if rule else "", level=rule.level.value if rule else "",
                              reason=reason))
    return out


def _why_not_judged(c: ResultCollector, rule: Any, op: str, tests: list[str], end: RunEnd,
                    op_deselected: bool) -> tuple[str, str]:
    if op in c.unserved:
        why, claimed = c.unserved[op]
        return ("not_judged" if claimed else "not_applicable"), why
    if tests and all(t in c.deselected for t in tests):
        return "not_judged", DESELECTED
    crashed = [c.crashed[t] for t in tests if t in c.crashed]
    ran = [t for t in tests if t in c.ran]
    if tests and not ran:
        if crashed:
            return "not_judged", f"its test crashed: {crashed[0]}"
        stop = end.interrupted or c.stopped
        return "not_judged", f"the run stopped before its test ({stop})" if stop else "its test did not run"
    if rule is not None and rule.scope == "exchange":
        need = prerequisite(rule)
        if not c.answers.get(op, {}).get(need):
            # The tests that would have brought that answer were left out by the user's selection.
            return "not_judged", DESELECTED if op_deselected else PREREQUISITES[need]
        return "not_applicable", NOTHING_CALLED_FOR_IT
    if crashed and len(crashed) == len(ran):
        return "not_judged", f"its test crashed: {crashed[0]}"
    return "not_applicable", SITUATION_DID_NOT_ARISE


def not_judged_lines(results: list[RuleResult], limit: int = 20) -> list[str]:
    """What was not judged, grouped by operation and reason: "getChatCompletions: 11 rules (reason)"."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in results:
        if r.outcome == "not_judged":
            groups[(r.operation_id, r.reason)].append(r.rule_id)
    lines = []
    for (op, reason), rules in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        what = rules[0] if len(rules) == 1 else f"{len(rules)} rules"
        lines.append(f"{op or '(run)'}: {what} ({reason or 'no reason recorded'})")
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more groups (see results.json)"]
    return lines
