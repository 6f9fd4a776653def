"""Requests per second of the embedded reference deployment (not a test).

    python bench/reference_rps.py [--seconds 3]

Starts the reference on a loopback port and drives it with httpx: chat, streaming chat and
embeddings one after another, then chat from two threads at once; prints a table.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

import httpx

from conformance.reference import running_reference

V = "2025-05-01"
CHAT = {"messages": [{"role": "user", "content": "benchmark the reference deployment please"}], "max_tokens": 16}


def _loop(call: Callable[[], httpx.Response], seconds: float) -> tuple[int, int]:
    ok = bad = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if call().status_code == 200:
            ok += 1
        else:
            bad += 1
    return ok, bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each run")
    args = parser.parse_args()
    rows: list[tuple[str, int, int, float]] = []
    with running_reference() as server:
        def client() -> httpx.Client:
            return httpx.Client(base_url=server.base_url, headers={"api-key": server.api_key},
                                params={"api-version": V}, timeout=10)

        with client() as c:
            cases = {
                "chat (JSON)": lambda: c.post("/models/chat/completions", json=CHAT),
                "chat (stream)": lambda: c.post("/models/chat/completions", json={**CHAT, "stream": True}),
                "embeddings (2 x 256)": lambda: c.post("/models/embeddings", json={"input": ["a b", "c d e"]}),
            }
            for name, call in cases.items():
                call()  # warm up
                start = time.perf_counter()
                ok, bad = _loop(call, args.seconds)
                rows.append((name, ok, bad, ok / (time.perf_counter() - start)))

        results: list[tuple[int, int]] = []

        def worker() -> None:
            with client() as c:
                results.append(_loop(lambda: c.post("/models/chat/completions", json=CHAT), args.seconds))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok, bad = sum(r[0] for r in results), sum(r[1] for r in results)
        rows.append(("chat (JSON), 2 threads", ok, bad, ok / (time.perf_counter() - start)))

    print(f"{'workload':<26} {'ok':>7} {'non-200':>8} {'req/s':>9}")
    for name, ok, bad, rps in rows:
        print(f"{name:<26} {ok:>7} {bad:>8} {rps:>9.1f}")


if __name__ == "__main__":
    main()
