"""Wires the packaged suite to the plugin: session start, per-test judge, parametrisation.

Tests that take `operation` run once per operation of the selected spec (so a new spec version
needs no new code); `@pytest.mark.kinds("chat", ...)` narrows that to operations of those kinds.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest

from conformance.results.model import RUN_LEVEL
from conformance.runner.console import write_own_line
from conformance.runner.payloads import (
    CHAT_OPS,
    COMPLETIONS_OPS,
    EMBEDDING_OPS,
    IMAGE_EMBEDDING_OPS,
    INFO_OPS,
    baseline,
)
from conformance.runner.plugin import get_session, start_session
from conformance.runner.session import TestJudge

KINDS = {
    "chat": CHAT_OPS,
    "completions": COMPLETIONS_OPS,
    "embeddings": EMBEDDING_OPS,
    "image_embeddings": IMAGE_EMBEDDING_OPS,
    "info": INFO_OPS,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kinds(*names): run only for operations of these kinds")
    config.addinivalue_line("markers", "rules(*ids): the rules this test judges")
    start_session(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "operation" not in metafunc.fixturenames:
        return
    suite = get_session(metafunc.config)
    ops = list(suite.spec.operations.values())
    marker = metafunc.definition.get_closest_marker("kinds")
    if marker is not None:
        wanted = set().union(*(KINDS[k] for k in marker.args))
        ops = [op for op in ops if op.operation_id in wanted]
    if not ops:
        # Keep the test visible as not applicable for this API rather than silently absent.
        metafunc.parametrize("operation", [None], ids=["no-such-operation"])
        return
    metafunc.parametrize("operation", ops, ids=[op.operation_id for op in ops])


@pytest.fixture(scope="session")
def suite(pytestconfig: pytest.Config) -> Any:
    return get_session(pytestconfig)


@pytest.fixture
def judge(request: pytest.FixtureRequest, suite: Any) -> TestJudge:
    op = request.node.callspec.params.get("operation") if hasattr(request.node, "callspec") else None
    marker = request.node.get_closest_marker("rules")
    # A test of no spec operation names its pseudo operation in its marker ("(unknown route)").
    op_id = op.operation_id if op is not None else marker.kwargs.get("operation") if marker is not None else None
    j = TestJudge(suite, request.node.nodeid, op_id, item=request.node)
    if marker is not None:
        j.plan(*marker.args)
    if op is None and "operation" in request.fixturenames:
        j.not_applicable(f"the {suite.api} spec has no operation of this kind", rules=j._planned_rules)
    elif op is not None and not suite.offers(op.operation_id):
        j.not_applicable(
            f"not claimed: {op.operation_id} is not among the target's operations "
            f"({', '.join(suite.config.operations)}; set `operations:` in the target file to claim it)",
            rules=j._planned_rules,
        )
    elif op is not None and op.operation_id in suite.unserved and "OPERATION-SERVED" not in j._planned_rules:
        # One finding (OPERATION-SERVED) for an operation that is not served, not one per rule.
        why, claimed = suite.unserved[op.operation_id]
        if claimed:
            j.skip(why, rules=j._planned_rules)
        j.not_applicable(f"{why}; the target file claims it only by a glob", rules=j._planned_rules)
    return j


def planned(item: pytest.Item) -> tuple[str, list[str]] | None:
    """(operation, rules) a suite test means to judge, from its `rules` marker and `operation` param.

    An exchange rule named by a test restricted to some kinds of operation (`kinds` marker) applies
    only to those; one never named that way applies to every operation (coverage in
    conformance.results.pipeline). So a kind-restricted test never names an every-operation rule.
    """
    marker = item.get_closest_marker("rules")
    if marker is None:
        return None
    callspec = getattr(item, "callspec", None)
    op = callspec.params.get("operation") if callspec is not None else None
    if callspec is not None and "operation" in callspec.params:
        if op is None:
            return None  # the API has no operation of this kind
        return op.operation_id, list(marker.args)
    return marker.kwargs.get("operation", RUN_LEVEL), list(marker.args)


def _plan(config: pytest.Config, items: list[pytest.Item], *, deselected: bool = False) -> None:
    suite = get_session(config)
    if suite is None:
        return
    for item in items:
        plan = planned(item)
        if plan is not None:
            suite.collector.plan_test(item.nodeid, plan[0], plan[1])
            if item.get_closest_marker("kinds") is not None:
                suite.collector.kind_rules.update(plan[1])
        if deselected:
            suite.collector.deselected.add(item.nodeid)


#: The tests that send the most requests (generated and hand-written cases). Under pytest-xdist they
#: are collected first, so the workers start with them and no worker is left alone with one at the end.
HEAVY_TESTS = frozenset({"test_generated_valid_requests_are_accepted", "test_generated_invalid_requests_are_rejected",
                         "test_hand_written_invalid_requests_are_rejected"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # every worker collects the same order; one process keeps the files' order
        items.sort(key=lambda item: getattr(item, "originalname", item.name) not in HEAVY_TESTS)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        _plan(items[0].config, items, deselected=True)


def pytest_collection_finish(session: pytest.Session) -> None:
    _plan(session.config, session.items)


@pytest.fixture
def base(judge: TestJudge, suite: Any, request: pytest.FixtureRequest) -> Any:
    """The baseline valid request for the test's operation (n/a when the suite has none)."""
    op = request.node.callspec.params.get("operation")
    planned = baseline(op, api=suite.api, models=suite.config.models or {}, max_tokens=suite.config.budget.max_tokens)
    if planned is None:
        judge.not_applicable(f"no hand-written request for {op.operation_id}", rules=judge._planned_rules)
    return planned


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    judge = getattr(item, "funcargs", {}).get("judge")
    if judge is not None:
        judge.session.collector.ran.add(item.nodeid)
        judge.session.current_test = item.nodeid.split("::")[-1]
    try:
        result = yield
    except BaseException as exc:
        if judge is not None:
            judge.finish(raise_on_violation=False)
            if not isinstance(exc, pytest.skip.Exception | pytest.fail.Exception | KeyboardInterrupt):
                error = f"{type(exc).__name__}: {exc}"[:400]
                judge.session.collector.errors.append(f"{item.nodeid}: {error}")
                judge.session.collector.crashed[item.nodeid] = error
        raise
    finally:
        _stop_past_deadline(item)
    if judge is not None:
        judge.finish()
    return result


