"""The target client against real (and hostile) local servers: headers, retries, redirects, bounds,
redaction, streams, tokens and the shared budget."""

from __future__ import annotations

import base64
import gzip
import importlib.util
import json
import secrets
import socket
import time
import tracemalloc

import pytest

from conformance.config import ConfigError, Limits, TargetConfig
from conformance.transport.budget import RequestBudget
from conformance.transport.client import BudgetExhausted, TargetClient
from conformance.transport.exchange import NO_JSON
from tests.servers import RawRequest, drip, json_response, reset, respond, send_head, serve_asgi, serve_raw

KEY = "test-" + secrets.token_hex(16)
CHAT = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def _config(
    url: str, *, api_version: str | None = "2025-04-01", auth: str = "api-key", **limits
) -> TargetConfig:
    base = dict(
        connect_timeout=2,
        read_timeout=2,
        total_timeout=5,
        max_retry_wait=0.05,
        stream_idle_timeout=2,
        max_stream_seconds=3,
        max_retries=3,
    )
    base.update(limits)
    return TargetConfig(
        endpoint=url + "/models", api_version=api_version, auth=auth, api_key=KEY, limits=Limits(**base)
    )


def _ok(sock: socket.socket, req: RawRequest) -> None:
    json_response(sock, 200, {"ok": True, "path": req.path})


# -- headers, credentials, api-version ------------------------------------------------------------


def test_credential_headers_as_seen_by_the_server():
    with serve_raw(_ok) as server, TargetClient(_config(server.url)) as client:
        for credential in ("default", "api-key", "bearer", "none", "wrong"):
            ex = client.request("POST", "/chat/completions", json=CHAT, credential=credential)
            assert ex.response is not None and ex.response.status == 200, ex.error
        default, api_key, bearer, none, wrong = server.requests
    assert default.headers["api-key"] == KEY and "authorization" not in default.headers
    assert api_key.headers["api-key"] == KEY
    assert bearer.headers["authorization"] == f"Bearer {KEY}" and "api-key" not in bearer.headers
    assert "api-key" not in none.headers and "authorization" not in none.headers
    assert wrong.headers["api-key"] != KEY and len(wrong.headers["api-key"]) == len(KEY)
    assert wrong.headers["api-key"].startswith("0000")
    assert default.path == "/models/chat/completions"
    assert default.headers["content-type"] == "application/json"
    assert default.headers["accept"] == "application/json"
    assert default.headers["user-agent"].startswith("azure-inference-conformance/")
    assert default.json() == CHAT


def test_curl_line_reproduces_the_credential_that_was_sent():
    """The wrong credential is a literal dummy in the curl line (so it gets the 401 judged), the
    configured one only `$CONFORMANCE_API_KEY`, and a missing one is missing."""
    import shlex

    from conformance.transport.curl import to_curl

    with serve_raw(_ok) as server, TargetClient(_config(server.url)) as client:
        exchanges = [client.request("GET", "/info", credential=c) for c in ("default", "none", "wrong")]
        default, none, wrong = server.requests
    lines = [to_curl(ex.request) for ex in exchanges]
    assert [ex.request.credential for ex in exchanges] == ["configured", "none", "dummy"]
    assert '-H "api-key: $CONFORMANCE_API_KEY"' in lines[0] and KEY not in lines[0]
    assert "api-key" not in lines[1].lower() and "CONFORMANCE_API_KEY" not in lines[1]
    args = shlex.split(lines[2])
    assert f"api-key: {wrong.headers['api-key']}" in args  # exactly the value the server received
    assert "CONFORMANCE_API_KEY" not in lines[2] and KEY not in lines[2]
    assert exchanges[2].request.headers["api-key"] != wrong.headers["api-key"]  # recorded redacted


def test_bearer_auth_config_and_custom_headers():
    with serve_raw(_ok) as server, TargetClient(_config(server.url, auth="bearer")) as client:
        client.request("GET", "/info", headers={"extra-parameters": "drop", "Accept": "text/plain"})
        (req,) = server.requests
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["extra-parameters"] == "drop"
    assert req.headers["accept"] == "text/plain"  # caller headers win
    assert "content-type" not in req.headers


def test_api_version_default_omitted_explicit():
    with serve_raw(_ok) as server, TargetClient(_config(server.url)) as client:
        client.request("GET", "/info", params={"model": "m"})
        client.request("GET", "/info", api_version=None)
        client.request("GET", "/info", api_version="2099-01-01")
        client.request("GET", "/info", api_version="")
        a, b, c, d = server.requests
    assert a.query == {"api-version": "2025-04-01", "model": "m"}
    assert b.query == {}
    assert c.query == {"api-version": "2099-01-01"}
    assert d.query == {"api-version": ""}  # an empty value is a test case of its own


