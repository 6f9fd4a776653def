"""Rule metadata for reports, tolerant of a catalogue that is incomplete or fails to import.

A report must still be written when a rule id in the results is not registered (renamed rule,
results from another suite version, a family module that failed to import): it shows the id as
"unknown rule" instead of crashing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.rules import registry
from conformance.rules._model import Rule

UNKNOWN = "unknown rule"


@dataclass
class RuleBook:
    rules: dict[str, Rule] = field(default_factory=dict)
    #: Why the full catalogue could not be loaded (then `rules` holds what did register).
    error: str | None = None

    @classmethod
    def load(cls) -> RuleBook:
        try:
            # Imported here, inside the try: a family module that fails to import costs the rule
            # texts, never the report (and pages that never show a rule never load the catalogue).
            from conformance.rules.catalogue import all_rules

            return cls({r.id: r for r in all_rules()})
        except Exception as exc:  # a broken family module must not cost the user the report
            # Fall back to whatever was declared before the failure.
            return cls(dict(registry.declared_rules()), f"{type(exc).__name__}: {exc}")

    def get(self, rule_id: str) -> Rule | None:
        return self.rules.get(rule_id)

    def statement(self, rule_id: str) -> str:
        rule = self.rules.get(rule_id)
        return rule.statement if rule else UNKNOWN

    def family(self, rule_id: str, given: str = "") -> str:
        if given:
            return given
        rule = self.rules.get(rule_id)
        return rule.family if rule else "other"

    def ordered(self) -> list[Rule]:
        return sorted(self.rules.values(), key=lambda r: (r.family, r.id))
