"""Several independent requests on their way at once, their answers taken in the order they were asked.

A remote deployment answers each request hundreds of milliseconds later; a test that sends fifteen
generated cases one after another waits fifteen round trips. `in_order` overlaps those waits on a
small thread pool (the one client may be shared between threads) while the caller keeps taking the
answers in the order of the requests, so what it does with them (judging, breakers, notes) happens
in the same order as if they had been sent one by one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def in_order(send: Callable[[T], R], items: Sequence[T], width: int,
             abort: Callable[[], None] | None = None) -> Iterator[R]:
    """`send(item)` for every item, at most `width` at once, results yielded in the items' order.

    The next item goes to a thread only when the caller asks for the next result, that is after it
    has dealt with the previous one: what it learnt from an answer (a breaker tripped, a stop) holds
    every item not yet sent, and at most `width - 1` were already on their way. With `width` 1 the
    items are sent on the caller's thread, one after another. Closing the iterator early (use
    `contextlib.closing`) cancels the items not started and waits for the ones in flight, so no
    request outlives the loop that asked for it. An exception of `send` is raised at its item. An
    interruption (Ctrl-C, SIGTERM) while waiting calls `abort` (which cuts the requests in flight)
    instead of waiting for them.
    """
    width = min(max(1, width), len(items))
    if width <= 1:
        for item in items:
            yield send(item)
        return
    pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="conformance-send")
    waiting = deque(items)
    pending: deque[Future[R]] = deque()
    try:
        while pending or waiting:
            while waiting and len(pending) < width:
                pending.append(pool.submit(send, waiting.popleft()))
            yield pending.popleft().result()
    except (KeyboardInterrupt, SystemExit):
        if abort is not None:
            abort()
        raise
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
