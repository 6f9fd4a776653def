"""Progress while a slow target keeps the run waiting: which test waits, and for how long."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Any

import pytest


class WaitWatcher(threading.Thread):
    """Says which test is waiting for an answer, and for how long, while a slow target keeps it waiting.

    The main thread is blocked in the request, so a daemon thread watches the client's in-flight
    request and writes one line every `EVERY` seconds past pytest's output capture (to the terminal
    file descriptor pytest saved), never into a test's captured output.
    """

    EVERY = 10.0

    def __init__(self, suite: Any, config: pytest.Config) -> None:
        super().__init__(name="conformance-wait-watcher", daemon=True)
        self.suite = suite
        self.config = config

    def run(self) -> None:
        said: tuple[float, int] | None = None  # (request started, seconds last reported)
        while True:
            time.sleep(1.0)
            flight = self.suite.client.in_flight
            if flight is None:
                continue
            started, method, url = flight
            waited = int(time.monotonic() - started)
            step = int(waited // self.EVERY * self.EVERY)
            if step < self.EVERY or (said is not None and said == (started, step)):
                continue
            said = (started, step)
            limits = self.suite.config.limits
            test = self.suite.current_test or "pre-flight"
            path = url.split("?")[0].split("/", 3)[-1]
            self._write(f"[conformance] {test}: waiting {waited} s for {method} /{path} "
                        f"(total timeout {limits.total_timeout:g} s, stream limit {limits.max_stream_seconds:g} s)")

    def _write(self, line: str) -> None:
        capman = self.config.pluginmanager.getplugin("capturemanager")
        out = getattr(getattr(capman, "_global_capturing", None), "out", None)
        fd = getattr(out, "targetfd_save", None)
        with contextlib.suppress(OSError, ValueError):
            os.write(fd if isinstance(fd, int) else sys.__stdout__.fileno(), f"\n{line}\n".encode(errors="replace"))
