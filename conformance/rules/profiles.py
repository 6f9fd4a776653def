"""Profiles decide levels. `strict` is the spec and the REST reference as written; `azure` applies
the documented errata (specs/errata.yaml): places where the published spec is known to disagree
with the real services, each downgrading matching findings to warnings that cite the erratum.

Adding an erratum needs no code: one YAML entry with its evidence.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from conformance.constants import PROFILES
from conformance.rules._model import Finding, Level
from conformance.spec.files import data_file

DEFAULT_PROFILE = "azure"


@dataclass(frozen=True)
class Erratum:
    id: str
    rule: str
    summary: str
    evidence: str
    api: str = "any"
    #: Optional narrowing: path (glob), keyword, variant (str or list), value (one JSON value) or values (list).
    match: dict[str, Any] = field(default_factory=dict)

    def matches(self, finding: Finding, api: str) -> bool:
        if self.rule != finding.rule_id:
            return False
        if self.api not in ("any", api):
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


@lru_cache(maxsize=4)
def load_errata(path: Path | None = None) -> tuple[Erratum, ...]:
    # A missing errata file is an installation error: it would silently turn `azure` into `strict`.
    path = path or data_file("errata.yaml")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = raw.get("errata", []) if isinstance(raw, dict) else raw
    out = []
    for item in items:
        out.append(
            Erratum(
                id=str(item["id"]),
                rule=str(item["rule"]),
                summary=str(item["summary"]).strip(),
                evidence=str(item.get("evidence", "")).strip(),
                api=str(item.get("api", "any")),
                match=dict(item.get("match") or {}),
            )
        )
    return tuple(out)


def apply_profile(findings: list[Finding], profile: str, api: str) -> list[Finding]:
    """Set each finding's level from its rule's level and, in `azure`, the errata."""
    from conformance.rules.registry import get_rule

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
    errata = load_errata() if profile == "azure" else ()
    for f in findings:
        rule = get_rule(f.rule_id)
        base = rule.level if rule else Level.VIOLATION
        # A check may itself emit a NOTE or WARNING below its rule's level (e.g. open-enum notes).
        level = f.level if _rank(f.level) < _rank(base) else base
        if level == Level.VIOLATION:
            for e in errata:
                if e.matches(f, api):
                    level = Level.WARNING
                    f.erratum = f"{e.id}: {e.summary}"
                    break
        f.level = level
    return findings


def _rank(level: Level) -> int:
    return {Level.NOTE: 0, Level.WARNING: 1, Level.VIOLATION: 2}[level]
