"""Misbehaving servers on 127.0.0.1, each wrong in ONE way, built on `tests/servers.py`.

Two families:
- hostile servers (`HOSTILE`): a target that hangs, floods, lies about encodings, resets, redirects,
  throttles, fails, leaks the credential or injects markup. The suite must stay bounded and safe.
- mutating proxies (`mutating_proxy`): the conformant reference deployment behind a proxy that
  breaks exactly one rule the reference's fault table cannot switch on (EMB-INT-FORMATS: the
  reference claims no integer encoding format), so every rule still gets its self-test pair.

Unless the misbehaviour is about the connection itself, `GET .../info` (the suite's reachability
probe) gets a plausible answer, so the run gets past the probe and every test meets the misbehaviour.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.servers import RawRequest, RunningServer, json_response, reset, respond, send_head, serve_raw

INJECTION = "<script>alert(1)</script>\x1b[2J\x1b[31m"
HUGE_BODY_BYTES = 500 * 1024 * 1024
_CHUNK = b"[" + b"0," * 32767 + b"0]"  # 64 KiB of valid-looking JSON, sent again and again


# -- plausible answers ----------------------------------------------------------------------------


def _input_count(req: RawRequest) -> int:
    try:
        inp = req.json().get("input")
    except (ValueError, AttributeError):
        return 1
    return len(inp) if isinstance(inp, list) else 1


def _wants_stream(req: RawRequest) -> bool:
    try:
        return bool(req.json().get("stream"))
    except (ValueError, AttributeError):
        return False


def plausible(req: RawRequest, text: str = "Hello.") -> dict[str, Any]:
    """A schema-valid answer for the operation the path names (strings carry `text`)."""
    path = req.path
    if path.endswith("/info"):
        return {"model_name": f"hostile-chat{text}", "model_type": "chat-completion", "model_provider_name": text}
    if path.endswith("/embeddings"):
        data = [{"index": i, "object": "embedding", "embedding": [0.1, 0.2, 0.3]} for i in range(_input_count(req))]
        return {"id": f"emb-1{text}", "object": "list", "model": f"hostile-embed{text}", "data": data,
                "usage": {"prompt_tokens": 2, "total_tokens": 2}}
    return {
        "id": f"chatcmpl-1{text}", "object": "chat.completion", "created": 1700000000, "model": f"hostile-chat{text}",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def sse_chunk(text: str) -> bytes:
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "hostile-chat",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def answer_plausibly(sock: socket.socket, req: RawRequest, text: str = "Hello.",
                     headers: dict[str, str] | None = None) -> None:
    """A complete, conformant-looking answer (an SSE stream when `stream: true` was asked)."""
    if _wants_stream(req):
        body = sse_chunk(text) + b"data: [DONE]\n\n"
        respond(sock, 200, {"Content-Type": "text/event-stream", **(headers or {})}, body)
    else:
        json_response(sock, 200, plausible(req, text), headers)


def _probe(req: RawRequest) -> bool:
    return req.method == "GET" and req.path.endswith("/info")


def _wait(req: RawRequest) -> None:
    req.stopping.wait(600)


# -- hostile handlers -----------------------------------------------------------------------------


def silent(sock: socket.socket, req: RawRequest) -> None:
    """Accepts the connection, reads the request, never sends a byte."""
    _wait(req)


def stall_after_headers(sock: socket.socket, req: RawRequest) -> None:
    """Status line and headers promising a body, then nothing."""
    if _probe(req):
        return answer_plausibly(sock, req)
    send_head(sock, 200, {"Content-Type": "application/json", "Content-Length": "1000"})
    _wait(req)


def drip(sock: socket.socket, req: RawRequest) -> None:
    """A valid answer, one byte per second."""
    if _probe(req):
        return answer_plausibly(sock, req)
    body = json.dumps(plausible(req)).encode()
    send_head(sock, 200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
    for i in range(len(body)):
        if req.stopping.wait(1.0):
            return
        sock.sendall(body[i : i + 1])


def endless_stream(sock: socket.socket, req: RawRequest) -> None:
    """`stream: true` gets SSE chunks forever (every 10 ms); everything else a plausible answer."""
    if not _wants_stream(req):
        return answer_plausibly(sock, req)
    send_head(sock, 200, {"Content-Type": "text/event-stream", "Connection": "close"})
    chunk = sse_chunk("more ")
    while not req.stopping.wait(0.01):
        sock.sendall(chunk)


def huge_body(sock: socket.socket, req: RawRequest) -> None:
    """A 500 MB JSON body, generated on the fly (never held in memory)."""
    send_head(sock, 200, {"Content-Type": "application/json", "Content-Length": str(HUGE_BODY_BYTES)})
    sent = 0
    while sent < HUGE_BODY_BYTES and not req.stopping.is_set():
        piece = _CHUNK[: HUGE_BODY_BYTES - sent]
        sock.sendall(piece)
        sent += len(piece)


def garbage(sock: socket.socket, req: RawRequest) -> None:
    """Labelled JSON, but invalid UTF-8 and invalid JSON (also inside SSE events)."""
    if _wants_stream(req):
        return respond(sock, 200, {"Content-Type": "text/event-stream"}, b"data: {\"id\": \xff\xfe\xc3(\n\ndata: [DONE]\n\n")
    respond(sock, 200, {"Content-Type": "application/json"}, b'{"id": "\xff\xfe\xc3(", "choices": [tru')


def reset_mid_body(sock: socket.socket, req: RawRequest) -> None:
    """Headers and part of the body, then a TCP reset."""
    if _probe(req):
        return answer_plausibly(sock, req)
    send_head(sock, 200, {"Content-Type": "application/json", "Content-Length": "1000"})
    sock.sendall(b'{"id": "chatcmpl-1", "choi')
    reset(sock)


def rate_limited(retry_after: str | None) -> Callable[[socket.socket, RawRequest], None]:
    """429 to everything, with or without Retry-After."""

    def handler(sock: socket.socket, req: RawRequest) -> None:
        headers = {"Retry-After": retry_after} if retry_after else {}
        json_response(sock, 429, {"error": {"code": "TooManyRequests", "message": "Rate limit exceeded."}}, headers)

    return handler


def server_errors(sock: socket.socket, req: RawRequest) -> None:
    """500 and 503, alternately (by request size parity, so it is stateless)."""
    status = 500 if len(req.target) % 2 else 503
    json_response(sock, status, {"error": {"code": "InternalServerError", "message": "Something broke."}})


def _presented_credential(req: RawRequest) -> str:
    auth = req.headers.get("authorization", "")
    return req.headers.get("api-key") or auth.removeprefix("Bearer ").strip() or "no-credential"


def echo_credential(sock: socket.socket, req: RawRequest) -> None:
    """Plausible answers that echo the presented credential in every string and in a header."""
    key = _presented_credential(req)
    headers = {"x-echo-key": key, "WWW-Authenticate": f'Bearer realm="{key}"'}
    if not req.headers.get("api-key") and not req.headers.get("authorization"):
        return json_response(sock, 401, {"error": {"code": "Unauthorized", "message": "no key"}}, headers)
    answer_plausibly(sock, req, text=f"your key is {key}", headers=headers)


def injection(sock: socket.socket, req: RawRequest) -> None:
    """Plausible answers whose every string field carries markup and terminal escape sequences."""
    answer_plausibly(sock, req, text=INJECTION, headers={"x-note": "<script>alert(2)</script>"})


# -- the redirect pair ----------------------------------------------------------------------------


@dataclass
class Recorder:
    """What the redirect's other origin received (it must never see the credential)."""

    requests: list[RawRequest] = field(default_factory=list)

    def received_credential(self, secret: str) -> list[str]:
        seen = []
        for r in self.requests:
            if secret.encode() in r.raw_head + r.body or "api-key" in r.headers or "authorization" in r.headers:
                seen.append(f"{r.method} {r.target}")
        return seen


