"""A fleet: many deployments' results.json side by side, worst first (`conformance merge`, fleet runs).

Input is any set of results.json files, however they were produced (one `conformance run` each, a
fleet run, artifacts of CI matrix jobs); each is read by the project's one results reader. Output
is `fleet.json` (documented in docs/results-format.md) and `fleet.html` (conformance.report.fleet_html).
A rule failing on many deployments is listed first: it points at a shared cause.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from conformance import __version__
from conformance.report._rules import RuleBook
from conformance.report._safe import host_only
from conformance.report.json_out import read_results_json
from conformance.report.matrix import RUN_LEVEL, outcome_rank
from conformance.results import RunResults
from conformance.rules._model import FAMILIES

FLEET_FORMAT_VERSION = 1
#: The outcome that makes a deployment "not conformant" (a waived violation was accepted, and is not counted).
FAILING = ("violation",)
#: Verdicts, worst first; a verdict this suite does not know sorts as the worst, never hidden.
VERDICT_ORDER = ("not conformant", "incomplete", "partial", "conformant")


def verdict_rank(verdict: str) -> int:
    return VERDICT_ORDER.index(verdict) if verdict in VERDICT_ORDER else -1


@dataclass
class FamilyCell:
    """One deployment x rule family: its worst outcome and how many rule x operation results had each."""

    worst: str
    counts: dict[str, int]


@dataclass
class Deployment:
    name: str
    results: str  # path of the results.json, relative to the fleet's output folder
    report: str | None  # relative link to its report.html (None when there is none beside it)
    endpoint_host: str
    endpoint_path: str
    api: str
    api_version: str
    models: dict[str, str]
    profile: str
    depth: str
    reference: bool
    verdict: str
    violations: int
    warnings: int
    started: str
    exit_code: int
    families: dict[str, FamilyCell] = field(default_factory=dict)
    failing_rules: list[str] = field(default_factory=list)
    warning_rules: list[str] = field(default_factory=list)


@dataclass
class RuleSpread:
    """A rule and the deployments it failed (or warned) on."""

    rule_id: str
    family: str
    statement: str
    deployments: list[str]
    operations: list[str]


@dataclass
class NotRun:
    """A target that produced no readable results (did not start, or its file is unreadable)."""

    name: str
    source: str
    exit_code: int
    reason: str


@dataclass
class Fleet:
    deployments: list[Deployment]
    families: list[str]
    failing_rules: list[RuleSpread]
    warning_rules: list[RuleSpread]
    not_run: list[NotRun] = field(default_factory=list)
    generated: str = ""

    @property
    def exit_code(self) -> int:
        """The worst (highest) exit code of the deployments and of the targets that did not run."""
        codes = [d.exit_code for d in self.deployments] + [n.exit_code for n in self.not_run]
        return max(codes, default=0)

    def verdict_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.deployments:
            out[d.verdict] = out.get(d.verdict, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FLEET_FORMAT_VERSION,
            "generated": self.generated,
            "suite_version": __version__,
            "summary": {
                "deployments": len(self.deployments),
                "verdicts": self.verdict_counts(),
                "not_run": len(self.not_run),
                "exit_code": self.exit_code,
            },
            "families": list(self.families),
            "deployments": [asdict(d) for d in self.deployments],
            "failing_rules": [asdict(r) for r in self.failing_rules],
            "warning_rules": [asdict(r) for r in self.warning_rules],
            "not_run": [asdict(n) for n in self.not_run],
        }


# -- finding the files -----------------------------------------------------------------------------

RESULTS_NAME = "results.json"


def find_results(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders searched for results.json at any depth. Duplicates removed, order kept."""
    seen: set[Path] = set()
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        found = sorted(p.rglob(RESULTS_NAME)) if p.is_dir() else [p]
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def _names(files: Sequence[Path]) -> list[str]:
    """A short unique label per file: its folder's name, lengthened with parent folders on a clash."""
    resolved = [f.resolve() for f in files]
    depth = 1
    while True:
        names = [
            "/".join(r.parent.parts[-depth:]) if len(r.parent.parts) > 1 else r.stem for r in resolved
        ]
        if len(set(names)) == len(names) or depth > max((len(r.parts) for r in resolved), default=1):
            break
        depth += 1
    seen: dict[str, int] = {}
    out = []
    for n in names:  # still equal (the same folder twice under different names): number them
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def _href(target: Path, base: Path) -> str:
    rel = os.path.relpath(target.resolve(), base.resolve())
    return quote(Path(rel).as_posix())


# -- building --------------------------------------------------------------------------------------


