"""The run's request budget, shared by every process of the run (pytest-xdist workers included).

A conformance run against a paid deployment must not send more than the user allowed, however
many workers run. The state is a small JSON file updated under an exclusive `fcntl.flock`, so
`take()` is atomic across processes; without a file (single process) a thread lock suffices.
The same file accumulates token spend and retries, so the report can show the run's total cost.

Cost per request matters (the suite sends hundreds): the file stays open between updates (reopened
after a fork or when the file was replaced), is rewritten in place and padded instead of truncated
(truncating cost ~70 us a time), and token/retry tallies wait in memory until the next locked
update, so a request costs one lock cycle (`take`), not two. `snapshot()` and `flush()` write what
waits; a process that used the budget must `flush()` before it exits (the plugin's workers do).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_FIELDS = ("used", "refused", "retries", "prompt_tokens", "completion_tokens", "total_tokens")
#: Wall-clock time (ms since the epoch) before which no process of the run sends: the latest
#: back-off a 429 asked for. Kept as a maximum, not a sum.
_PAUSE = "pause_until_ms"


class RequestBudget:
    """At most `limit` requests for the whole run; `take()` says whether one more may be sent."""

    def __init__(self, limit: int, state_file: Path | None = None) -> None:
        if limit < 0:
            raise ValueError("budget limit must be >= 0")
        self.limit = limit
        self.state_file = Path(state_file) if state_file is not None else None
        self._lock = threading.Lock()
        #: Without a file: the counters. With one: tallies not yet written to it.
        self._memory: dict[str, int] = dict.fromkeys(_FIELDS, 0)
        self._fd: int | None = None
        self._fd_pid = 0
        #: The run-wide pause as last seen (updated by every take()).
        self._pause_until_ms = 0

    @classmethod
    def fresh(cls, limit: int, state_file: Path) -> RequestBudget:
        """Start a run: (re)create the state file with nothing spent. Called once, by the controller."""
        state_file = Path(state_file)
        state_file.parent.mkdir(parents=True, exist_ok=True)
        budget = cls(limit, state_file)
        budget._update(lambda s: s.update({**dict.fromkeys(_FIELDS, 0), _PAUSE: 0}))
        return budget

    def take(self, n: int = 1) -> bool:
        """Reserve `n` requests; False (and nothing reserved) when that would exceed the limit."""

        def _take(state: dict[str, int]) -> bool:
            self._pause_until_ms = max(self._pause_until_ms, int(state.get(_PAUSE, 0)))
            if state["used"] + n > self.limit:
                state["refused"] += 1
                return False
            state["used"] += n
            return True

        return self._update(_take)

    def pause(self, seconds: float) -> None:
        """Ask every process of the run to hold its next request for `seconds` (a 429's Retry-After):
        a rate limit is the target's, so one worker's back-off is everyone's."""
        until = int((time.time() + max(0.0, seconds)) * 1000)
        if self.state_file is None:
            with self._lock:
                self._pause_until_ms = max(self._pause_until_ms, until)
            return

        def _pause(state: dict[str, int]) -> None:
            state[_PAUSE] = max(int(state.get(_PAUSE, 0)), until)

        self._update(_pause)
        self._pause_until_ms = max(self._pause_until_ms, until)

    def pause_left(self) -> float:
        """Seconds left of the run-wide pause, as of this process's last take()."""
        return max(0.0, self._pause_until_ms / 1000 - time.time())

    def add_tokens(self, prompt: int = 0, completion: int = 0, total: int | None = None) -> None:
        with self._lock:
            self._memory["prompt_tokens"] += prompt
            self._memory["completion_tokens"] += completion
            self._memory["total_tokens"] += total if total is not None else prompt + completion

    def add_retries(self, n: int = 1) -> None:
        with self._lock:
            self._memory["retries"] += n

    def flush(self) -> None:
        """Write the tallies that wait in memory to the state file (a no-op without one)."""
        if self.state_file is not None:
            self._update(lambda s: None)

    def close(self) -> None:
        """Flush, and release the state file's descriptor (the budget reopens it if used again)."""
        self.flush()
        with self._lock:
            self._close_fd()

    def __del__(self) -> None:
        self._close_fd()

    def _close_fd(self) -> None:
        fd, self._fd = getattr(self, "_fd", None), None
        if fd is not None and self._fd_pid == os.getpid():
            os.close(fd)

    @property
    def used(self) -> int:
        return self.snapshot()["used"]

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def snapshot(self) -> dict[str, int]:
        """The run's spend so far: used, refused, retries, prompt/completion/total tokens."""
        return self._update(lambda s: {k: s[k] for k in _FIELDS})

    # -- storage -----------------------------------------------------------------------------

    def _update(self, fn: Callable[[dict[str, int]], Any]) -> Any:
        with self._lock:
            if self.state_file is None:
                return fn(self._memory)
            with self._locked_file() as (state, save):
                for key, pending in self._memory.items():
                    state[key] += pending
                result = fn(state)
                save(state)
                self._memory = dict.fromkeys(_FIELDS, 0)
                return result

    def _open(self) -> int:
        """The state file's descriptor, kept open; a fresh one in a forked child (flocks are shared)."""
        assert self.state_file is not None
        if self._fd is not None and self._fd_pid == os.getpid():
            return self._fd
        if self._fd is not None:  # inherited across fork: the parent keeps its own copy
            os.close(self._fd)
        self._fd = os.open(self.state_file, os.O_RDWR | os.O_CREAT, 0o600)
        self._fd_pid = os.getpid()
        return self._fd

    def _lock_current_file(self) -> int:
        """flock the open file, reopening first if the path now names another file (or none)."""
        fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(self.state_file).st_ino == os.fstat(fd).st_ino  # type: ignore[arg-type]
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # closing releases the flock
        self._fd = None
        fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    @contextmanager
    def _locked_file(self) -> Iterator[tuple[dict[str, int], Callable[[dict[str, int]], None]]]:
        fd = self._lock_current_file()
        try:
            raw = b""
            while chunk := os.pread(fd, 65536, len(raw)):
                raw += chunk
            state = dict.fromkeys(_FIELDS, 0)
            try:
                loaded = json.loads(raw) if raw.strip() else {}
            except ValueError:
                loaded = {}
            if isinstance(loaded, dict):
                state.update({k: int(v) for k, v in loaded.items()
                              if k in (*_FIELDS, _PAUSE) and isinstance(v, int)})
            before = dict(state)

            def save(new: dict[str, int]) -> None:
                if new == before:
                    return
                # Padded over the old text (JSON allows trailing spaces): never truncated, so cheap.
                os.pwrite(fd, json.dumps(new).encode().ljust(len(raw)), 0)

            yield state, save
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
