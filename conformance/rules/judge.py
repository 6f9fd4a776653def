"""Judging one exchange: run every exchange-scope check that applies, and say which applied.

Design (kept deliberately simple): every exchange rule declares a cheap *applicability predicate*
(`@rule(..., applies=...)`). `judge_exchange` runs a check only when its predicate holds, and
`applicable_rules` lists exactly those rules, so a rule counts as "evaluated" (a pass in the report)
only on exchanges it could judge. A rule without a predicate applies whenever the exchange got a
response.

A check that crashes is a suite bug, not a target deviation: in production (`raise_errors=False`)
it becomes a NOTE finding naming the check, so one bug never aborts a whole run; tests pass
`raise_errors=True` to see the traceback. Profiles are applied by the caller (`apply_profile`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from conformance.rules._model import Finding, Level, Rule, RuleContext
from conformance.rules.catalogue import exchange_rules
from conformance.rules.views import chunks, transcript
from conformance.text import shorten

if TYPE_CHECKING:
    from conformance.transport.exchange import Exchange

#: At most this many findings of one rule on one exchange (a 5,000-chunk stream with the same
#: defect in every chunk must not produce 5,000 findings); the rest is summarised in one NOTE.
MAX_FINDINGS_PER_RULE = 20


def _applies(rule: Rule, ctx: RuleContext, ex: Exchange) -> bool:
    if rule.applies is None:
        return ex.response is not None
    return bool(rule.applies(ctx, ex))


def _api_ok(rule_api: str, ctx: RuleContext) -> bool:
    return rule_api in ("any", ctx.api)


def applicable_rules(ctx: RuleContext, exchange: Exchange) -> list[str]:
    """Ids of the exchange rules that judge this exchange (whether or not they found anything)."""
    out = []
    for rule in exchange_rules():
        if not _api_ok(rule.api, ctx):
            continue
        try:
            if _applies(rule, ctx, exchange):
                out.append(rule.id)
        except Exception:  # noqa: BLE001 - a broken predicate must not hide the others
            out.append(rule.id)
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
    for rule in exchange_rules():
        if not _api_ok(rule.api, ctx):
            continue
        try:
            if not _applies(rule, ctx, exchange):
                continue
            found = _capped(rule, _located(rule.check(ctx, exchange), exchange))
        except Exception as exc:
            if raise_errors:
                raise
            found = [
                Finding(
                    rule_id=rule.id,
                    rule=rule,
                    message=f"the suite's check {rule.check.__name__} crashed on this exchange "
                    f"({type(exc).__name__}: {shorten(str(exc), 200)}); the rule was not judged",
                    level=Level.NOTE,
                    operation_id=exchange.operation_id,
                    exchange=exchange,
                )
            ]
        findings.extend(found)
    return findings


def _located(found: Iterable[Finding], exchange: Exchange) -> Iterator[Finding]:
    """Findings tied to the exchange and operation they were found on."""
    for f in found:
        if f.operation_id is None:
            f.operation_id = exchange.operation_id
        if f.exchange is None:
            f.exchange = exchange
        yield f


def _capped(rule: Rule, found: Iterable[Finding]) -> list[Finding]:
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
                rule_id=rule.id,
                rule=rule,
                message=f"{extra} further finding(s) of this rule on this exchange not listed",
                level=Level.NOTE,
                operation_id=first.operation_id,
                exchange=first.exchange,
            )
        )
    return out
