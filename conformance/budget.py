"""The run's request budget, shared by every process of the run (pytest-xdist workers included).

A conformance run against a paid deployment must not send more than the user allowed, however
many workers run. The state is a small JSON file updated under an exclusive `fcntl.flock`, so
`take()` is atomic across processes; without a file (single process) a thread lock suffices.
The same file accumulates token spend and retries, so the report can show the run's total cost.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_FIELDS = ("used", "refused", "retries", "prompt_tokens", "completion_tokens", "total_tokens")


class RequestBudget:
    """At most `limit` requests for the whole run; `take()` says whether one more may be sent."""

    def __init__(self, limit: int, state_file: Path | None = None) -> None:
        if limit < 0:
            raise ValueError("budget limit must be >= 0")
        self.limit = limit
        self.state_file = Path(state_file) if state_file is not None else None
        self._lock = threading.Lock()
        self._memory: dict[str, int] = dict.fromkeys(_FIELDS, 0)

    @classmethod
    def fresh(cls, limit: int, state_file: Path) -> RequestBudget:
        """Start a run: (re)create the state file with nothing spent. Called once, by the controller."""
        state_file = Path(state_file)
        state_file.parent.mkdir(parents=True, exist_ok=True)
        budget = cls(limit, state_file)
        budget._update(lambda s: s.update(dict.fromkeys(_FIELDS, 0)))
        return budget

    def take(self, n: int = 1) -> bool:
        """Reserve `n` requests; False (and nothing reserved) when that would exceed the limit."""

        def _take(state: dict[str, int]) -> bool:
            if state["used"] + n > self.limit:
                state["refused"] += 1
                return False
            state["used"] += n
            return True

        return self._update(_take)

    def add_tokens(self, prompt: int = 0, completion: int = 0, total: int | None = None) -> None:
        def _add(state: dict[str, int]) -> None:
            state["prompt_tokens"] += prompt
            state["completion_tokens"] += completion
            state["total_tokens"] += total if total is not None else prompt + completion

        self._update(_add)

    def add_retries(self, n: int = 1) -> None:
        self._update(lambda s: s.__setitem__("retries", s["retries"] + n))

    @property
    def used(self) -> int:
        return self.snapshot()["used"]

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def snapshot(self) -> dict[str, int]:
        """The run's spend so far: used, refused, retries, prompt/completion/total tokens."""
        return self._update(lambda s: dict(s))

    # -- storage -----------------------------------------------------------------------------

    def _update(self, fn: Callable[[dict[str, int]], Any]) -> Any:
        with self._lock:
            if self.state_file is None:
                return fn(self._memory)
            with self._locked_file() as (state, save):
                result = fn(state)
                save(state)
                return result

    @contextmanager
    def _locked_file(self) -> Iterator[tuple[dict[str, int], Callable[[dict[str, int]], None]]]:
        assert self.state_file is not None
        fd = os.open(self.state_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = b""
            while chunk := os.read(fd, 65536):
                raw += chunk
            state = dict.fromkeys(_FIELDS, 0)
            try:
                loaded = json.loads(raw) if raw else {}
            except ValueError:
                loaded = {}
            if isinstance(loaded, dict):
                state.update({k: int(v) for k, v in loaded.items() if k in _FIELDS and isinstance(v, int)})
            before = dict(state)

            def save(new: dict[str, int]) -> None:
                if new == before:
                    return
                data = json.dumps(new).encode()
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, data)

            yield state, save
        finally:
            os.close(fd)  # closing releases the flock
