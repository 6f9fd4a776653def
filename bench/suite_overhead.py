"""Suite overhead per request: a standard-depth `conformance run` vs a plain httpx loop replaying its traffic.

Both clients talk to the same reference process in the same run. The suite run saves its traffic
(`--save-traffic`); the loop then sends exactly those requests with one `httpx.Client` and reads
every body, doing nothing else. The difference is what judging, generation, pytest and the
reports cost per request. Goal: suite <= 1.5x the plain loop per request.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Reference, Row, main_wrapper, ratio, reference_process, run_conformance  # noqa: E402

GOAL = 1.5
#: Headers the replay must not copy: recomputed by httpx, or redacted credentials put back below.
_DROP = {"host", "content-length", "api-key", "authorization", "transfer-encoding", "connection"}


def replayable(traffic: Path, ref: Reference) -> list[tuple[str, str, dict[str, str], bytes | None]]:
    """The saved requests, credentials restored (a recorded 401 keeps its wrong/absent credential)."""
    from conformance.traffic import read_traffic

    out = []
    for ex in read_traffic([traffic]):
        req = ex.request
        headers = {k: v for k, v in req.headers.items() if k.lower() not in _DROP}
        unauthorised = ex.response is not None and ex.response.status == 401
        if not unauthorised:
            if req.header("authorization"):
                headers["authorization"] = f"Bearer {ref.api_key}"
            elif req.header("api-key"):
                headers["api-key"] = ref.api_key
        elif req.header("api-key"):
            headers["api-key"] = "wrong-key"
        out.append((req.method, req.url, headers, req.body))
    return out


def replay(requests: list[tuple[str, str, dict[str, str], bytes | None]]) -> float:
    """Send every request, read every body; seconds taken."""
    with httpx.Client(timeout=30) as client:
        t0 = time.perf_counter()
        for method, url, headers, body in requests:
            client.request(method, url, headers=headers, content=body).read()
        return time.perf_counter() - t0


def measure() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp, reference_process() as ref:
        work = Path(tmp)
        from conformance.reference.server import reference_target

        target = work / "target.yaml"
        target.write_text(yaml.safe_dump(reference_target("model-inference", ref.endpoint())), encoding="utf-8")
        traffic = work / "traffic.jsonl"
        base = ["--target", str(target), "--depth", "standard", "--workers", "0"]
        # 1st run: hypothesis' charmap cache (.hypothesis/ in the working directory) is cold.
        cold_wall, cold, _ = run_conformance(base, workdir=work, api_key=ref.api_key)
        run_conformance([*base, "--save-traffic", str(traffic)], workdir=work, api_key=ref.api_key)
        # A fresh container with PYTHONDONTWRITEBYTECODE=1: no cached bytecode, no cached rewritten asserts.
        nocache = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(work / "empty-pycache")}
        variants = {  # label -> (extra args, extra env); "--assert=plain" is the proposed cli.py default
            "as shipped": ([], None), "with --assert=plain": (["--assert=plain"], None),
            "no bytecode cache": ([], nocache), "no bytecode cache, --assert=plain": (["--assert=plain"], nocache),
        }
        best: dict[str, tuple[float, dict]] = {}
        for _ in range(2):  # interleaved, best of 2 per request: the machine is shared
            for label, (extra, env) in variants.items():
                w, s, _ = run_conformance([*base, *extra], workdir=work, api_key=ref.api_key, extra_env=env)
                if label not in best or w / s["requests"] < best[label][0] / best[label][1]["requests"]:
                    best[label] = (w, s)
        requests = replayable(traffic, ref)
        replay(requests[:20])  # warm the server's code paths and the connection
        loop = min(replay(requests) for _ in range(3))
    summary = best["as shipped"][1]
    n = int(summary["requests"])
    loop_ms = 1000 * loop / len(requests)

    def per(seconds: float, s: dict) -> float:
        return 1000 * seconds / int(s["requests"])

    b = "suite overhead"
    rows = [
        Row(b, "requests (measured run, results.json / replayed --save-traffic run)", f"{n} / {len(requests)}"),
        Row(b, "plain httpx loop, ms/request (best of 3)", f"{loop_ms:.2f}"),
    ]
    for label, (w, s) in {"cold .hypothesis cache": (cold_wall, cold), **best}.items():
        r_wall, r_session = ratio(per(w, s), loop_ms), ratio(per(s["duration_s"], s), loop_ms)
        rows += [
            Row(b, f"suite {label}: wall s / session s", f"{w:.2f} / {s['duration_s']:.2f}"),
            Row(b, f"suite {label}: ms/request wall / session (overhead over loop, session)",
                f"{per(w, s):.2f} / {per(s['duration_s'], s):.2f} (+{per(s['duration_s'], s) - loop_ms:.1f})"),
            Row(b, f"ratio suite/loop {label} (wall)", f"{r_wall:.1f}x", f"<= {GOAL}x", r_wall <= GOAL),
            Row(b, f"ratio suite/loop {label} (session)", f"{r_session:.1f}x", f"<= {GOAL}x", r_session <= GOAL),
        ]
    return rows


if __name__ == "__main__":
    sys.exit(main_wrapper("Suite overhead per request (standard depth vs plain httpx replay)", measure))