def test_api_version_from_constructor_when_not_configured():
    with serve_raw(_ok) as server:
        with TargetClient(
            _config(server.url, api_version=None), default_api_version="2024-05-01-preview"
        ) as c:
            ex = c.request("GET", "/info")
        assert server.requests[0].query == {"api-version": "2024-05-01-preview"}
    assert ex.request.query == {"api-version": "2024-05-01-preview"}


# -- retries ----------------------------------------------------------------------------------------


def _flaky(statuses: list[tuple[int, dict[str, str]]]):
    def handler(sock: socket.socket, req: RawRequest) -> None:
        status, headers = statuses.pop(0) if statuses else (200, {})
        json_response(sock, status, {"status": status}, headers)

    return handler


def test_retry_on_429_with_retry_after_and_retry_after_ms():
    plan = [(429, {"Retry-After": "0"}), (503, {"retry-after-ms": "10"}), (200, {})]
    budget = RequestBudget(10)
    with serve_raw(_flaky(plan)) as server, TargetClient(_config(server.url), budget=budget) as client:
        start = time.monotonic()
        ex = client.request("POST", "/chat/completions", json=CHAT)
        took = time.monotonic() - start
    assert ex.response.status == 200 and ex.retries == 2
    assert client.stats.retries == 2 and client.stats.requests == 3
    assert budget.used == 3 and budget.snapshot()["retries"] == 2
    assert len(server.requests) == 3 and took < 2


def test_persistent_429_is_returned_as_429():
    plan = [(429, {"Retry-After": "120"})] * 10  # capped by max_retry_wait (0.05 s)
    with serve_raw(_flaky(plan)) as server, TargetClient(_config(server.url)) as client:
        start = time.monotonic()
        ex = client.request("POST", "/chat/completions", json=CHAT)
        assert time.monotonic() - start < 2
    assert ex.response.status == 429 and ex.error is None
    assert ex.retries == 3 and len(server.requests) == 4
    assert ex.response.json == {"status": 429}


def test_no_retry_when_disabled_or_for_other_statuses():
    plan = [(429, {}), (500, {}), (500, {})]
    with serve_raw(_flaky(plan)) as server, TargetClient(_config(server.url)) as client:
        assert client.request("GET", "/info", retry=False).response.status == 429
        assert client.request("GET", "/info").response.status == 500
        assert len(server.requests) == 2


# -- redirects --------------------------------------------------------------------------------------


def test_same_origin_redirect_followed():
    def handler(sock: socket.socket, req: RawRequest) -> None:
        if req.path == "/models/chat/completions":
            respond(sock, 307, {"Location": "/models/v2/chat/completions?api-version=2025-04-01"})
        else:
            json_response(sock, 200, {"moved": True})

    with serve_raw(handler) as server, TargetClient(_config(server.url)) as client:
        ex = client.request("POST", "/chat/completions", json=CHAT)
        first, second = server.requests
    assert ex.response.status == 200 and ex.response.json == {"moved": True}
    assert second.path == "/models/v2/chat/completions" and second.method == "POST"
    assert second.json() == CHAT and second.headers["api-key"] == KEY
    assert ex.request.path == "/models/v2/chat/completions"


def test_redirect_to_another_host_not_followed_and_no_credential_leaks():
    with serve_raw(_ok) as other:

        def handler(sock: socket.socket, req: RawRequest) -> None:
            respond(sock, 302, {"Location": f"{other.url}/steal"})

        with serve_raw(handler) as server, TargetClient(_config(server.url)) as client:
            ex = client.request("POST", "/chat/completions", json=CHAT)
        time.sleep(0.05)
        assert other.connections == 0 and other.requests == []
    assert ex.response.status == 302
    assert "redirect to another host" in ex.error and "credentials are never sent there" in ex.error


# -- bounds: size, time, hostile connections --------------------------------------------------------


