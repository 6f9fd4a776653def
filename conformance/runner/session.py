"""The state of one suite run, and the per-test judge.

`SuiteSession` is built once per pytest process from the resolved target configuration: spec,
client, shared budget, result collector. `TestJudge` is what a suite test talks to: it sends
requests (every exchange is judged by every exchange-scope rule automatically), applies
behaviour judges, and at the end fails the test with rendered violations.

A test whose requests do not depend on each other's answers (generated cases, hand-written
negatives) sends them with `send_many`: up to `limits.max_in_flight` wait on the network at once,
while receiving, judging, the breakers and the notes stay on the test's thread, in the order of
the requests, so the results are those of sending them one after another.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from conformance.results.collect import ResultCollector
from conformance.results.waivers import Acceptance
from conformance.rules._model import Finding, Level, RuleContext
from conformance.rules.catalogue import get_rule
from conformance.rules.judge import applicable_rules, judge_exchange
from conformance.rules.profiles import apply_profile
from conformance.runner.generation import TOKEN_LIMIT_FIELDS, token_limit_field
from conformance.transport.client import BudgetExhausted
from conformance.transport.exchange import Exchange
from conformance.transport.inflight import in_order
from conformance.transport.redact import scrub


@dataclass
class SuiteSession:
    config: Any  # conformance.config.TargetConfig
    spec: Any  # conformance.spec.Spec
    client: Any  # conformance.transport.client.TargetClient
    budget: Any  # conformance.transport.budget.RequestBudget
    collector: ResultCollector
    reference: Any = None  # ReferenceServer when the embedded reference is the target
    seed: int | None = None
    progress: Any = None
    #: Waivers and baseline: which violations the user accepts (conformance.results.waivers).
    acceptance: Acceptance = field(default_factory=Acceptance)
    #: Consecutive exchanges without a usable answer, overall and per operation; past a few, the
    #: operation (or the whole target) counts as unresponsive and is no longer sent to.
    transport_failures: int = 0
    #: Seconds those consecutive failures cost: a target whose every request runs into its total
    #: timeout trips the breaker after `BREAKER_TIMEOUTS` timeouts, whatever the count.
    failure_seconds: float = 0.0
    op_failures: dict[str, int] = field(default_factory=dict)
    unresponsive: str | None = None
    unresponsive_ops: dict[str, str] = field(default_factory=dict)
    #: Operations whose stream was cut at the limits (never ended): no further stream is sent to them.
    stream_cut_ops: dict[str, str] = field(default_factory=dict)
    #: Operations that answered 404 to a valid request before the run: op -> (reason, explicitly claimed).
    unserved: dict[str, tuple[str, bool]] = field(default_factory=dict)
    #: Pre-flight exchanges by operation (controller only), reused by the OPERATION-SERVED test.
    preflight: dict[str, Exchange] = field(default_factory=dict)
    #: Wall-clock time (time.time()) after which nothing more is sent (limits.max_duration).
    deadline: float | None = None
    #: The running test's name, for progress lines ("test_x[getChatCompletions] waiting 20 s ...").
    current_test: str | None = None

    @property
    def api(self) -> str:
        return self.config.api

    @property
    def api_version(self) -> str:
        return self.spec.version

    def rule_context(self) -> RuleContext:
        return RuleContext(spec=self.spec, api=self.api, api_version=self.api_version, target=self.config)

    def offers(self, operation_id: str) -> bool:
        patterns = self.config.operations or ["*"]
        return any(fnmatch.fnmatchcase(operation_id, p) for p in patterns)

    def capability(self, name: str) -> Any:
        return (self.config.capabilities or {}).get(name)

    @property
    def discovered(self) -> dict[str, Any]:
        """What the target showed about capabilities (kept in the collector so xdist workers merge)."""
        return self.collector.discovered

    def discover(self, name: str, value: Any) -> None:
        self.discovered[name] = value

    def past_deadline(self) -> str | None:
        """Why nothing more may be sent (the run's max duration is reached), else None."""
        if self.deadline is None or time.time() < self.deadline:
            return None
        reason = f"max duration of {self.config.limits.max_duration:g} s reached (limits.max_duration, --max-duration)"
        self.collector.stopped = self.collector.stopped or reason
        return reason


T = TypeVar("T")


class DroppedCase(Exception):
    """A generated case the suite could not carry out; dropped as a suite note, never judged."""


@dataclass
class Outgoing:
    """One request of a `TestJudge.send_many` batch: `send`'s arguments."""

    method: str
    path: str
    purpose: str = ""
    droppable: bool = False
    operation_id: str | None = None
    #: The client's keyword arguments (json, content, headers, params, api_version, credential, ...).
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, method: str, path: str, *, purpose: str = "", droppable: bool = False,
           operation_id: str | None = None, **kwargs: Any) -> Outgoing:
        """With `TestJudge.send`'s signature."""
        return cls(method, path, purpose, droppable, operation_id, kwargs)

    @classmethod
    def planned(cls, planned: Any, **kwargs: Any) -> Outgoing:
        """A planned request (`conformance.runner.payloads`) with `send`'s keyword arguments on top."""
        kw: dict[str, Any] = {}
        if planned.json is not None:
            kw["json"] = planned.json
        if planned.params:
            kw["params"] = planned.params
        if planned.headers:
            kw["headers"] = planned.headers
        return cls.of(planned.method, planned.path, **{**kw, **kwargs})


