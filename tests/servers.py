"""Throwaway HTTP servers on 127.0.0.1 for self-tests, including deliberately hostile ones.

Two kinds:
- `serve_raw(handler)`: a threaded raw-socket server. The handler gets the connected socket and
  the parsed request (`RawRequest`) and writes whatever bytes it likes: a normal response, a
  drip, a reset, nothing at all. Use `respond()` / `json_response()` for ordinary answers.
  Pass `read_request_first=False` to get the socket before anything was read.
- `serve_asgi(app)`: any ASGI app (Starlette, ...) under uvicorn in a thread.

Both are context managers yielding a `RunningServer` (`.url`, `.requests` seen so far) and stop
cleanly: accepted sockets are shut down, so handlers blocked on them return; handlers that
want to stall should wait on `request.stopping` (an Event set at shutdown).

    with serve_raw(lambda sock, req: json_response(sock, 200, {"ok": True})) as server:
        httpx.get(server.url + "/x")
        assert server.requests[0].path == "/x"
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

_MAX_HEAD = 64 * 1024
_MAX_BODY = 16 * 1024 * 1024


@dataclass
class RawRequest:
    """A request as the server received it (header names lower-cased)."""

    method: str = ""
    target: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    raw_head: bytes = b""
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RunningServer:
    url: str
    host: str
    port: int
    requests: list[RawRequest] = field(default_factory=list)
    #: Number of TCP connections accepted (also counts connections that never sent a request).
    connections: int = 0

    def __str__(self) -> str:
        return self.url


Handler = Callable[[socket.socket, RawRequest], None]


def read_request(sock: socket.socket, timeout: float = 5.0) -> RawRequest | None:
    """Read one HTTP/1.1 request (head + Content-Length or chunked body); None if the peer left."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
        if len(data) > _MAX_HEAD:
            return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, *_ = lines[0].split(" ") + ["", ""]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    req = RawRequest(method=method, target=target, headers=headers, raw_head=head)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        req.body = _read_chunked(sock, rest)
    else:
        length = min(int(headers.get("content-length") or 0), _MAX_BODY)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        req.body = rest[:length]
    return req


def _read_chunked(sock: socket.socket, buf: bytes) -> bytes:
    body = b""
    while True:
        while b"\r\n" not in buf:
            buf += sock.recv(65536)
        size_line, _, buf = buf.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        while len(buf) < size + 2:
            buf += sock.recv(65536)
        body, buf = body + buf[:size], buf[size + 2 :]
        if size == 0:
            return body


def respond(
    sock: socket.socket,
    status: int,
    headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
    body: bytes | str = b"",
    *,
    reason: str = "X",
) -> None:
    """Send a complete HTTP/1.1 response with Content-Length and `Connection: close`."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
    names = {k.lower() for k, _ in items}
    if "content-length" not in names and "transfer-encoding" not in names:
        items.append(("Content-Length", str(len(body))))
    if "connection" not in names:
        items.append(("Connection", "close"))
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in items) + "\r\n"
    sock.sendall(head.encode("latin-1") + body)


def json_response(
    sock: socket.socket, status: int, doc: Any, headers: Mapping[str, str] | None = None
) -> None:
    respond(sock, status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(doc))


def send_head(sock: socket.socket, status: int, headers: Mapping[str, str]) -> None:
    """Only the status line and headers (for handlers that stream or drip the body themselves)."""
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock.sendall(head.encode("latin-1"))


def reset(sock: socket.socket) -> None:
    """Abort the connection with a TCP RST (SO_LINGER 0), as a crashing server would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def drip(sock: socket.socket, data: bytes, interval: float, stopping: threading.Event) -> None:
    """Send `data` one byte at a time every `interval` seconds until done, stopped or disconnected."""
    for i in range(len(data)):
        if stopping.wait(interval):
            return
        try:
            sock.sendall(data[i : i + 1])
        except OSError:
            return


@contextmanager
def serve_raw(handler: Handler, *, read_request_first: bool = True) -> Iterator[RunningServer]:
    """Run `handler(sock, request)` for every connection on a fresh 127.0.0.1 port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    server = RunningServer(url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port)
    stopping = threading.Event()
    open_socks: set[socket.socket] = set()
    lock = threading.Lock()
    threads: list[threading.Thread] = []

    def serve_one(conn: socket.socket) -> None:
        try:
            if read_request_first:
                req = read_request(conn)
                if req is None:
                    return
                req.stopping = stopping
                with lock:
                    server.requests.append(req)
            else:
                req = RawRequest(stopping=stopping)
            conn.settimeout(None)
            handler(conn, req)
        except OSError:
            pass  # the client went away: normal for hostile-server tests
        finally:
            with lock:
                open_socks.discard(conn)
            with suppress(OSError):
                conn.close()

    def accept_loop() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with lock:
                open_socks.add(conn)
                server.connections += 1
            t = threading.Thread(target=serve_one, args=(conn,), daemon=True)
            threads.append(t)
            t.start()

    acceptor = threading.Thread(target=accept_loop, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        stopping.set()
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        with lock:
            socks = list(open_socks)
        for s in socks:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        acceptor.join(timeout=2)
        for t in threads:
            t.join(timeout=2)


@contextmanager
def serve_asgi(app: Any, *, startup_timeout: float = 10.0) -> Iterator[RunningServer]:
    """Run an ASGI app with uvicorn in a thread on a free 127.0.0.1 port."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            uv.should_exit = True
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield RunningServer(url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port)
    finally:
        uv.should_exit = True
        thread.join(timeout=5)
        sock.close()
