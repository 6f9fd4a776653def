"""The shared request budget: one lock cycle per request, tallies batched, totals still exact."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from conformance.transport.budget import RequestBudget


def _spend(path: str, n: int, out) -> None:  # type: ignore[no-untyped-def]
    budget = RequestBudget(50, Path(path))
    won = 0
    for _ in range(n):
        if budget.take():
            won += 1
            budget.add_tokens(2, 3)
            budget.add_retries(1)
    budget.flush()
    out.put(won)


def test_racing_processes_never_overspend_and_tallies_are_exact(tmp_path: Path) -> None:
    state = tmp_path / "budget.json"
    RequestBudget.fresh(50, state)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_spend, args=(str(state), 30, out)) for _ in range(4)]
    for p in procs:
        p.start()
    wins = [out.get(timeout=20) for _ in procs]
    for p in procs:
        p.join(timeout=20)
    snap = RequestBudget(50, state).snapshot()
    assert sum(wins) == 50 == snap["used"] and snap["refused"] == 4 * 30 - 50
    assert (snap["prompt_tokens"], snap["completion_tokens"], snap["total_tokens"], snap["retries"]) == (100, 150, 250, 50)


def test_tallies_wait_for_the_next_take_or_flush_but_snapshot_includes_them(tmp_path: Path) -> None:
    state = tmp_path / "b.json"
    budget = RequestBudget.fresh(10, state)
    budget.add_tokens(5, 7, total=13)
    other = RequestBudget(10, state)
    assert other.snapshot()["total_tokens"] == 0  # not written yet: no lock cycle spent on it
    assert budget.snapshot()["total_tokens"] == 13  # the owner's view is exact
    budget.add_retries(2)
    assert budget.take() and other.snapshot()["retries"] == 2  # folded into take's update
    budget.add_tokens(1)
    budget.close()
    assert other.snapshot() == {"used": 1, "refused": 0, "retries": 2, "prompt_tokens": 6,
                                "completion_tokens": 7, "total_tokens": 14}


def test_a_replaced_state_file_is_followed(tmp_path: Path) -> None:
    state = tmp_path / "b.json"
    budget = RequestBudget.fresh(3, state)
    assert budget.take(2)
    state.unlink()
    RequestBudget.fresh(3, state)  # a new run's file under the same name
    assert budget.take(3) and not budget.take()
    assert RequestBudget(3, state).snapshot()["used"] == 3


def test_an_inherited_budget_works_in_a_forked_child(tmp_path: Path) -> None:
    state = tmp_path / "b.json"
    budget = RequestBudget.fresh(4, state)
    assert budget.take()
    pid = os.fork()
    if pid == 0:  # child: the parent's descriptor must not be shared (its flock would be too)
        code = 1
        try:
            code = 0 if budget.take(2) else 1
            budget.flush()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert budget.take() and not budget.take()
    assert budget.snapshot()["used"] == 4


def test_without_a_file_counters_stay_in_memory(tmp_path: Path) -> None:
    budget = RequestBudget(2)
    assert budget.take() and budget.take() and not budget.take()
    budget.add_tokens(1, 2)
    budget.flush()
    assert budget.snapshot() == {"used": 2, "refused": 1, "retries": 0, "prompt_tokens": 1,
                                 "completion_tokens": 2, "total_tokens": 3}
    assert list(tmp_path.iterdir()) == []


def test_a_pause_is_seen_by_every_process_of_the_run(tmp_path: Path) -> None:
    one = RequestBudget.fresh(10, tmp_path / "b.json")
    two = RequestBudget(10, tmp_path / "b.json")
    assert two.take() and two.pause_left() == 0
    one.pause(30)
    assert one.pause_left() > 25
    assert two.take() and 25 < two.pause_left() <= 30
    assert RequestBudget.fresh(10, tmp_path / "b.json").take() and two.take()  # a new run starts unpaused
