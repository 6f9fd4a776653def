"""Comparing two runs: what broke, what was fixed, what still fails, which warnings came or went.

The nightly job diffs tonight's results.json against yesterday's and prints `render_diff`; its exit
code (`Diff.exit_code`) is 1 only when a violation appeared, so a long-known deviation does not
page anyone twice. Four words for failures: *new* (a violation now, not before), *fixed* (failing
before, judged and holding now), *still failing (accepted)* (failing before, accepted by a waiver or
the baseline now), and *no longer judged* (failing before, not judged or not applicable now: never
counted as fixed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.report._safe import clip, neutralise
from conformance.results import RuleResult, RunResults

Key = tuple[str, str]
_FAILED = ("violation", "waived")


@dataclass(frozen=True)
class Change:
    rule: str
    operation: str
    old: str | None  # outcome in the old run; None when the rule x operation was absent
    new: str | None
    message: str = ""  # first finding's message in the new run (or the old one when gone)


@dataclass
class Diff:
    old_verdict: str
    new_verdict: str
    old_counts: dict[str, int] = field(default_factory=dict)
    new_counts: dict[str, int] = field(default_factory=dict)
    new_violations: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)  # violation/waived -> pass/warning
    still_failing: list[Change] = field(default_factory=list)  # violation/waived -> waived (accepted)
    no_longer_judged: list[Change] = field(default_factory=list)  # violation/waived -> not judged/n/a/absent
    new_warnings: list[Change] = field(default_factory=list)
    gone_warnings: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)  # every outcome change, including the above

    @property
    def exit_code(self) -> int:
        return 1 if self.new_violations else 0


def diff_exit_code(d: Diff) -> int:
    """1 when the new run has a violation the old one did not have, else 0."""
    return d.exit_code


def _index(results: RunResults) -> dict[Key, RuleResult]:
    return {(r.rule_id, r.operation_id or ""): r for r in results.results}


def _message(r: RuleResult | None) -> str:
    if r is None:
        return ""
    for f in r.findings:
        if isinstance(f, dict) and f.get("message"):
            return str(f["message"])
    return r.reason


def diff_results(old: RunResults, new: RunResults) -> Diff:
    a, b = _index(old), _index(new)
    d = Diff(
        old_verdict=old.summary.verdict,
        new_verdict=new.summary.verdict,
        old_counts=dict(old.summary.counts),
        new_counts=dict(new.summary.counts),
    )
    for key in sorted(set(a) | set(b)):
        ra, rb = a.get(key), b.get(key)
        was, now = (ra.outcome if ra else None), (rb.outcome if rb else None)
        if was == now == "waived":
            d.still_failing.append(Change(key[0], key[1], was, now, _message(rb) or _message(ra)))
            continue
        if was == now:
            continue
        change = Change(key[0], key[1], was, now, _message(rb) or _message(ra))
        d.changed.append(change)
        if now == "violation":
            d.new_violations.append(change)
        elif was in _FAILED:
            if now == "waived":
                d.still_failing.append(change)
            elif now in ("pass", "warning"):
                d.fixed.append(change)
            else:
                d.no_longer_judged.append(change)
        if now == "warning":
            d.new_warnings.append(change)
        elif was == "warning":
            d.gone_warnings.append(change)
    return d


def _line(c: Change, mark: str) -> list[str]:
    op = c.operation or "(run)"
    lines = [f"  {mark} {c.rule} on {op}: {c.old or 'absent'} -> {c.new or 'absent'}"]
    if c.message:
        lines.append("      " + clip(neutralise(c.message).replace("\n", " "), 200))
    return lines


def render_diff(d: Diff) -> str:
    """Plain terminal text (no colour codes; server text neutralised)."""
    nv_old, nv_new = d.old_counts.get("violation", 0), d.new_counts.get("violation", 0)
    out = [
        f"Conformance diff: {d.old_verdict} ({nv_old} violations) -> {d.new_verdict} ({nv_new} violations)",
    ]
    sections = [
        ("New violations", d.new_violations, "+"),
        ("Fixed", d.fixed, "-"),
        ("Still failing (accepted)", d.still_failing, "="),
        ("No longer judged (was failing)", d.no_longer_judged, "?"),
        ("New warnings", d.new_warnings, "+"),
        ("Gone warnings", d.gone_warnings, "-"),
    ]
    listed = {id(c) for _, items, _ in sections for c in items}
    others = [c for c in d.changed if id(c) not in listed]
    sections.append(("Other outcome changes", others, "~"))
    for title, items, mark in sections:
        if not items:
            continue
        out.append(f"{title} ({len(items)}):")
        for c in items:
            out.extend(_line(c, mark))
    if not d.changed:
        out.append("No outcome changed.")
    n = len(d.new_violations)
    out.append(f"Result: {n} new violation{'s' if n != 1 else ''} -> exit {d.exit_code}")
    return "\n".join(out) + "\n"
