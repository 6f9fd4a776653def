"""The rule catalogue: imports every rule family (which declares its rules) and answers lookups."""

from __future__ import annotations

from conformance.rules import (  # noqa: F401 - importing a family declares its rules
    behaviour,
    chat,
    completions,
    content_filter,
    deployments,
    embeddings,
    errors,
    interop,
    schema_rules,
    streaming,
    transport,
)
from conformance.rules._model import Rule
from conformance.rules.registry import declared_rules

_ALL = sorted(declared_rules().values(), key=lambda r: (r.family, r.id))
_EXCHANGE = [r for r in declared_rules().values() if r.scope == "exchange"]  # declaration order


def all_rules() -> list[Rule]:
    return list(_ALL)


def get_rule(rule_id: str) -> Rule | None:
    return declared_rules().get(rule_id)


def exchange_rules() -> list[Rule]:
    """Rules judged from one exchange (live or recorded), in catalogue order."""
    return list(_EXCHANGE)


def behaviour_rules() -> list[Rule]:
    """Rules judged from the exchanges one suite test made on purpose."""
    return [r for r in _ALL if r.scope == "behaviour"]
