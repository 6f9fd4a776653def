"""Profiles decide levels. `strict` is the spec and the REST reference as written; `azure` applies
specs/errata.yaml: a few documented conventions of the real services (each covering every finding
it explains) and the instance errata no convention covers. Each downgrades the findings it covers to
warnings that cite it.

Adding a convention or an erratum needs no code: one YAML entry with its evidence.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from conformance.constants import PROFILES
from conformance.rules._model import Finding, Level
from conformance.rules.catalogue import get_rule
from conformance.spec.files import data_file

DEFAULT_PROFILE = "azure"
EVIDENCE_KINDS = ("docs", "issues", "corpus")


@dataclass(frozen=True)
class Evidence:
    """Why an entry exists: documentation, issue threads, recordings of the shared corpus (file names)."""

    docs: tuple[str, ...] = ()
    issues: tuple[str, ...] = ()
    corpus: tuple[str, ...] = ()

    @property
    def documented(self) -> bool:
        """Supported by something other than recordings (documentation or an issue thread)."""
        return bool(self.docs or self.issues)

    def render(self) -> str:
        parts = [*self.docs, *self.issues, *(f"corpus {name}" for name in self.corpus)]
        return "; ".join(parts)


@dataclass(frozen=True)
class Cover:
    """One kind of finding an entry covers: its rule, API and match."""

    rule: str
    api: str = "any"
    #: Optional narrowing: path (glob), keyword, variant (str or list), value (one JSON value) or values (list).
    match: dict[str, Any] = field(default_factory=dict)

    def matches(self, finding: Finding, api: str) -> bool:
        if self.rule != finding.rule_id or self.api not in ("any", api):
            return False
        m = self.match
        if "path" in m and not fnmatch.fnmatchcase(finding.path or "", m["path"]):
            return False
        if "keyword" in m and finding.keyword != m["keyword"]:
            return False
        if "variant" in m:
            wanted = m["variant"] if isinstance(m["variant"], list) else [m["variant"]]
            if finding.variant not in wanted:
                return False
        if "value" in m or "values" in m:
            wanted_values = m["values"] if "values" in m else [m["value"]]
            rendered = {json.dumps(v, ensure_ascii=False) for v in wanted_values}
            if finding.value not in rendered:
                return False
        return True


@dataclass(frozen=True)
class Erratum:
    """A convention (kind "convention": one documented habit, several covers) or an instance erratum."""

    id: str
    summary: str
    evidence: Evidence
    covers: tuple[Cover, ...]
    kind: str = "erratum"

    @property
    def rules(self) -> frozenset[str]:
        return frozenset(c.rule for c in self.covers)

    def matches(self, finding: Finding, api: str) -> bool:
        return any(c.matches(finding, api) for c in self.covers)


def _evidence(raw: Any, entry_id: str) -> Evidence:
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{entry_id}: evidence must be a mapping of {', '.join(EVIDENCE_KINDS)}")
    unknown = set(raw) - set(EVIDENCE_KINDS)
    if unknown:
        raise ValueError(f"{entry_id}: unknown evidence kind(s) {sorted(unknown)}")
    return Evidence(**{k: tuple(str(x).strip() for x in raw.get(k) or ()) for k in EVIDENCE_KINDS})


def _cover(raw: dict[str, Any]) -> Cover:
    return Cover(rule=str(raw["rule"]), api=str(raw.get("api", "any")), match=dict(raw.get("match") or {}))


def parse_errata(raw: dict[str, Any]) -> tuple[Erratum, ...]:
    out = []
    for item in raw.get("conventions") or []:
        out.append(Erratum(str(item["id"]), str(item["summary"]).strip(), _evidence(item.get("evidence"), item["id"]),
                           tuple(_cover(c) for c in item["covers"]), kind="convention"))
    for item in raw.get("errata") or []:
        out.append(Erratum(str(item["id"]), str(item["summary"]).strip(), _evidence(item.get("evidence"), item["id"]),
                           (_cover(item),)))
    ids = [e.id for e in out]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"duplicate errata ids: {dup}")
    return tuple(out)


@lru_cache(maxsize=4)
def load_errata(path: Path | None = None) -> tuple[Erratum, ...]:
    # A missing errata file is an installation error: it would silently turn `azure` into `strict`.
    path = path or data_file("errata.yaml")
    return parse_errata(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def apply_profile(
    findings: list[Finding], profile: str, api: str, errata: Iterable[Erratum] | None = None
) -> list[Finding]:
    """Set each finding's level from its rule's level and, in `azure`, the conventions and errata
    (`errata` replaces the file's entries, e.g. to prove that a subset suffices)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
    entries = (tuple(errata) if errata is not None else load_errata()) if profile == "azure" else ()
    for f in findings:
        rule = get_rule(f.rule_id)
        base = rule.level if rule else Level.VIOLATION
        # A check may itself emit a NOTE or WARNING below its rule's level (e.g. open-enum notes).
        level = f.level if _rank(f.level) < _rank(base) else base
        if level == Level.VIOLATION:
            for e in entries:
                if e.matches(f, api):
                    level = Level.WARNING
                    f.erratum = f"{e.id}: {e.summary}"
                    break
        f.level = level
    return findings


def _rank(level: Level) -> int:
    return {Level.NOTE: 0, Level.WARNING: 1, Level.VIOLATION: 2}[level]
