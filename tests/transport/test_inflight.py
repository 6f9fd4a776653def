"""Several requests on their way at once, answers taken in order: concurrency proven with barriers, never timed."""

from __future__ import annotations

import threading
from contextlib import closing

import pytest

from conformance.transport.inflight import in_order


class Recorder:
    """A `send` that records which items started and finished (and may wait at a barrier first)."""

    def __init__(self, barrier: threading.Barrier | None = None) -> None:
        self.barrier = barrier
        self.started: list[int] = []
        self.finished: list[int] = []
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self, item: int) -> int:
        with self._lock:
            self.started.append(item)
            self.threads.add(threading.get_ident())
        if self.barrier is not None and item < self.barrier.parties:
            self.barrier.wait(timeout=10)  # only passes when `parties` items are in flight together
        with self._lock:
            self.finished.append(item)
        return item * 10


def test_items_are_in_flight_together_and_answers_come_in_order() -> None:
    send = Recorder(threading.Barrier(4))
    assert list(in_order(send, list(range(9)), 4)) == [i * 10 for i in range(9)]
    assert sorted(send.started) == list(range(9))


def test_the_next_item_goes_out_only_when_the_caller_asks_for_the_next_answer() -> None:
    send = Recorder()
    answers = in_order(send, list(range(6)), 3)
    assert next(answers) == 0
    assert set(send.started) <= {0, 1, 2}  # item 3 waits until the caller has dealt with answer 0
    assert next(answers) == 10
    assert set(send.started) <= {0, 1, 2, 3}
    assert list(answers) == [20, 30, 40, 50]


def test_leaving_early_waits_for_the_items_in_flight_and_sends_no_other() -> None:
    send = Recorder()
    with closing(in_order(send, list(range(10)), 3)) as answers:
        assert next(answers) == 0
    assert set(send.started) <= {0, 1, 2} and sorted(send.finished) == sorted(send.started)


def test_one_at_a_time_runs_on_the_callers_thread() -> None:
    send = Recorder()
    assert list(in_order(send, [1, 2, 3], 1)) == [10, 20, 30]
    assert send.threads == {threading.get_ident()} and send.started == [1, 2, 3]
    assert list(in_order(send, [], 4)) == []


def test_an_exception_is_raised_at_its_item() -> None:
    def send(item: int) -> int:
        if item == 2:
            raise ValueError("item 2")
        return item

    answers = in_order(send, [0, 1, 2, 3], 4)
    assert [next(answers), next(answers)] == [0, 1]
    with pytest.raises(ValueError, match="item 2"):
        next(answers)


def test_an_interruption_cuts_the_requests_in_flight_instead_of_waiting() -> None:
    aborted: list[bool] = []

    def send(item: int) -> int:
        if item == 1:
            raise KeyboardInterrupt  # as if Ctrl-C arrived while the test waited for this answer
        return item

    answers = in_order(send, [0, 1, 2], 3, abort=lambda: aborted.append(True))
    assert next(answers) == 0
    with pytest.raises(KeyboardInterrupt):
        next(answers)
    assert aborted == [True]