@dataclass
class _Unsent:
    """Why a request of a batch was not sent (a breaker, the deadline, the budget)."""

    reason: str | None = None  # None: the budget is spent


def suite_caused(session: SuiteSession, ex: Exchange) -> str | None:
    """Why this exchange says nothing about the target, or None when it can be judged.

    The suite spoiled it when it could not build or send the request, or when it left a
    token-spending request without a token limit and the answer then ran past the suite's limits
    (a model may legitimately write until its context is full)."""
    if ex.suite_error:
        return ex.suite_error
    stream = ex.response.stream if ex.response is not None else None
    out_of_limits = (
        (ex.error is not None and "timeout" in ex.error)
        or (ex.response is not None and ex.response.truncated)
        or (stream is not None and stream.cut_reason in ("timeout", "stalled", "max_events", "max_bytes"))
    )
    if out_of_limits and ex.operation_id and unbounded(session, ex.operation_id, ex.request.json):
        what = ex.error or "the answer was cut by the suite's limits"
        return f"{what}; the request carried no token limit, so the suite does not blame the target"
    return None


def unbounded(session: SuiteSession, operation_id: str, body: Any) -> bool:
    """Whether a JSON request body of this operation lets the answer spend tokens without a limit."""
    if not isinstance(body, dict) or operation_id not in session.spec.operations:
        return False
    if token_limit_field(session.spec, operation_id) is None:
        return False
    return not any(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (body.get(f) for f in TOKEN_LIMIT_FIELDS)
    )


