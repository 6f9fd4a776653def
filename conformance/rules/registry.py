"""Where rules are declared: one decorator per rule, on its check.

    @rule("TRANSPORT-ANSWER", "transport", "Every request gets a complete HTTP answer ...",
          "RFC 9112 §6; the suite's limits", applies=_always)
    def check_transport_answer(ctx, ex):
        yield Finding("no response: ...", path="transport")

The decorator carries the rule's id, family, statement, source, level, API, scope and applicability;
the findings a check yields take their rule from it (never a retyped id). This module only stores;
`catalogue` imports the family modules and answers lookups, so nothing here imports a family.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from conformance.rules._model import Finding, Level, Rule

_RULES: dict[str, Rule] = {}


def rule(
    id: str,
    family: str,
    statement: str,
    source: str,
    level: Level = Level.VIOLATION,
    *,
    api: str = "any",
    scope: str = "exchange",
    applies: Callable[..., bool] | None = None,
) -> Callable[[Callable[..., Iterable[Finding] | None]], Callable[..., Iterator[Finding]]]:
    """Declare a rule on its check; the returned function stamps every finding with the rule."""

    def deco(func: Callable[..., Iterable[Finding] | None]) -> Callable[..., Iterator[Finding]]:
        @functools.wraps(func)
        def check(*args: Any, **kwargs: Any) -> Iterator[Finding]:
            for finding in func(*args, **kwargs) or ():
                if not finding.rule_id:
                    finding.rule_id = declared.id
                if finding.rule is None and finding.rule_id == declared.id:
                    finding.rule = declared
                yield finding

        declared = Rule(
            id, family, statement, source, level, scope=scope, api=api, check=check, applies=applies
        )
        if id in _RULES:
            raise ValueError(f"rule id {id} declared twice")
        _RULES[id] = declared
        check.rule = declared  # type: ignore[attr-defined]
        return check

    return deco


def declared_rules() -> dict[str, Rule]:
    """The rules declared so far, by id (complete once `catalogue` is imported)."""
    return _RULES
