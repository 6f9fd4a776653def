"""The hostile-server battery: against every misbehaving server, `conformance run` must finish in
bounded time and memory, exit 1 (violations) or 3 (unreachable), write a complete report, never
crash, never leak the credential, never let the server's markup or escape sequences through, and
never hand the credential to the other end of a redirect.

All runs go in parallel (they mostly wait on timeouts), so the battery costs about one bound.
"""

from __future__ import annotations

import json
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from hostile.servers import (
    HOSTILE,
    HUGE_BODY_BYTES,
    INJECTION,
    ChildRun,
    Recorder,
    child_env,
    redirect_pair,
    run_cli,
)
from tests.servers import RawRequest, serve_raw

#: Documented bound for one run against a hostile server (docs/selftest.md).
BOUND_S = 60
#: Peak resident memory allowed for one run (the huge-body server sends 500 MB).
MAX_RSS_MB = 400
#: Tight limits from the target file: seconds and sizes a hostile server can cost per request.
LIMITS = {
    "connect_timeout": 2, "read_timeout": 2, "total_timeout": 3, "max_body_bytes": 1024 * 1024,
    "max_stream_events": 200, "max_stream_seconds": 2, "stream_idle_timeout": 2,
    "max_retries": 1, "max_retry_wait": 1,
}
#: Exit code each server should produce: 3 when even the reachability probe cannot get an answer.
EXPECTED_EXIT = {name: 1 for name in HOSTILE} | {"silent": 3, "redirect": 1}
REPORT_FILES = ("report.html", "results.json", "junit.xml", "pytest-details.html")
#: Exit 3 stops before any test ran: the run writes an incomplete report, with no junit or pytest details.
UNREACHABLE_REPORT_FILES = ("report.html", "results.json")
#: Extra pytest arguments per server: 60 requests run out before the streaming tests come up, so
#: the endless stream is pointed straight at them.
EXTRA_ARGS = {"endless-stream": ["-k", "test_streamed_answer or test_stream_matches_non_stream"]}


@dataclass
class HostileRun:
    name: str
    run: ChildRun
    report_dir: Path
    secret: str
    recorder: Recorder | None = None
    redirects_sent: int = 0


def _target_file(path: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "api": "model-inference",
        "models": {"chat": "hostile-chat", "embeddings": "hostile-embed", "image_embeddings": "hostile-image-embed"},
        "limits": LIMITS,
    }), encoding="utf-8")
    return path


def _run(name: str, url: str, base: Path) -> tuple[str, ChildRun, Path, str]:
    work = base / name
    work.mkdir()
    secret = f"hostile-secret-{secrets.token_hex(12)}"
    report_dir = work / "reports"
    args = ["run", "--endpoint", f"{url}/models", "--target", str(_target_file(work / "target.yaml")),
            "--depth", "smoke", "--report-dir", str(report_dir), "--max-requests", "60", "--seed", "7",
            "--workers", "0",  # a dozen hostile runs at once: one process each keeps the battery within bounds
            *EXTRA_ARGS.get(name, [])]
    run = run_cli(args, env=child_env(CONFORMANCE_API_KEY=secret), cwd=work, deadline=BOUND_S + 30)
    return name, run, report_dir, secret


@pytest.fixture(scope="module")
def battery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, HostileRun]]:
    base = tmp_path_factory.mktemp("hostile")
    with ExitStack() as stack:
        urls = {name: stack.enter_context(serve_raw(handler)).url for name, handler in HOSTILE.items()}
        first, other = stack.enter_context(redirect_pair())
        urls["redirect"] = first.url
        with ThreadPoolExecutor(max_workers=len(urls)) as pool:
            done = list(pool.map(lambda item: _run(item[0], item[1], base), urls.items()))
        runs = {name: HostileRun(name, run, rd, secret) for name, run, rd, secret in done}
        runs["redirect"].recorder = Recorder(list(other.requests))
        runs["redirect"].redirects_sent = len(first.requests)
        yield runs


NAMES = sorted([*HOSTILE, "redirect"])


def _report_files(name: str) -> tuple[str, ...]:
    return UNREACHABLE_REPORT_FILES if EXPECTED_EXIT[name] == 3 else REPORT_FILES


def _describe(h: HostileRun) -> str:
    tail = "\n".join((h.run.stdout + h.run.stderr).strip().splitlines()[-15:])
    return f"{h.name}: exit {h.run.exit_code} after {h.run.duration:.1f}s; output ends:\n{tail}"