def test_body_cap_truncates_quickly_with_bounded_memory():
    size = 50 * 1024 * 1024
    block = b"x" * 65536

    def handler(sock: socket.socket, req: RawRequest) -> None:
        send_head(sock, 200, {"Content-Type": "application/json", "Content-Length": str(size)})
        for _ in range(size // len(block)):
            sock.sendall(block)

    cap = 1024 * 1024
    with serve_raw(handler) as server, TargetClient(_config(server.url, max_body_bytes=cap)) as client:
        tracemalloc.start()
        start = time.monotonic()
        ex = client.request("GET", "/big")
        took = time.monotonic() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert ex.response.truncated is True and len(ex.response.body) == cap
    assert ex.error == f"body exceeded {cap} bytes; reading stopped"
    assert ex.response.json_error is not None
    assert took < 3 and peak < 16 * cap


def test_gzip_bomb_is_bounded():
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))

    def handler(sock: socket.socket, req: RawRequest) -> None:
        respond(sock, 200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb)

    with serve_raw(handler) as server, TargetClient(_config(server.url, max_body_bytes=100_000)) as client:
        tracemalloc.start()
        ex = client.request("GET", "/bomb")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert ex.response.truncated and len(ex.response.body) == 100_000
    assert peak < 8 * 1024 * 1024


def test_gzip_body_decoded():
    def handler(sock: socket.socket, req: RawRequest) -> None:
        body = gzip.compress(json.dumps({"ok": 1}).encode())
        respond(sock, 200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, body)

    with serve_raw(handler) as server, TargetClient(_config(server.url)) as client:
        ex = client.request("GET", "/info")
        assert server.requests[0].headers["accept-encoding"] == "identity"
    assert ex.response.json == {"ok": 1} and ex.error is None


def test_dripping_body_cut_at_total_timeout():
    def handler(sock: socket.socket, req: RawRequest) -> None:
        send_head(sock, 200, {"Content-Type": "application/json", "Content-Length": "100"})
        drip(sock, b"{" + b" " * 99, 0.3, req.stopping)

    with serve_raw(handler) as server, TargetClient(_config(server.url, total_timeout=1.5)) as client:
        start = time.monotonic()
        ex = client.request("GET", "/drip")
        took = time.monotonic() - start
    assert 1.4 < took < 2.5
    assert ex.error.startswith("timeout:") and "1.5s" in ex.error
    assert ex.response.status == 200 and 0 < len(ex.response.body) < 100


def test_dripping_headers_cut_at_total_timeout():
    def handler(sock: socket.socket, req: RawRequest) -> None:
        drip(sock, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 1000, 0.2, req.stopping)

    with serve_raw(handler) as server, TargetClient(_config(server.url, total_timeout=1.0)) as client:
        start = time.monotonic()
        ex = client.request("GET", "/drip")
        assert time.monotonic() - start < 2.0
    assert ex.response is None and ex.error.startswith("timeout:")


def test_server_that_never_answers_gives_read_timeout():
    def handler(sock: socket.socket, req: RawRequest) -> None:
        req.stopping.wait(10)

    with serve_raw(handler) as server, TargetClient(_config(server.url, read_timeout=0.5)) as client:
        start = time.monotonic()
        ex = client.request("GET", "/silent")
        assert time.monotonic() - start < 1.5
    assert ex.response is None and ex.error.startswith("read timeout")
    assert client.stats.transport_errors == 1


def test_connection_reset_mid_body():
    def handler(sock: socket.socket, req: RawRequest) -> None:
        send_head(sock, 200, {"Content-Type": "application/json", "Content-Length": "1000"})
        sock.sendall(b'{"partial": ')
        time.sleep(0.05)
        reset(sock)

    with serve_raw(handler) as server, TargetClient(_config(server.url)) as client:
        ex = client.request("GET", "/reset")
    assert ex.response is not None and ex.response.body == b'{"partial": '
    assert ex.error and "reading the body" in ex.error
    assert ex.response.json_error


def test_connection_refused_is_an_error_not_an_exception():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with TargetClient(_config(f"http://127.0.0.1:{port}")) as client:
        ex = client.request("GET", "/info")
        assert ex.response is None and ex.error.startswith("connection failed")
        assert client.probe().startswith("cannot reach http://127.0.0.1")


# -- streams ----------------------------------------------------------------------------------------

