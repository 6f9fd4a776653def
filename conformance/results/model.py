"""Results: what a run concluded, per rule x operation, plus the run summary.

Built by the pytest plugin (live runs) or by `validate-traffic` (recorded runs) and consumed by
the report writers. `RunResults.to_json()` is the documented, versioned `results.json` format.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: 2: outcome `skipped` became `not_judged` (always with a reason), verdict `partial` was added, and
#: every rule that applies appears for every offered operation. Readers refuse version 1 files.
FORMAT_VERSION = 2

#: The operation of results (and of suite tests' plans) not tied to one operation.
RUN_LEVEL = "(run)"

#: Outcomes of one rule on one operation, worst first. `not_judged`: it applies, but the run did not
#: judge it (reason says why); `not_applicable`: it does not apply to this target (reason says why).
OUTCOMES = ("violation", "waived", "warning", "pass", "not_judged", "not_applicable")


@dataclass
class RuleResult:
    rule_id: str
    operation_id: str
    outcome: str  # one of OUTCOMES
    family: str = ""
    level: str = ""  # the rule's level in the run's profile (violation/warning)
    findings: list[dict[str, Any]] = field(default_factory=list)  # Finding.to_dict() + "exchange" ref
    tests: list[str] = field(default_factory=list)  # pytest node ids that judged it
    reason: str = ""  # for not_judged / not_applicable, or the waiver's reason for waived


@dataclass
class Target:
    endpoint_host: str
    api: str
    api_version: str
    profile: str
    depth: str
    reference: bool = False  # the embedded reference deployment
    #: The endpoint's path (never its query string or userinfo), e.g. "/models" or "/openai".
    endpoint_path: str = ""
    #: Model or deployment names by kind, as the target file declares them ({"chat": "gpt-4o"}).
    models: dict[str, str] = field(default_factory=dict)


@dataclass
class Summary:
    verdict: str  # "conformant" | "not conformant" | "partial" | "incomplete" (conformance.results.verdict)
    counts: dict[str, int]
    target: Target
    spec_file: str
    spec_sha256: str
    suite_version: str
    started: str  # ISO 8601 UTC
    duration_s: float
    requests: int = 0
    retries: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: {"prompt": 0, "completion": 0, "total": 0})
    seed: int | None = None
    budget: dict[str, Any] = field(default_factory=dict)
    stale_waivers: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int = 0
    #: Suite tests that crashed (a bug in the suite or an unjudgeable answer): the run is incomplete.
    errors: list[str] = field(default_factory=list)
    #: Things a reader should know that are neither findings nor errors (e.g. recorded traffic of an
    #: api-version we do not vendor, validated against the nearest one; unreadable entries).
    notes: list[str] = field(default_factory=list)
    #: Why the run stopped early ("SIGINT", "SIGTERM", "max duration of 1800 s reached"), else None.
    interrupted: str | None = None
    #: What the user's selection left out (tests deselected by -k / -m): the run is `partial`.
    deselected: list[str] = field(default_factory=list)
    #: What was not judged, grouped: "getChatCompletions: 11 rules (no successful streamed answer ...)".
    not_judged: list[str] = field(default_factory=list)


@dataclass
class RunResults:
    summary: Summary
    results: list[RuleResult] = field(default_factory=list)
    #: {"claimed": {cap: value}, "discovered": {cap: value}, "contradictions": [text]}
    capabilities: dict[str, Any] = field(default_factory=dict)
    #: Exchanges referenced by findings, by id ("x17"): Exchange.to_dict() + "curl".
    exchanges: dict[str, dict[str, Any]] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    #: What the official clients made of the target, one entry per client call:
    #: {client, version, call, operation, outcome ("works" | "fails" | "not judged"), why, exchange}.
    clients: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "summary": asdict(self.summary),
            "results": [asdict(r) for r in self.results],
            "capabilities": self.capabilities,
            "exchanges": self.exchanges,
            "clients": self.clients,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResults:
        s = dict(data["summary"])
        s["target"] = Target(**s["target"])
        return cls(
            summary=Summary(**s),
            results=[RuleResult(**r) for r in data.get("results", [])],
            capabilities=data.get("capabilities", {}),
            exchanges=data.get("exchanges", {}),
            format_version=data.get("format_version", FORMAT_VERSION),
            clients=list(data.get("clients") or []),
        )


def count_outcomes(results: list[RuleResult]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return counts