# -- the battery ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_finishes_in_bound_with_the_right_exit_code(battery: dict[str, HostileRun], name: str) -> None:
    h = battery[name]
    assert h.run.exit_code is not None, f"{name}: killed at the deadline ({BOUND_S + 30}s): {_describe(h)}"
    assert h.run.duration < BOUND_S, f"{name}: took {h.run.duration:.1f}s, bound {BOUND_S}s. {_describe(h)}"
    assert h.run.exit_code == EXPECTED_EXIT[name], f"expected exit {EXPECTED_EXIT[name]}. {_describe(h)}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_report_is_complete(battery: dict[str, HostileRun], name: str) -> None:
    h = battery[name]
    unreachable = EXPECTED_EXIT[name] == 3
    missing = [f for f in _report_files(name) if not (h.report_dir / f).is_file()]
    assert not missing, f"{name}: report files missing: {missing}. {_describe(h)}"
    results = json.loads((h.report_dir / "results.json").read_text(encoding="utf-8"))
    expected = ("incomplete",) if unreachable else ("not conformant", "incomplete")
    assert results["summary"]["verdict"] in expected, results["summary"]
    if not unreachable:
        assert ET.parse(h.report_dir / "junit.xml").getroot().tag in ("testsuites", "testsuite")
    assert "</html>" in (h.report_dir / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_memory_is_bounded(battery: dict[str, HostileRun], name: str) -> None:
    h = battery[name]
    assert h.run.max_rss_mb < MAX_RSS_MB, f"{name}: peak RSS {h.run.max_rss_mb:.0f} MB >= {MAX_RSS_MB} MB"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_no_crash(battery: dict[str, HostileRun], name: str) -> None:
    h = battery[name]
    output = h.run.stdout + h.run.stderr
    for marker in ("Traceback (most recent call last)", "INTERNALERROR"):
        assert marker not in output, f"{name}: {marker!r} in the output. {_describe(h)}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_credential_appears_nowhere(battery: dict[str, HostileRun], name: str) -> None:
    h = battery[name]
    places = {"stdout": h.run.stdout, "stderr": h.run.stderr}
    for path in sorted(h.report_dir.rglob("*")):
        if path.is_file():
            places[str(path.relative_to(h.report_dir))] = path.read_text(encoding="utf-8", errors="replace")
    leaks = [where for where, text in places.items() if h.secret in text]
    assert not leaks, f"{name}: the credential appears in {leaks}"
    assert set(_report_files(name)) <= set(places), f"{name}: only looked in {sorted(places)}"


#: The misbehaviour each server shows must reach the verdict: rule id -> outcomes that count.
NOTICED = {
    "echo-credential": ("AUTH-NO-ECHO", {"violation"}),
    "server-errors": ("NO-SERVER-ERROR", {"violation"}),
    "garbage": ("BODY-JSON", {"violation"}),
    "endless-stream": ("STREAM-COMPLETE", {"violation"}),
    "rate-limited-bare": ("RETRY-AFTER", {"warning", "violation"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTICED))
def test_misbehaviour_reaches_the_verdict(battery: dict[str, HostileRun], name: str) -> None:
    h = battery[name]
    rule, outcomes = NOTICED[name]
    results = json.loads((h.report_dir / "results.json").read_text(encoding="utf-8"))["results"]
    seen = sorted({r["outcome"] for r in results if r["rule_id"] == rule})
    assert set(seen) & outcomes, f"{name}: {rule} outcomes {seen}, expected one of {sorted(outcomes)}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_terminal_output_has_no_escape_bytes(battery: dict[str, HostileRun], name: str) -> None:
    h = battery[name]
    for stream, text in (("stdout", h.run.stdout), ("stderr", h.run.stderr)):
        assert "\x1b" not in text, f"{name}: raw ESC in {stream} at {text.index(chr(27))}: {text[text.index(chr(27)) - 80:][:160]!r}"


@pytest.mark.slow
def test_injected_markup_is_never_live(battery: dict[str, HostileRun]) -> None:
    h = battery["injection"]
    for name in ("report.html", "pytest-details.html"):
        html = (h.report_dir / name).read_text(encoding="utf-8")
        assert "<script>alert(" not in html, f"{name}: the server's <script> is live"
        assert "\x1b" not in html, f"{name}: raw ESC byte from the server"
    # The markup did reach the run (so the check above means something): it is shown escaped.
    report = (h.report_dir / "report.html").read_text(encoding="utf-8")
    assert "alert(1)" in report or "alert(2)" in report, "the injected strings never reached report.html"


@pytest.mark.slow
def test_redirect_target_never_receives_the_credential(battery: dict[str, HostileRun]) -> None:
    h = battery["redirect"]
    assert h.recorder is not None
    assert h.redirects_sent > 0, "the run never reached the redirecting server"
    leaked = h.recorder.received_credential(h.secret)
    assert not leaked, f"the redirect's other origin received a credential with: {leaked}"


# -- the servers really misbehave (otherwise the battery proves nothing) --------------------------


def test_silent_server_sends_nothing() -> None:
    with serve_raw(HOSTILE["silent"]) as s, pytest.raises(httpx.ReadTimeout):
        httpx.post(s.url + "/models/info", json={}, timeout=httpx.Timeout(2, read=0.5))


def _receive_for(url: str, seconds: float) -> bytes:
    """POST a chat request over a raw socket and return whatever arrived within `seconds`."""
    import socket
    import time

    host, port = url.removeprefix("http://").split(":")
    body = b'{"messages": []}'
    got = b""
    with socket.create_connection((host, int(port)), timeout=0.2) as sock:
        sock.sendall(b"POST /models/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            got += chunk
    return got


def test_stalling_and_dripping_servers_do_not_finish_a_body() -> None:
    with serve_raw(HOSTILE["stall-after-headers"]) as s:
        head, _, body = _receive_for(s.url, 1.5).partition(b"\r\n\r\n")
    assert b"Content-Length: 1000" in head and body == b""
    with serve_raw(HOSTILE["drip"]) as s:
        head, _, body = _receive_for(s.url, 2.5).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and 1 <= len(body) <= 3, body


def test_endless_stream_keeps_going() -> None:
    with serve_raw(HOSTILE["endless-stream"]) as s, httpx.stream(
        "POST", s.url + "/models/chat/completions", json={"stream": True}, timeout=5
    ) as r:
        received = 0
        for chunk in r.iter_bytes():
            received += len(chunk)
            if received > 50_000:
                break
    assert received > 50_000


def test_huge_body_announces_500_mb_and_streams_it() -> None:
    with serve_raw(HOSTILE["huge-body"]) as s, httpx.stream("GET", s.url + "/models/info", timeout=5) as r:
        assert int(r.headers["content-length"]) == HUGE_BODY_BYTES
        first = next(r.iter_bytes())
    assert first.startswith(b"[0,")


def test_garbage_is_neither_utf8_nor_json() -> None:
    with serve_raw(HOSTILE["garbage"]) as s:
        body = httpx.post(s.url + "/models/chat/completions", json={}).content
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    with pytest.raises(ValueError):
        json.loads(body.decode("latin-1"))


def test_reset_mid_body_breaks_the_transfer() -> None:
    with serve_raw(HOSTILE["reset-mid-body"]) as s, pytest.raises(httpx.TransportError):
        httpx.post(s.url + "/models/chat/completions", json={}, timeout=2).read()


@pytest.mark.parametrize(("name", "retry_after"), [("rate-limited-retry-after", "1"), ("rate-limited-bare", None)])
def test_rate_limited_servers_answer_429(name: str, retry_after: str | None) -> None:
    with serve_raw(HOSTILE[name]) as s:
        r = httpx.post(s.url + "/models/chat/completions", json={})
    assert r.status_code == 429 and r.headers.get("retry-after") == retry_after


def test_server_errors_are_500_and_503() -> None:
    with serve_raw(HOSTILE["server-errors"]) as s:
        statuses = {httpx.get(s.url + "/models/info" + "x" * i).status_code for i in range(2)}
    assert statuses == {500, 503}


def test_echo_and_injection_put_their_payload_in_strings_and_headers() -> None:
    with serve_raw(HOSTILE["echo-credential"]) as s:
        r = httpx.post(s.url + "/models/chat/completions", json={}, headers={"api-key": "k-123"})
    assert r.headers["x-echo-key"] == "k-123" and "k-123" in r.json()["choices"][0]["message"]["content"]
    with serve_raw(HOSTILE["injection"]) as s:
        doc = httpx.post(s.url + "/models/chat/completions", json={}).json()
    assert doc["model"].endswith(INJECTION) and doc["choices"][0]["message"]["content"] == INJECTION


def test_redirect_points_to_the_recording_server() -> None:
    with redirect_pair() as (first, other):
        r = httpx.post(first.url + "/models/chat/completions?api-version=x", json={}, follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == other.url + "/models/chat/completions?api-version=x"
        httpx.get(r.headers["location"], headers={"api-key": "s3cret"})
    assert Recorder(list(other.requests)).received_credential("s3cret") == ["GET /models/chat/completions?api-version=x"]


def test_recorder_sees_a_credential_in_any_header() -> None:
    req = RawRequest(method="GET", target="/", headers={"x-other": "v"}, raw_head=b"GET / HTTP/1.1\r\nx-other: v")
    assert Recorder([req]).received_credential("s3cret") == []
    req2 = RawRequest(method="GET", target="/", raw_head=b"GET / HTTP/1.1\r\nx-key: s3cret")
    assert Recorder([req2]).received_credential("s3cret") == ["GET /"]
