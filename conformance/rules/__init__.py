"""Rules: stable ids, statements, sources, levels, and the checks that judge exchanges."""

from conformance.rules._model import Finding, Level, Rule, RuleContext
from conformance.rules.registry import all_rules, define, exchange_check, get_rule
from conformance.text import shorten

__all__ = ["Finding", "Level", "Rule", "RuleContext", "all_rules", "define", "exchange_check", "get_rule", "shorten"]
