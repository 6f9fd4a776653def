"""Wires the packaged suite to the plugin: session start, per-test judge, parametrisation.

Tests that take `operation` run once per operation of the selected spec (so a new spec version
needs no new code); `@pytest.mark.kinds("chat", ...)` narrows that to operations of those kinds.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest

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
    j = TestJudge(suite, request.node.nodeid, op.operation_id if op is not None else None)
    marker = request.node.get_closest_marker("rules")
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
    return j


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
    try:
        result = yield
    except BaseException as exc:
        if judge is not None:
            judge.finish(raise_on_violation=False)
            if not isinstance(exc, pytest.skip.Exception | pytest.fail.Exception | KeyboardInterrupt):
                judge.session.collector.errors.append(f"{item.nodeid}: {type(exc).__name__}: {exc}"[:500])
        raise
    if judge is not None:
        judge.finish()
    return result


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
