"""`conformance run` at standard depth against the reference behind a 300 ms round-trip loopback proxy.

A deployment in another region answers each request ~300 ms later than the embedded reference: the
run then waits on the network, which is what `conformance run`'s default workers (pytest-xdist, for
any endpoint other than the embedded reference) and in-flight requests (a test's independent
requests on their way together, `--max-in-flight`) are for. Goal: <= 15 s with the defaults. The
same run with `--workers 0` (one process) is the baseline, measured in the same session, and two
more runs show what each half brings: `--max-in-flight 1` (workers only) and
`--workers 0 --max-in-flight 1` (every request after the previous answer).

The proxy is a delay line on 127.0.0.1: every chunk in either direction is forwarded 150 ms after
it arrived (chunks in flight overlap, as on a real network), so each request/response round trip
costs 300 ms and nothing else changes. It stops with the script.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Row, main_wrapper, ratio, reference_process, run_conformance  # noqa: E402

RTT = 0.300
GOAL_S = 15.0
SEED = 7
#: (label, extra arguments): the defaults, the one-process baseline, then what each half of the concurrency brings.
RUNS = [
    ("defaults", []),
    ("--workers 0 (one process)", ["--workers", "0"]),
    ("--max-in-flight 1 (workers only)", ["--max-in-flight", "1"]),
    ("--workers 0 --max-in-flight 1 (one after another)", ["--workers", "0", "--max-in-flight", "1"]),
]


class DelayLine:
    """A TCP proxy on 127.0.0.1 to `upstream_port` adding `rtt / 2` each way."""

    def __init__(self, upstream_port: int, rtt: float) -> None:
        self.upstream_port = upstream_port
        self.one_way = rtt / 2
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.base_events.Server | None = None

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        delivery = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.one_way, data))
            queue.put_nowait((time.monotonic() + self.one_way, b""))
            await delivery
        except (OSError, asyncio.IncompleteReadError):
            delivery.cancel()
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(self._forward(client_reader, upstream_writer),
                             self._forward(upstream_reader, client_writer), return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._connection, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    @contextlib.contextmanager
    def running(self) -> Iterator[DelayLine]:
        thread = threading.Thread(target=self._run, name="delay-line", daemon=True)
        thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the delay line did not start")
        try:
            yield self
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            thread.join(timeout=5)


def measure() -> list[Row]:
    from conformance.reference.server import reference_target

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp, reference_process() as ref:
        upstream = int(ref.base_url.rsplit(":", 1)[1])
        with DelayLine(upstream, RTT).running() as line:
            endpoint = f"http://127.0.0.1:{line.port}/models"
            target = Path(tmp) / "target.yaml"
            target.write_text(yaml.safe_dump(reference_target("model-inference", endpoint)), encoding="utf-8")
            walls: dict[str, float] = {}
            for n, (label, extra) in enumerate(RUNS):
                work = Path(tmp) / f"run-{n}"
                work.mkdir()
                args = ["--target", str(target), "--depth", "standard", "--seed", str(SEED), *extra]
                wall, s, code = run_conformance(args, workdir=work, api_key=ref.api_key)
                walls[label] = wall
                goal = (f"<= {GOAL_S:g} s", wall <= GOAL_S) if label == "defaults" else ("", None)
                rows += [
                    Row(f"standard depth, {RTT * 1000:.0f} ms RTT, {label}", "wall s", f"{wall:.1f}", *goal),
                    Row(f"standard depth, {RTT * 1000:.0f} ms RTT, {label}", "requests; verdict (exit code)",
                        f"{s['requests']}; {s['verdict']} ({code})"),
                ]
            baseline = RUNS[1][0]
            rows.append(Row(f"standard depth, {RTT * 1000:.0f} ms RTT", f"{baseline} / defaults",
                            f"{ratio(walls[baseline], walls['defaults']):.1f}x"))
    rows.append(Row("machine", "load average (1 / 5 / 15 min) after the runs",
                    " / ".join(f"{x:.1f}" for x in os.getloadavg())))
    return rows


if __name__ == "__main__":
    sys.exit(main_wrapper(f"conformance run behind a {RTT * 1000:.0f} ms round-trip loopback proxy", measure))