SSE_HEAD = {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"}


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _endless(interval: float, first_only: bool = False):
    def handler(sock: socket.socket, req: RawRequest) -> None:
        send_head(sock, 200, SSE_HEAD)
        i = 0
        while not req.stopping.is_set():
            if not (first_only and i > 0):
                sock.sendall(_chunk(f'data: {{"i": {i}}}\n\n'.encode()))
            i += 1
            if interval:
                req.stopping.wait(interval)

    return handler


def test_endless_stream_cut_by_max_events():
    with serve_raw(_endless(0)) as server, TargetClient(_config(server.url, max_stream_events=50)) as client:
        ex = client.request("POST", "/chat/completions", json={**CHAT, "stream": True})
    t = ex.response.stream
    assert t is not None and len(t.events) == 50 and t.cut_reason == "max_events"
    assert t.closed_normally is False and ex.error is None
    assert json.loads(t.events[49].data) == {"i": 49}


def test_slow_endless_stream_cut_by_max_stream_seconds():
    with (
        serve_raw(_endless(0.05)) as server,
        TargetClient(_config(server.url, max_stream_seconds=1)) as client,
    ):
        start = time.monotonic()
        ex = client.request("POST", "/chat/completions", json={**CHAT, "stream": True})
        assert time.monotonic() - start < 2
    t = ex.response.stream
    assert t.cut_reason == "timeout" and 5 < len(t.events) < 40


def test_stalled_stream_cut_by_idle_timeout():
    handler = _endless(0.05, first_only=True)
    with serve_raw(handler) as server, TargetClient(_config(server.url, stream_idle_timeout=0.5)) as client:
        start = time.monotonic()
        ex = client.request("POST", "/chat/completions", json={**CHAT, "stream": True})
        assert time.monotonic() - start < 1.5
    t = ex.response.stream
    assert t.cut_reason == "stalled" and len(t.events) == 1


def test_stream_usage_and_json_usage_counted():
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}

    def handler(sock: socket.socket, req: RawRequest) -> None:
        if req.json().get("stream"):
            body = 'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\n'
            body += f'data: {{"choices":[],"usage":{json.dumps(usage)}}}\n\ndata: [DONE]\n\n'
            respond(sock, 200, {"Content-Type": "text/event-stream"}, body)
        else:
            json_response(sock, 200, {"choices": [], "usage": usage})

    budget = RequestBudget(10)
    with serve_raw(handler) as server, TargetClient(_config(server.url), budget=budget) as client:
        ex = client.request("POST", "/chat/completions", json={**CHAT, "stream": True})
        client.request("POST", "/chat/completions", json=CHAT)
    assert [e.data for e in ex.response.stream.events][-1] == "[DONE]"
    assert ex.response.stream.closed_normally and ex.response.json_error is None
    assert (client.stats.prompt_tokens, client.stats.completion_tokens, client.stats.total_tokens) == (
        10,
        6,
        16,
    )
    snap = budget.snapshot()
    assert (snap["prompt_tokens"], snap["completion_tokens"], snap["total_tokens"]) == (10, 6, 16)


def test_usage_of_every_answer_is_counted_whatever_its_status():
    # A 400 that still carries a completion and its usage (Foundry's content-filter habit) spent tokens.
    usage = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}

    def handler(sock: socket.socket, req: RawRequest) -> None:
        json_response(sock, 400, {"choices": [{"finish_reason": "content_filter"}], "usage": usage})

    with serve_raw(handler) as server, TargetClient(_config(server.url)) as client:
        client.request("POST", "/chat/completions", json=CHAT)
    assert (client.stats.prompt_tokens, client.stats.completion_tokens, client.stats.total_tokens) == (4, 2, 6)


@pytest.mark.parametrize(("headers", "why"), [
    ({"transfer-encoding": "]?5E"}, "Transfer-Encoding"),
    ({"x-conformance": " leading space"}, "Illegal header value"),
    ({"bad name": "v"}, "Illegal header name"),
    ({"x-conformance": "caf\u00e9"}, "UnicodeEncodeError"),
])
def test_a_request_the_client_cannot_send_is_a_suite_error_not_a_transport_error(headers, why):
    with serve_raw(_ok) as server, TargetClient(_config(server.url)) as client:
        ex = client.request("POST", "/chat/completions", json=CHAT, headers=headers)
        assert server.requests == []  # nothing reached the server
    assert ex.response is None and ex.error is None
    assert ex.suite_error and why in ex.suite_error and "suite" in ex.suite_error
    assert (client.stats.suite_errors, client.stats.transport_errors) == (1, 0)
    assert ex.to_dict()["suite_error"] == ex.suite_error


def test_json_error_answer_to_a_stream_request_is_parsed_as_json():
    def handler(sock: socket.socket, req: RawRequest) -> None:
        json_response(sock, 400, {"error": {"code": "content_filter", "message": "filtered"}})

    with serve_raw(handler) as server, TargetClient(_config(server.url)) as client:
        ex = client.request("POST", "/chat/completions", json={**CHAT, "stream": True})
    assert ex.response.stream is None and ex.response.json["error"]["code"] == "content_filter"