@contextmanager
def redirect_pair() -> Iterator[tuple[RunningServer, RunningServer]]:
    """A server answering 307 for everything, pointing to a second, recording server (other origin)."""
    with serve_raw(lambda sock, req: json_response(sock, 200, plausible(req))) as other:

        def redirect(sock: socket.socket, req: RawRequest) -> None:
            respond(sock, 307, {"Location": f"{other.url}{req.target}"}, b"")

        with serve_raw(redirect) as first:
            yield first, other


#: name -> handler (the redirect pair is separate: it needs two servers).
HOSTILE: dict[str, Callable[[socket.socket, RawRequest], None]] = {
    "silent": silent,
    "stall-after-headers": stall_after_headers,
    "drip": drip,
    "endless-stream": endless_stream,
    "huge-body": huge_body,
    "garbage": garbage,
    "reset-mid-body": reset_mid_body,
    "rate-limited-retry-after": rate_limited("1"),
    "rate-limited-bare": rate_limited(None),
    "server-errors": server_errors,
    "echo-credential": echo_credential,
    "injection": injection,
}


# -- mutating proxies in front of the reference ---------------------------------------------------

Mutation = Callable[[RawRequest, bytes], tuple[bytes | None, Callable[[int, dict[str, str], bytes], bytes] | None]]
_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}


