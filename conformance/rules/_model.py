"""The rule model: a rule is a stable id + statement + source + default level, and a check.

Checks are small functions with one signature (like schemathesis' checks): they receive a
`RuleContext` and an `Exchange` (or, for behavioural rules, a small list of exchanges) and
yield `Finding`s; they return quietly when the rule holds. Message and structured data are
kept apart: a Finding carries the JSON path, the value, the spec pointer; `Finding.render()`
turns it into the one-paragraph failure message.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conformance.transport.curl import to_curl

if TYPE_CHECKING:
    from conformance.transport.exchange import Exchange


class Level(enum.StrEnum):
    """How much a finding counts. Profiles may move a finding between levels."""

    VIOLATION = "violation"
    WARNING = "warning"
    NOTE = "note"  # informational (e.g. an unlisted value of an open enum); never fails anything


FAMILIES = (
    "schema",
    "streaming",
    "errors",
    "auth",
    "api-version",
    "extra-parameters",
    "unsupported-parameters",
    "content-filter",
    "semantics",
    "interop",
    "transport",
)


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    statement: str
    #: Spec JSON pointer ("2025-04-01#/components/schemas/ChatCompletions"), or a quoted sentence of
    #: the REST reference, or the SDK behaviour it protects.
    source: str
    level: Level = Level.VIOLATION
    #: "exchange": judged from one exchange (usable on recorded traffic);
    #: "behaviour": judged from the small set of exchanges one test made.
    scope: str = "exchange"
    #: Which API(s) it applies to: "model-inference", "azure-openai" or "any".
    api: str = "any"
    #: The check: (RuleContext, Exchange) -> findings for exchange rules; the judge of the exchanges
    #: one test made for behaviour rules. Findings it yields carry this rule (see `registry.rule`).
    check: Callable[..., Iterable[Finding]] | None = field(default=None, compare=False, repr=False)
    #: Applicability predicate of an exchange rule: (RuleContext, Exchange) -> bool. A rule "passes" only
    #: where it applied. None: it applies whenever the exchange got a response.
    applies: Callable[..., bool] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"rule {self.id}: unknown family {self.family!r}")


@dataclass
class Finding:
    """One deviation from one rule, at one place. The rule comes from the check that yielded it."""

    message: str
    #: JSON path of the offending value inside the body/chunk ("$.choices[0].finish_reason"), or a
    #: pseudo path for non-body things ("header:content-type", "status", "stream:event[3]").
    path: str = ""
    #: The offending value (already shortened to a string) or None.
    value: str | None = None
    #: Where the violated rule lives in the spec (JSON pointer) when it is a schema rule.
    pointer: str | None = None
    #: The JSON Schema keyword that failed (schema rules), for errata matching.
    keyword: str | None = None
    #: A free tag a rule sets to describe which variant it saw (e.g. error shape "fastapi-detail").
    variant: str | None = None
    level: Level = Level.VIOLATION
    #: Set by the profile when an erratum moved the level: the erratum id and its short reason.
    erratum: str | None = None
    operation_id: str | None = None
    exchange: Exchange | None = None
    #: Set when a waiver accepted this finding (reason).
    waived: str | None = None
    #: The rule's id; filled from the check that yielded the finding.
    rule_id: str = ""
    #: The rule itself (statement and source for the message); filled with `rule_id`.
    rule: Rule | None = field(default=None, repr=False, compare=False)

    def render(self, *, with_request: bool = True) -> str:
        """The failure message: rule, operation, where, what, source, and how to reproduce."""
        rule = self.rule
        lines = [f"[{self.rule_id}] {self.level.value}: {rule.statement if rule else ''}".rstrip()]
        if self.operation_id:
            lines.append(f"  operation: {self.operation_id}")
        lines.append(f"  found: {self.message}")
        if self.path:
            lines.append(f"  at: {self.path}" + (f" = {self.value}" if self.value is not None else ""))
        if self.pointer:
            lines.append(f"  schema: {self.pointer}")
        if rule:
            lines.append(f"  rule source: {rule.source}")
        if self.erratum:
            lines.append(f"  erratum: {self.erratum}")
        if self.waived:
            lines.append(f"  waived: {self.waived}")
        if with_request and self.exchange is not None:
            lines.append(f"  reproduce: {to_curl(self.exchange.request)}")
            if self.exchange.response is not None:
                lines.append(f"  response status: {self.exchange.response.status}")
            elif self.exchange.error:
                lines.append(f"  transport error: {self.exchange.error}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "level": self.level.value,
            "message": self.message,
            "path": self.path,
            "value": self.value,
            "pointer": self.pointer,
            "keyword": self.keyword,
            "variant": self.variant,
            "erratum": self.erratum,
            "waived": self.waived,
            "operation": self.operation_id,
        }


@dataclass
class RuleContext:
    """What a check may know besides the exchange: the spec, the api, the target's claims."""

    spec: Any  # conformance.spec.Spec
    api: str  # "model-inference" | "azure-openai"
    api_version: str
    target: Any = None  # conformance.config.TargetConfig (None for offline traffic)
    #: The request document as the suite meant it (for behavioural semantics), if any.
    extras: dict[str, Any] = field(default_factory=dict)


ExchangeCheck = Callable[[RuleContext, "Exchange"], Iterable[Finding]]