# -- recording and redaction ------------------------------------------------------------------------


def test_credential_echo_detected_and_never_recorded():
    def handler(sock: socket.socket, req: RawRequest) -> None:
        key = req.headers.get("api-key", "")
        b64 = base64.b64encode(key.encode()).decode()
        body = json.dumps({"error": {"message": f"bad key {key}", "b64": b64}})
        respond(sock, 401, {"Content-Type": "application/json", "x-echo": key, "WWW-Authenticate": "x"}, body)

    recorded = []
    with serve_raw(handler) as server, TargetClient(_config(server.url), recorder=recorded.append) as client:
        ex = client.request("POST", "/chat/completions", json={**CHAT, "note": KEY})
        wrong = client.request("POST", "/chat/completions", json=CHAT, credential="wrong")
    assert ex.credential_echo == ["header:x-echo", "body"]
    assert wrong.credential_echo == ["header:x-echo", "body"]  # any presented credential counts
    assert recorded == [ex, wrong]
    dump = json.dumps(ex.to_dict()) + repr(ex)
    assert KEY not in dump and base64.b64encode(KEY.encode()).decode() not in dump
    assert ex.response.headers["x-echo"] == "***REDACTED***"
    assert ex.request.headers["api-key"] == "***REDACTED***"
    assert ex.response.json["error"]["message"] == "bad key ***REDACTED***"
    assert ex.request.json["note"] == "***REDACTED***"
    assert KEY not in ex.request.body.decode()


def test_secret_in_stream_events_scrubbed():
    def handler(sock: socket.socket, req: RawRequest) -> None:
        respond(sock, 200, {"Content-Type": "text/event-stream"}, f": {KEY}\ndata: {KEY}\n\ndata: {KEY}")

    with serve_raw(handler) as server, TargetClient(_config(server.url)) as client:
        ex = client.request("GET", "/s")
    t = ex.response.stream
    assert ex.credential_echo == ["body"]
    assert t.events[0].data == "***REDACTED***" and t.events[0].comments == ["***REDACTED***"]
    assert KEY not in t.trailing and KEY.encode() not in ex.response.body


@pytest.mark.parametrize(
    ("body", "needle"),
    [(b'{"a": "\xff"}', "not valid UTF-8"), (b'{"a": 1', "not valid JSON"), (b"", "empty body")],
)
def test_invalid_bodies_recorded_with_json_error(body, needle):
    def handler(sock: socket.socket, req: RawRequest) -> None:
        respond(sock, 200, {"Content-Type": "application/json"}, body)

    with serve_raw(handler) as server, TargetClient(_config(server.url)) as client:
        ex = client.request("GET", "/info")
    assert ex.error is None and ex.response.body == body
    assert needle in ex.response.json_error


# -- budget, probe, configuration errors -----------------------------------------------------------


def test_budget_exhausted_raises_before_sending():
    budget = RequestBudget(2)
    with serve_raw(_ok) as server, TargetClient(_config(server.url), budget=budget) as client:
        client.request("GET", "/info")
        client.request("GET", "/info")
        with pytest.raises(BudgetExhausted, match="budget of 2 requests"):
            client.request("GET", "/info")
        assert len(server.requests) == 2
    assert client.stats.budget_refusals == 1 and budget.remaining == 0


def test_retry_stops_when_budget_runs_out():
    plan = [(429, {"Retry-After": "0"})] * 5
    with (
        serve_raw(_flaky(plan)) as server,
        TargetClient(_config(server.url), budget=RequestBudget(2)) as client,
    ):
        ex = client.request("GET", "/info")
    assert ex.response.status == 429 and ex.retries == 1
    assert "budget" in ex.error and len(server.requests) == 2


def test_probe_ok_and_unauthenticated():
    def handler(sock: socket.socket, req: RawRequest) -> None:
        if req.headers.get("api-key") == KEY:
            json_response(sock, 200, {"model_name": "m"})
        else:
            json_response(sock, 401, {"statusCode": 401, "message": "Unauthorized"})

    with serve_raw(handler) as server:
        with TargetClient(_config(server.url)) as client:
            assert client.probe() is None
        cfg = _config(server.url)
        cfg.api_key = "not-the-key"
        with TargetClient(cfg) as client:
            problem = client.probe()
        assert server.requests[0].path == "/models/info"
    assert problem.startswith("authentication failed: GET /info answered HTTP 401")