class TestJudge:
    """Per-test collector: sends, judges, and decides the test's outcome."""

    __test__ = False  # not a pytest test class

    def __init__(self, session: SuiteSession, nodeid: str, operation_id: str | None = None, item: Any = None) -> None:
        self.session = session
        self.nodeid = nodeid
        self.operation_id = operation_id
        self.item = item  # the pytest item: accepted violations are noted in its user_properties (JUnit)
        self.findings: list[Finding] = []
        self.exchanges: list[Exchange] = []
        self._ctx = session.rule_context()

    # -- sending ----------------------------------------------------------------------------
    def send(
        self, method: str, path: str, *, operation_id: str | None = None, purpose: str = "", droppable: bool = False,
        **kwargs: Any,
    ) -> Exchange:
        """Send through the one client; judge the exchange with every applicable exchange rule.

        An exchange the suite itself spoiled (`suite_caused`) is never judged: it becomes a suite
        note, and the test is skipped, or with `droppable` (one generated case of many) the case is
        dropped by raising `DroppedCase`."""
        out = Outgoing(method, path, purpose, droppable, operation_id, kwargs)
        return self._receive(out, self._transmit(out))

    def send_planned(self, planned: Any, **kwargs: Any) -> Exchange:
        out = Outgoing.planned(planned, **kwargs)
        return self._receive(out, self._transmit(out))

    def send_many(self, outgoing: Sequence[Outgoing]) -> Iterator[Exchange | None]:
        """Send requests that do not depend on each other's answers, up to `limits.max_in_flight` at once.

        Yields each request's judged exchange in the order given (None for a droppable case the suite
        dropped), as `send` one after another would: each answer is received and judged on this
        thread, and the next request is handed to a sender only after the test has dealt with the
        previous answer (`conformance.transport.inflight.in_order`), so a breaker tripped by one answer
        holds every request not yet sent. A skip (breaker, deadline, budget) ends the batch where
        `send` would have (the senders take the budget in the order they run: when its last unit went
        to a later request, that answer is sent but not judged; the budget is never exceeded). Use it under `contextlib.closing` (or through `sending`), so that leaving the
        loop early waits for the requests still in flight."""
        items = list(outgoing)
        width = self.session.config.limits.max_in_flight
        with closing(in_order(self._transmit, items, width, abort=self.session.client.abort_in_flight)) as results:
            for out, result in zip(items, results, strict=True):
                yield self._received_or_dropped(out, result)

    @contextmanager
    def sending(self, plan: Sequence[tuple[Outgoing, T] | str]) -> Iterator[Iterator[tuple[T, Exchange]]]:
        """`send_many` for a plan of `(request, context)` pairs: yields `(context, exchange)` in the plan's
        order, dropped cases left out; a plan entry that is a string is a suite note, added in its place.
        Leaving the block early waits for the requests still in flight (at most `max_in_flight - 1`)."""
        batch = [item[0] for item in plan if not isinstance(item, str)]
        with closing(self.send_many(batch)) as exchanges:

            def answers() -> Iterator[tuple[T, Exchange]]:
                for item in plan:
                    if isinstance(item, str):
                        self.session.collector.notes.append(item)
                        continue
                    ex = next(exchanges)
                    if ex is not None:
                        yield item[1], ex

            yield answers()

    def _transmit(self, out: Outgoing) -> Exchange | _Unsent:
        """Send one request unless a breaker, the deadline or the budget forbids it (any thread)."""
        op = out.operation_id or self.operation_id
        s = self.session
        stopped = s.past_deadline() or s.unresponsive or s.unresponsive_ops.get(op or "")
        if not stopped and op in s.stream_cut_ops and _asks_for_stream(out.kwargs):
            stopped = s.stream_cut_ops[op]
        if stopped:
            return _Unsent(stopped)
        try:
            return s.client.request(out.method, out.path, operation_id=op, purpose=out.purpose, **out.kwargs)
        except BudgetExhausted:
            return _Unsent()

    def _received_or_dropped(self, out: Outgoing, result: Exchange | _Unsent) -> Exchange | None:
        try:
            return self._receive(out, result)
        except DroppedCase:
            return None

    def _receive(self, out: Outgoing, result: Exchange | _Unsent) -> Exchange:
        """Judge what came back on the test's thread: a skip, a dropped case, or a judged exchange."""
        if isinstance(result, _Unsent):
            if result.reason is None:
                self.skip_budget()
            self.skip(f"not sent: {result.reason}", rules=self._planned_rules)
        ex = result
        op = out.operation_id or self.operation_id
        why = suite_caused(self.session, ex)
        if why is not None:
            note = f"{op or '(none)'}: {why} ({out.purpose or 'request'})"
            self.session.collector.notes.append(note)
            if out.droppable:
                raise DroppedCase(note)
            self.skip(f"not judged: {note}", rules=self._planned_rules)
        self._track_transport(ex)
        self.exchanges.append(ex)
        self._judge_exchange(ex)
        if self.session.progress is not None:
            self.session.progress(self)
        return ex

    def _track_transport(self, ex: Exchange) -> None:
        track_transport(self.session, ex)

    #: After this many consecutive requests of one operation without a usable answer, that operation
    #: is no longer sent to (twice as many across operations: the whole target). A dripping or silent
    #: server would otherwise cost (number of tests x total timeout).
    MAX_CONSECUTIVE_TRANSPORT_FAILURES = 3

    def adopt(self, ex: Exchange) -> None:
        """Judge an exchange sent before this test (the pre-flight's) as if this test had sent it."""
        self.exchanges.append(ex)
        self._judge_exchange(ex)

    def _judge_exchange(self, ex: Exchange) -> None:
        found = judge_exchange(self._ctx, ex)
        apply_profile(found, self.session.config.profile, self.session.api)
        op = ex.operation_id or self.operation_id or "(none)"
        self.session.collector.saw_answer(ex, op)
        for rule_id in applicable_rules(self._ctx, ex):
            self.session.collector.mark_evaluated(rule_id, op, self.nodeid)
        for f in found:
            f.operation_id = f.operation_id or op
        self.findings.extend(found)

    # -- behaviour judges ---------------------------------------------------------------------
    def judge(self, rule_id: str, findings: Iterable[Finding], operation_id: str | None = None) -> list[Finding]:
        """Record a behaviour rule's verdict (evaluated + its findings, profile applied)."""
        op = operation_id or self.operation_id or "(none)"
        rule = get_rule(rule_id)
        if rule is not None and rule.api not in ("any", self.session.api):
            # A rule of the other API's contract (the 422 parameter_not_supported contract is Model
            # Inference's): never judged here, whatever a test asked.
            self.session.collector.mark_not_applicable(rule_id, op, f"{rule_id} belongs to the {rule.api} API")
            return []
        found = list(findings)
        for f in found:
            f.operation_id = f.operation_id or op
        apply_profile(found, self.session.config.profile, self.session.api)
        self.session.collector.mark_evaluated(rule_id, op, self.nodeid)
        self.findings.extend(found)
        return found

    def not_applicable(self, reason: str, rules: Iterable[str] = (), operation_id: str | None = None) -> None:
        op = operation_id or self.operation_id or "(none)"
        for r in rules:
            self.session.collector.mark_not_applicable(r, op, reason)
        self.finish()
        pytest.skip(f"not applicable: {reason}")

    def skip(self, reason: str, rules: Iterable[str] = (), operation_id: str | None = None) -> None:
        """The test stops without judging `rules`: they are reported as not judged, with `reason`."""
        op = operation_id or self.operation_id or "(none)"
        for r in rules:
            self.session.collector.mark_not_judged(r, op, reason)
        self.finish(raise_on_violation=False)
        pytest.skip(reason)

    def skip_budget(self) -> None:
        self.skip("budget exhausted: the target file's max_requests was reached", rules=self._planned_rules)

    _planned_rules: tuple[str, ...] = ()

    def plan(self, *rules: str) -> None:
        """Declare which rules this test means to judge (so a skip can be reported per rule)."""
        self._planned_rules = tuple(rules)

    # -- outcome ----------------------------------------------------------------------------
    _finished = False

    def finish(self, raise_on_violation: bool = True) -> None:
        if self._finished:
            return
        self._finished = True
        self._accept()
        self.session.collector.add_findings(self.findings, self.nodeid)
        violations = [f for f in self.findings if f.level == Level.VIOLATION and not f.waived]
        if violations and raise_on_violation:
            shown = violations[:10]
            text = "\n\n".join(f.render() for f in shown)
            if len(violations) > len(shown):
                text += f"\n\n… and {len(violations) - len(shown)} more violation(s) (see the report)"
            pytest.fail(scrub(f"{len(violations)} violation(s):\n\n{text}"), pytrace=False)

    def _accept(self) -> None:
        """Waivers and the baseline accept violations (shown as waived everywhere, never hidden): the
        test then passes, and JUnit carries why (a `waived` property on the testcase)."""
        acceptance = self.session.acceptance
        if not acceptance:
            return
        accepted = []
        for f in self.findings:
            if f.level == Level.VIOLATION and not f.waived:
                f.waived = acceptance.reason_for(f.rule_id, f.operation_id or "")
                if f.waived:
                    accepted.append(f"{f.rule_id} on {f.operation_id}: {f.waived}")
        if accepted and self.item is not None:
            for text in dict.fromkeys(accepted):
                self.item.user_properties.append(("waived", text))

    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == Level.WARNING]