def deployment_row(name: str, results: RunResults, source: Path, out_dir: Path, rules: RuleBook) -> Deployment:
    s, tg = results.summary, results.summary.target
    families: dict[str, dict[str, int]] = {}
    failing: dict[str, None] = {}
    warned: dict[str, None] = {}
    for r in results.results:
        fam = rules.family(r.rule_id, r.family)
        counts = families.setdefault(fam, {})
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
        if r.outcome in FAILING:
            failing[r.rule_id] = None
        elif r.outcome == "warning":
            warned[r.rule_id] = None
    cells = {
        fam: FamilyCell(min(c, key=outcome_rank), dict(sorted(c.items(), key=lambda kv: outcome_rank(kv[0]))))
        for fam, c in families.items()
    }
    report = source.parent / "report.html"
    return Deployment(
        name=name,
        results=_href(source, out_dir),
        report=_href(report, out_dir) if report.is_file() else None,
        endpoint_host=host_only(tg.endpoint_host),
        endpoint_path=str(getattr(tg, "endpoint_path", "") or ""),
        api=tg.api,
        api_version=tg.api_version,
        models=_models(results),
        profile=tg.profile,
        depth=tg.depth,
        reference=bool(tg.reference),
        verdict=s.verdict,
        violations=int(s.counts.get("violation", 0)),
        warnings=int(s.counts.get("warning", 0)),
        started=s.started,
        exit_code=int(s.exit_code),
        families=cells,
        failing_rules=sorted(failing),
        warning_rules=sorted(set(warned) - set(failing)),
    )


def _models(results: RunResults) -> dict[str, str]:
    """Model or deployment names by kind (`summary.target.models`; absent from older files)."""
    models = getattr(results.summary.target, "models", None)
    if isinstance(models, dict) and models:
        return {str(k): str(v) for k, v in models.items()}
    return {}


def _spread(rows: list[Deployment], attr: str, outcomes: tuple[str, ...], sources: dict[str, RunResults],
            rules: RuleBook) -> list[RuleSpread]:
    by_rule: dict[str, RuleSpread] = {}
    for d in rows:
        for r in sources[d.name].results:
            if r.outcome not in outcomes or r.rule_id not in getattr(d, attr):
                continue
            spread = by_rule.get(r.rule_id)
            if spread is None:
                spread = by_rule[r.rule_id] = RuleSpread(
                    r.rule_id, rules.family(r.rule_id, r.family), rules.statement(r.rule_id), [], []
                )
            if d.name not in spread.deployments:
                spread.deployments.append(d.name)
            op = r.operation_id or RUN_LEVEL
            if op not in spread.operations:
                spread.operations.append(op)
    out = list(by_rule.values())
    for s in out:
        s.operations.sort()
    return sorted(out, key=lambda s: (-len(s.deployments), s.rule_id))


def build_fleet(
    files: Sequence[Path], out_dir: Path, *, names: Sequence[str] | None = None, not_run: Sequence[NotRun] = ()
) -> Fleet:
    """Read every results file (unreadable ones become `not_run` entries) and aggregate them."""
    rules = RuleBook.load()
    names = list(names) if names is not None else _names(files)
    rows: list[Deployment] = []
    sources: dict[str, RunResults] = {}
    skipped = list(not_run)
    for name, path in zip(names, files, strict=True):
        try:
            results = read_results_json(path)
            row = deployment_row(name, results, path, out_dir, rules)
        except (ValueError, TypeError, AttributeError) as exc:  # unreadable, or values of the wrong type
            skipped.append(NotRun(name, _href(path, out_dir), 2, str(exc) or type(exc).__name__))
            continue
        sources[name] = results
        rows.append(row)
    rows.sort(key=lambda d: (verdict_rank(d.verdict), -d.violations, -d.warnings, d.name))
    failing = _spread(rows, "failing_rules", FAILING, sources, rules)
    warning = _spread(rows, "warning_rules", ("warning",), sources, rules)
    return Fleet(
        deployments=rows,
        families=_family_order(rows),
        failing_rules=failing,
        warning_rules=warning,
        not_run=skipped,
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _family_order(rows: list[Deployment]) -> list[str]:
    """Families failing on the most deployments first, then warned on most, then the catalogue's order."""
    used = {fam for d in rows for fam in d.families}
    catalogue = {f: i for i, f in enumerate(FAMILIES)}

    def key(fam: str) -> tuple[int, int, int, str]:
        failing = sum(1 for d in rows if fam in d.families and d.families[fam].worst in FAILING)
        warned = sum(1 for d in rows if fam in d.families and d.families[fam].worst == "warning")
        return (-failing, -warned, catalogue.get(fam, len(catalogue)), fam)

    return sorted(used, key=key)
