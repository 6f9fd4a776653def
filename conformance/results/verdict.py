"""The verdict and exit code, recomputed from the rule results (the single place they are decided).

Lives here rather than in `conformance.results` because waivers and baselines, which change
outcomes after the run, must recompute it too; the plugin calls it once before writing reports.
"""

from __future__ import annotations

import copy

from conformance.results import RunResults, count_outcomes

CONFORMANT = "conformant"
NOT_CONFORMANT = "not conformant"
INCOMPLETE = "incomplete"

#: Outcomes that mean a rule was actually judged on something the target sent.
JUDGED = ("violation", "waived", "warning", "pass")


def finalize(results: RunResults, *, complete: bool = True) -> RunResults:
    """Recompute counts, verdict and exit code in place and return `results`.

    "not conformant" iff some outcome is a violation; "incomplete" when nothing was judged (or the
    caller says the run was cut short: `complete=False`); otherwise "conformant". Exit code: 1 for
    violations, 0 otherwise; a caller's code other than 0/1 (usage or internal error) is kept.
    """
    s = results.summary
    s.counts = count_outcomes(results.results)
    judged = sum(s.counts.get(o, 0) for o in JUDGED)
    if s.counts.get("violation", 0):
        s.verdict = NOT_CONFORMANT
    elif judged == 0 or not complete:
        s.verdict = INCOMPLETE
    else:
        s.verdict = CONFORMANT
    if s.verdict == NOT_CONFORMANT:
        s.exit_code = 1
    elif s.exit_code in (0, 1):
        s.exit_code = 0
    return results


def copied(results: RunResults) -> RunResults:
    """A deep copy, so gates that rewrite outcomes never change the caller's object."""
    return copy.deepcopy(results)
