"""The results wing: findings -> rule results -> waivers and baseline -> verdict -> exit code."""

from conformance.results.model import (
    FORMAT_VERSION,
    OUTCOMES,
    RUN_LEVEL,
    RuleResult,
    RunResults,
    Summary,
    Target,
    count_outcomes,
)

__all__ = ["FORMAT_VERSION", "OUTCOMES", "RUN_LEVEL", "RuleResult", "RunResults", "Summary", "Target", "count_outcomes"]