def test_configuration_errors_raise():
    with pytest.raises(ConfigError, match="no endpoint"):
        TargetClient(TargetConfig(endpoint=None))
    cfg = _config("http://127.0.0.1:9")
    cfg.api_key = None
    with TargetClient(cfg) as client, pytest.raises(ConfigError, match="CONFORMANCE_API_KEY"):
        client.request("GET", "/info")
    with TargetClient(_config("http://127.0.0.1:9", auth="entra")) as client:
        if importlib.util.find_spec("azure.identity") is None:  # never ask a real token service
            with pytest.raises(ConfigError, match="azure-identity"):
                client.request("GET", "/info")
        with pytest.raises(ConfigError, match="unknown credential"):
            client.request("GET", "/info", credential="basic")


def test_against_an_asgi_server_with_keep_alive():
    """serve_asgi + uvicorn (keep-alive capable): raw content, SSE streaming, one connection each."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    async def chat(request: Request):
        raw = await request.body()
        if request.query_params.get("stream"):

            async def events():
                for i in range(3):
                    yield f"data: {i}\r\n\r\n"
                yield "data: [DONE]\r\n\r\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        return JSONResponse(
            {"got": raw.decode(), "ctype": request.headers.get("content-type")}, status_code=400
        )

    app = Starlette(routes=[Route("/models/chat/completions", chat, methods=["POST"])])
    with serve_asgi(app) as server, TargetClient(_config(server.url)) as client:
        bad = client.request(
            "POST", "/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        streamed = client.request("POST", "/chat/completions", json=CHAT, params={"stream": "1"})
    assert bad.response.status == 400 and bad.response.json == {
        "got": "{not json",
        "ctype": "application/json",
    }
    assert bad.request.body == b"{not json" and bad.request.json is NO_JSON
    t = streamed.response.stream
    assert [e.data for e in t.events] == ["0", "1", "2", "[DONE]"]
    assert t.closed_normally and t.line_endings == {"\r\n"} and streamed.error is None


def test_wrong_entra_token_is_jwt_shaped_without_fetching_one():
    with serve_raw(_ok) as server, TargetClient(_config(server.url, auth="entra")) as client:
        ex = client.request("GET", "/info", credential="wrong")
        (req,) = server.requests
    scheme, token = req.headers["authorization"].split(" ")
    assert scheme == "Bearer" and token.count(".") == 2 and token.startswith("eyJ")
    assert ex.request.headers["Authorization"] == "***REDACTED***"


def test_a_429_seen_by_one_worker_holds_the_others(tmp_path, monkeypatch):
    """Workers share the budget file, and with it the back-off a 429 asked for."""
    import conformance.transport.client as client_module

    state = tmp_path / "budget.json"
    plan = [(429, {"Retry-After": "30"}), (200, {}), (200, {})]
    slept: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    with serve_raw(_flaky(plan)) as server:
        first = TargetClient(_config(server.url, max_retry_wait=20), budget=RequestBudget.fresh(10, state))
        other = TargetClient(_config(server.url, max_retry_wait=20), budget=RequestBudget(10, state))
        with first, other:
            assert first.request("POST", "/chat/completions", json=CHAT).response.status == 200
            assert slept == [20]  # its own retry: Retry-After 30 s, capped by max_retry_wait
            assert other.request("POST", "/chat/completions", json=CHAT).response.status == 200
    assert len(slept) == 2 and 15 < slept[1] <= 20  # the other worker waited out the same back-off


def test_requests_from_several_threads_are_counted_and_an_interruption_cuts_them():
    import threading

    arrived = threading.Barrier(4)

    def stall(sock: socket.socket, req: RawRequest) -> None:
        arrived.wait(10)
        req.stopping.wait(10)

    with serve_raw(stall) as server, TargetClient(_config(server.url, read_timeout=20, total_timeout=20)) as client:
        exchanges: list = []
        threads = [threading.Thread(target=lambda: exchanges.append(client.request("GET", "/slow"))) for _ in range(3)]
        for t in threads:
            t.start()
        arrived.wait(10)  # the three requests are all waiting for an answer
        assert client.in_flight is not None and client.in_flight[1] == "GET"
        client.abort_in_flight()
        for t in threads:
            t.join(10)
    assert len(exchanges) == 3 and all(ex.error.startswith("interrupted") for ex in exchanges)
    assert client.stats.requests == 3 and client.stats.transport_errors == 3 and client.in_flight is None