def _stop_past_deadline(item: pytest.Item) -> None:
    """Past the run's max duration, pytest runs no further test (their rules are reported not judged)."""
    suite = get_session(item.config)
    stopped = suite.past_deadline() if suite is not None else None
    if stopped:
        item.session.shouldstop = f"conformance: {stopped}"


_last_progress = [0.0]


#: Seconds between progress lines; the first comes only after this long (short runs print none).
PROGRESS_EVERY = 15.0


def _progress(judge: TestJudge) -> None:
    """Live progress for long runs: at most one line every PROGRESS_EVERY seconds."""
    now = time.monotonic()
    if now - _last_progress[0] < PROGRESS_EVERY:
        return
    _last_progress[0] = now
    suite = judge.session
    tr = suite_terminal[0]
    if tr is None:
        return
    used = suite.budget.used
    line = (
        f"[conformance] {judge.operation_id or '-'}: {used} requests sent, "
        f"budget left {max(0, suite.config.budget.max_requests - used)}"
    )
    capman = tr.config.pluginmanager.getplugin("capturemanager")
    # Written past pytest's output capture, so it shows while the test runs (not in its report).
    ctx = capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()
    with ctx:
        write_own_line(tr, line)


suite_terminal: list[Any] = [None]


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    suite = get_session(session.config)
    if suite is None or hasattr(session.config, "workerinput"):
        return
    suite_terminal[0] = session.config.pluginmanager.get_plugin("terminalreporter")
    _last_progress[0] = time.monotonic()
    suite.progress = _progress
