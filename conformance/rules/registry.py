"""The one place rules live: definitions, their checks, and lookup.

Add a rule: `define(Rule(...))` in the module of its family and decorate its check with
`@exchange_check("RULE-ID")` (single-exchange rules, usable on recorded traffic) or
`@behaviour_check("RULE-ID")` (judged from the exchanges one test made). Then add its fault
to `conformance.reference.faults.FAULTS` so the self-tests prove it both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conformance.rules._model import ExchangeCheck, RegisteredCheck, Rule

_RULES: dict[str, Rule] = {}
_EXCHANGE_CHECKS: dict[str, RegisteredCheck] = {}
_BEHAVIOUR_CHECKS: dict[str, Callable[..., Any]] = {}


def define(rule: Rule) -> Rule:
    if rule.id in _RULES and _RULES[rule.id] != rule:
        raise ValueError(f"rule id {rule.id} defined twice")
    _RULES[rule.id] = rule
    return rule


def exchange_check(rule_id: str) -> Callable[[ExchangeCheck], ExchangeCheck]:
    def deco(func: ExchangeCheck) -> ExchangeCheck:
        rule = _RULES[rule_id]
        if rule.scope != "exchange":
            raise ValueError(f"{rule_id} is not an exchange-scope rule")
        _EXCHANGE_CHECKS[rule_id] = RegisteredCheck(rule, func)
        return func

    return deco


def behaviour_check(rule_id: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        if rule_id not in _RULES:
            raise KeyError(rule_id)
        _BEHAVIOUR_CHECKS[rule_id] = func
        return func

    return deco


def _load_all() -> None:
    # Importing the family modules registers their rules.
    from conformance.rules import catalogue  # noqa: F401


def get_rule(rule_id: str) -> Rule | None:
    _load_all()
    return _RULES.get(rule_id)


def all_rules() -> list[Rule]:
    _load_all()
    return sorted(_RULES.values(), key=lambda r: (r.family, r.id))


def exchange_checks() -> list[RegisteredCheck]:
    _load_all()
    return list(_EXCHANGE_CHECKS.values())


def behaviour_checks() -> dict[str, Callable[..., Any]]:
    _load_all()
    return dict(_BEHAVIOUR_CHECKS)
