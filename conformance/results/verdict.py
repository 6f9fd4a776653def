"""The verdict and the exit code: decided here, once, from the rule results and how the run ended.

| verdict          | when                                                                  | exit |
|------------------|-----------------------------------------------------------------------|------|
| `incomplete`     | the run was interrupted (SIGINT, SIGTERM, max duration)               | 1    |
| `not conformant` | a rule result is a violation                                          | 1    |
| `incomplete`     | a test crashed, the target stopped answering, or an applicable rule   | 1    |
|                  | that can fail the run was not judged for a reason other than          |      |
|                  | deselection, or nothing was judged                                    |      |
| `partial`        | every judged rule holds, but tests or rules were deselected           | 0    |
| `conformant`     | every applicable rule that can fail the run was judged and holds      | 0    |
|                  | (warnings allowed)                                                    |      |

A rule whose level is `warning` can never fail the run, so its being not judged (the official
clients not installed, say) leaves the verdict as it is; it is still listed as not judged.

Exit 3: the target was unreachable (or refused the credential) before any test ran; 2: recorded
traffic of which nothing could be judged. Other usage errors exit 2 before a verdict exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.results.model import RuleResult

CONFORMANT = "conformant"
NOT_CONFORMANT = "not conformant"
PARTIAL = "partial"
INCOMPLETE = "incomplete"
VERDICTS = (CONFORMANT, NOT_CONFORMANT, PARTIAL, INCOMPLETE)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

#: Outcomes that mean a rule was actually judged on something the target sent.
JUDGED = ("violation", "waived", "warning", "pass")

#: The reason of a rule left out by the user's selection (-k, -m, test ids): such a run is `partial`.
DESELECTED = "deselected in this run (-k, -m or test ids)"


@dataclass
class RunEnd:
    """How the run ended, besides its rule results."""

    #: Why the run stopped early ("SIGINT", "SIGTERM", "max duration of 1800 s reached"), or None.
    interrupted: str | None = None
    #: Tests that crashed and operations or targets that stopped answering.
    errors: list[str] = field(default_factory=list)
    #: What the user's selection left out (tests deselected by -k/-m), for the report and console.
    deselected: list[str] = field(default_factory=list)
    #: The target could not be reached (or refused the credential) before any test ran.
    unreachable: bool = False
    #: Nothing could be judged because of the input (recorded traffic with no usable exchange).
    unusable_input: bool = False


def decide(results: Iterable[RuleResult], end: RunEnd) -> tuple[str, int]:
    """(verdict, exit code) of a run; see the module table."""
    outcomes: dict[str, int] = {}
    unjudged_for_cause = False
    deselected = bool(end.deselected)
    for r in results:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        if r.outcome == "not_judged":
            if r.reason == DESELECTED:
                deselected = True
            elif r.level != "warning":  # judging a warning-level rule could not change the verdict
                unjudged_for_cause = True
    if end.unreachable:
        return INCOMPLETE, EXIT_UNREACHABLE
    if end.unusable_input:
        return INCOMPLETE, EXIT_USAGE
    if end.interrupted:
        return INCOMPLETE, EXIT_FAILED
    if outcomes.get("violation"):
        return NOT_CONFORMANT, EXIT_FAILED
    if end.errors or unjudged_for_cause or not any(outcomes.get(o) for o in JUDGED):
        return INCOMPLETE, EXIT_FAILED
    if deselected:
        return PARTIAL, EXIT_OK
    return CONFORMANT, EXIT_OK