#: See TestJudge.MAX_CONSECUTIVE_TRANSPORT_FAILURES; the target-wide breaker also trips once the
#: consecutive failures have cost this many total timeouts (a server that drips every answer).
BREAKER_TIMEOUTS = 3
#: Stream cut reasons that mean "the target never ended its stream" (not a framing problem).
_STREAM_LIMIT_CUTS = ("timeout", "stalled", "max_events", "max_bytes")


def _asks_for_stream(kwargs: dict[str, Any]) -> bool:
    """Whether a request body asks for a stream (`"stream": true`, as a dict or encoded JSON)."""
    body = kwargs.get("json")
    if isinstance(body, dict):
        return body.get("stream") is True
    content = kwargs.get("content")
    return isinstance(content, bytes | bytearray) and b'"stream": true' in content


def stream_cut_at_limits(ex: Exchange) -> str | None:
    """The limit a streamed answer ran into (it never ended by itself), else None."""
    stream = ex.response.stream if ex.response is not None else None
    reason = stream.cut_reason if stream is not None else None
    if reason and reason.split(":")[0].strip() in _STREAM_LIMIT_CUTS:
        return reason
    return None


def track_transport(s: SuiteSession, ex: Exchange) -> None:
    """The unresponsive-target breakers: per operation, for the whole target, and for endless streams.

    A request without a usable answer, a 429 that outlived every retry, and a stream cut at its
    limits all count as failures. After one cut stream an operation gets no further streamed
    request (a target that never ends its streams costs one stream limit per operation, not one
    per test); after `limit` failures in a row an operation is no longer sent to; after 2 x `limit`
    in a row, or `BREAKER_TIMEOUTS` total timeouts' worth of seconds, the whole target is not.
    """
    failed = ex.response is None or (ex.error is not None and ex.response.stream is None)
    # A 429 that outlived every retry is no answer either: a target throttling everything would
    # otherwise cost (tests x retries x Retry-After).
    throttled = ex.response is not None and ex.response.status == 429
    cut = stream_cut_at_limits(ex)
    op = ex.operation_id or "(none)"
    if cut and op not in s.stream_cut_ops:
        s.stream_cut_ops[op] = (
            f"a streamed answer of {op} never ended (cut at the limit: {cut}); no further stream was requested"
        )
        s.collector.errors.append(s.stream_cut_ops[op])
    if not (failed or throttled or cut):
        s.transport_failures = 0
        s.failure_seconds = 0.0
        s.op_failures[op] = 0
        return
    s.transport_failures += 1
    s.failure_seconds += max(0.0, time.monotonic() - ex.started) if ex.started else 0.0
    s.op_failures[op] = s.op_failures.get(op, 0) + 1
    last = ex.error if failed else (f"stream cut: {cut}" if cut else "429 Too Many Requests after every retry")
    limit = TestJudge.MAX_CONSECUTIVE_TRANSPORT_FAILURES
    if s.op_failures[op] >= limit and op not in s.unresponsive_ops:
        s.unresponsive_ops[op] = (
            f"{op} gave no usable answer to {s.op_failures[op]} requests in a row (last: {last}); "
            "its remaining requests were not sent"
        )
        s.collector.errors.append(s.unresponsive_ops[op])
    too_slow = s.failure_seconds >= BREAKER_TIMEOUTS * s.config.limits.total_timeout
    if (s.transport_failures >= 2 * limit or too_slow) and not s.unresponsive:
        s.unresponsive = (
            f"the target gave no usable answer to {s.transport_failures} requests in a row "
            f"({s.failure_seconds:.0f} s; last: {last}); the remaining requests were not sent"
        )
        # Nothing after this point is judged: the run is incomplete, whatever passed before.
        s.collector.errors.append(s.unresponsive)
