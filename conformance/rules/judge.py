"""Judging one exchange: run every exchange-scope check that applies, and say which applied.

Design (kept deliberately simple): every exchange rule has a cheap *applicability predicate*,
registered next to its check with `@applies("RULE-ID", ...)`. `judge_exchange` runs a check only
when its predicate holds, and `applicable_rules` lists exactly those rules, so a rule counts as
"evaluated" (a pass in the report) only on exchanges it could judge. A rule without a predicate
(one added elsewhere without `@applies`) applies whenever the exchange got a response.

A check that crashes is a suite bug, not a target deviation: in production (`raise_errors=False`)
it becomes a NOTE finding naming the check, so one bug never aborts a whole run; tests pass
`raise_errors=True` to see the traceback. Profiles are applied by the caller (`apply_profile`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from conformance.rules._model import Finding, Level, RuleContext, iter_findings
from conformance.rules.registry import exchange_checks
from conformance.rules.views import chunks, transcript
from conformance.text import shorten

if TYPE_CHECKING:
    from conformance.transport.exchange import Exchange

Predicate = Callable[[RuleContext, "Exchange"], bool]

#: At most this many findings of one rule on one exchange (a 5,000-chunk stream with the same
#: defect in every chunk must not produce 5,000 findings); the rest is summarised in one NOTE.
MAX_FINDINGS_PER_RULE = 20

_PREDICATES: dict[str, Predicate] = {}


def applies(*rule_ids: str) -> Callable[[Predicate], Predicate]:
    """Register `pred` as the applicability predicate of the given rules."""

    def deco(pred: Predicate) -> Predicate:
        for rid in rule_ids:
            _PREDICATES[rid] = pred
        return pred

    return deco


def predicate_for(rule_id: str) -> Predicate | None:
    return _PREDICATES.get(rule_id)


def _applies(rule_id: str, ctx: RuleContext, ex: Exchange) -> bool:
    pred = _PREDICATES.get(rule_id)
    if pred is None:
        return ex.response is not None
    return bool(pred(ctx, ex))


def _api_ok(rule_api: str, ctx: RuleContext) -> bool:
    return rule_api in ("any", ctx.api)


def applicable_rules(ctx: RuleContext, exchange: Exchange) -> list[str]:
    """Ids of the exchange rules that judge this exchange (whether or not they found anything)."""
    out = []
    for check in exchange_checks():
        if not _api_ok(check.rule.api, ctx):
            continue
        try:
            if _applies(check.rule.id, ctx, exchange):
                out.append(check.rule.id)
        except Exception:  # noqa: BLE001 - a broken predicate must not hide the others
            out.append(check.rule.id)
    return out


def judge_exchange(ctx: RuleContext, exchange: Exchange, *, raise_errors: bool = False) -> list[Finding]:
    """Every finding of every applicable exchange rule, at the rules' own levels (no profile)."""
    with _stream_decoded_once(exchange):
        return _judge(ctx, exchange, raise_errors=raise_errors)


#: Streams with at least this many events are decoded up front and kept out of the cyclic GC.
LONG_STREAM = 1000


@contextmanager
def _stream_decoded_once(exchange: Exchange) -> Iterator[None]:
    """For a long stream: decode its chunks, then `gc.freeze()` while the rules run.

    The decoded chunks (100k dicts for a 100k-chunk stream) live as long as the judgement, and every
    full collection the rules' allocations trigger would rescan them: ~30 % of judging such a
    stream. Frozen objects are only skipped, never freed early; what the rules allocate meanwhile is
    collected as usual, and `unfreeze` puts everything back.
    """
    try:
        ts = transcript(exchange)
    except Exception:  # noqa: BLE001 - the rules report an unreadable stream; nothing to speed up
        ts = None
    if ts is None or len(ts.events) < LONG_STREAM:
        yield
        return
    chunks(ts)
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _judge(ctx: RuleContext, exchange: Exchange, *, raise_errors: bool) -> list[Finding]:
    findings: list[Finding] = []
    for check in exchange_checks():
        if not _api_ok(check.rule.api, ctx):
            continue
        try:
            if not _applies(check.rule.id, ctx, exchange):
                continue
            found = _capped(check.rule.id, iter_findings(check, ctx, exchange))
        except Exception as exc:
            if raise_errors:
                raise
            found = [
                Finding(
                    rule_id=check.rule.id,
                    message=f"the suite's check {check.func.__name__} crashed on this exchange "
                    f"({type(exc).__name__}: {shorten(str(exc), 200)}); the rule was not judged",
                    level=Level.NOTE,
                    operation_id=exchange.operation_id,
                    exchange=exchange,
                )
            ]
        findings.extend(found)
    return findings


def _capped(rule_id: str, found: Iterable[Finding]) -> list[Finding]:
    out: list[Finding] = []
    extra = 0
    for f in found:
        if len(out) < MAX_FINDINGS_PER_RULE:
            out.append(f)
        else:
            extra += 1
    if extra:
        first = out[0]
        out.append(
            Finding(
                rule_id=rule_id,
                message=f"{extra} further finding(s) of this rule on this exchange not listed",
                level=Level.NOTE,
                operation_id=first.operation_id,
                exchange=first.exchange,
            )
        )
    return out