INT_FORMATS = ("int8", "uint8", "binary", "ubinary")


def _int_formats_as_float(req: RawRequest, body: bytes) -> tuple[bytes | None, Any]:
    """Integer encoding formats are "supported" by answering floats (EMB-INT-FORMATS)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None, None
    if isinstance(doc, dict) and doc.get("encoding_format") in INT_FORMATS:
        doc["encoding_format"] = "float"
        return json.dumps(doc).encode(), None
    return None, None


#: name -> (rule it breaks, mutation, target-file capability overrides)
MUTANTS: dict[str, tuple[str, Mutation, dict[str, Any]]] = {
    "int-formats-as-float": ("EMB-INT-FORMATS", _int_formats_as_float,
                             {"encoding_formats": ["float", "base64", *INT_FORMATS]}),
}


@contextmanager
def mutating_proxy(upstream: str, mutation: Mutation) -> Iterator[RunningServer]:
    """Forward every request to `upstream` (base URL), passing request and answer through `mutation`."""
    client = httpx.Client(base_url=upstream, timeout=30)

    def handler(sock: socket.socket, req: RawRequest) -> None:
        new_body, rewrite = mutation(req, req.body)
        headers = {k: v for k, v in req.headers.items() if k not in _HOP and k != "host"}
        resp = client.request(req.method, req.target, content=new_body if new_body is not None else req.body,
                              headers=headers)
        out_headers = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
        body = rewrite(resp.status_code, {k.lower(): v for k, v in out_headers.items()}, resp.content) if rewrite else resp.content
        respond(sock, resp.status_code, out_headers, body)

    try:
        with serve_raw(handler) as server:
            yield server
    finally:
        client.close()


# -- running the command line against them --------------------------------------------------------


@dataclass
class ChildRun:
    """A finished `conformance` subprocess: exit code, output, wall time and peak memory."""

    exit_code: int | None  # None: killed at the deadline
    stdout: str
    stderr: str
    duration: float
    max_rss_mb: float


def run_cli(args: list[str], *, env: dict[str, str], cwd: Path, deadline: float) -> ChildRun:
    """Run `python -m conformance.cli ARGS`, killing it (and its group) after `deadline` seconds.

    `os.wait4` gives this child's own peak RSS, which stays exact when several runs go in parallel.
    """
    out, err = cwd / "stdout.txt", cwd / "stderr.txt"
    started = time.monotonic()
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.Popen([sys.executable, "-m", "conformance.cli", *args], cwd=cwd, env=env,
                                stdout=fo, stderr=fe, start_new_session=True)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(deadline, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return ChildRun(
        exit_code=None if killed.is_set() else proc.returncode,
        stdout=out.read_text(encoding="utf-8", errors="replace"),
        stderr=err.read_text(encoding="utf-8", errors="replace"),
        duration=time.monotonic() - started,
        max_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
    )


def child_env(**extra: str) -> dict[str, str]:
    """The test process's environment without CONFORMANCE_* settings or forced colours, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_") and k not in ("FORCE_COLOR", "PY_COLORS")}
    env["PY_COLORS"] = "0"  # the suite's own terminal colours are not what the ESC check looks for
    return {**env, **extra}
