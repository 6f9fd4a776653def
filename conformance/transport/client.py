"""The one HTTP client to the target: bounded, redacting, recording, never raising for misbehaviour.

Every request the suite sends goes through `TargetClient.request`, which returns an `Exchange`.
The target may be broken or hostile, so every way it can misbehave (timeouts, resets, drips,
oversize bodies, endless streams, redirects elsewhere, invalid bytes) ends in an Exchange with
`error` set and whatever partial response arrived. Only two things raise: `BudgetExhausted`
(nothing was sent) and `ConfigError` (the suite is misconfigured).

Bounds: httpx's connect/read timeouts bound each socket operation; a per-request watchdog thread
bounds the wall-clock total (and, for streams, idleness) by shutting the socket down, which is
the only way to interrupt a blocked read of a server that drips one byte at a time. It finds the
socket through httpcore's `trace` extension when the connection is opened, which is why
connections are not kept alive between requests (a reused connection is never traced).

One client serves every thread of a test that sends several requests at once (`TestJudge.send_many`):
httpx's `Client` may be shared between threads, the budget takes its own lock, and the client's own
state (counters, the requests in flight, the recorder, the Entra token) is changed under `_lock`.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import itertools
import json as _json
import logging
import secrets
import socket
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from conformance import __version__
from conformance.config import ConfigError, TargetConfig
from conformance.constants import ENTRA_SCOPE
from conformance.spec import default_version
from conformance.transport import redact
from conformance.transport.budget import RequestBudget
from conformance.transport.encoding import Inflater
from conformance.transport.exchange import (
    NO_JSON,
    Exchange,
    RecordedRequest,
    RecordedResponse,
    StreamTranscript,
    parse_json_body,
)
from conformance.transport.sse import SSEParser

log = logging.getLogger("conformance.transport.client")

USER_AGENT = f"azure-inference-conformance/{__version__}"
RETRY_STATUSES = frozenset({429, 503})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: `json=UNSET`: no JSON body (distinct from `json=None`, which sends JSON `null`).
UNSET: Any = _Sentinel("UNSET")
#: `api_version=DEFAULT`: the configured api-version (or the spec default).
DEFAULT: Any = _Sentinel("DEFAULT")


class BudgetExhausted(Exception):
    """The run's request budget is spent; the request was not sent."""


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    budget_refusals: int = 0
    transport_errors: int = 0
    #: Requests the suite itself could not build or send (never judged against the target).
    suite_errors: int = 0


_insecure_warned = False


class TargetClient:
    """Sends requests to the configured target and returns recorded, redacted `Exchange`s."""

    def __init__(
        self,
        config: TargetConfig,
        *,
        recorder: Callable[[Exchange], None] | None = None,
        budget: RequestBudget | None = None,
        transport: httpx.BaseTransport | None = None,
        default_api_version: str | None = None,
    ) -> None:
        if not config.endpoint:
            raise ConfigError(
                "no endpoint configured (set --endpoint, CONFORMANCE_ENDPOINT or the target file)"
            )
        self.config = config
        self.recorder = recorder
        self.budget = budget
        self.stats = ClientStats()
        #: time.monotonic() at which the whole run ends (limits.max_duration): no request outlives it.
        self.deadline: float | None = None
        #: The requests waiting for an answer now: id -> (started monotonic, method, URL), and their watchdogs.
        self._flights: dict[int, tuple[float, str, str]] = {}
        self._watchdogs: dict[int, _Watchdog] = {}
        self._flight_ids = itertools.count()
        #: Guards the counters, the flights, the recorder and the Entra token across sending threads.
        self._lock = threading.RLock()
        self._endpoint = config.endpoint.rstrip("/")
        self._default_api_version = default_api_version
        self._entra_token: tuple[str, float] | None = None
        self._entra_credential: Any = None
        redact.register_secret(config.api_key)
        limits = config.limits
        if config.insecure:
            _warn_insecure()
        self._timeout = httpx.Timeout(
            connect=limits.connect_timeout,
            read=limits.read_timeout,
            write=limits.read_timeout,
            pool=limits.connect_timeout,
        )
        self._http = httpx.Client(
            verify=not config.insecure,
            follow_redirects=False,
            timeout=self._timeout,
            transport=transport,
            # No keep-alive: the watchdog needs each request's socket (see the module docstring).
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    # -- public --------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TargetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def in_flight(self) -> tuple[float, str, str] | None:
        """The longest-waiting request now in flight (started monotonic, method, URL), for progress lines."""
        with self._lock:
            return min(self._flights.values(), default=None)

    def abort_in_flight(self) -> None:
        """Cut every request now waiting for an answer (the run was interrupted): each ends with an error."""
        with self._lock:
            watchdogs = list(self._watchdogs.values())
        for watchdog in watchdogs:
            watchdog.abort()

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, n in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + n)

    @property
    def api_version(self) -> str:
        """The api-version sent by default: configured, else given at construction, else the spec's."""
        if self.config.api_version:
            return self.config.api_version
        if self._default_api_version:
            return self._default_api_version
        return default_version(self.config.api)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = UNSET,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        credential: str = "default",
        api_version: str | None | Any = DEFAULT,
        stream: bool | None = None,
        operation_id: str | None = None,
        purpose: str = "",
        retry: bool = True,
    ) -> Exchange:
        """Send one request (with bounded retries and same-origin redirects); never raises for
        target misbehaviour. `credential`: "default", "none", "wrong", "api-key", "bearer", "entra"."""
        method = method.upper()
        cred_headers, presented = self._credential(credential)
        sent_credential = (
            "none" if not cred_headers else "dummy" if credential == "wrong"
            else "entra" if self._entra_token is not None and presented == self._entra_token[0]
            else "configured"
        )
        query: dict[str, str] = dict(params or {})
        version = self.api_version if api_version is DEFAULT else api_version
        if version is not None:
            query = {"api-version": str(version), **{k: v for k, v in query.items() if k != "api-version"}}
        send_headers = httpx.Headers({"Accept": "application/json", "User-Agent": USER_AGENT})
        send_headers["Accept-Encoding"] = "identity"
        body: bytes | None = content
        sent_json: Any = NO_JSON
        if json is not UNSET:
            body = _json.dumps(json, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            sent_json = json
            send_headers["Content-Type"] = "application/json"
        elif content is not None:
            sent_json, _ = parse_json_body(content)
        send_headers.update(cred_headers)
        target = self._endpoint + (path if path.startswith("/") else "/" + path)
        try:
            send_headers.update(dict(headers or {}))
            url = str(httpx.URL(target, params=query or None))
        except (UnicodeEncodeError, ValueError, TypeError, httpx.InvalidURL) as exc:
            shown = {**dict(send_headers.items()), **{str(k): str(v) for k, v in (headers or {}).items()}}
            unsent = _unsendable(method, target, shown, body, sent_json, time.monotonic(), exc)
            unsent.operation_id, unsent.purpose = operation_id, purpose
            return self._finish(unsent)

        retries = 0
        redirects = 0
        wait: float | None = None  # set when the previous attempt asked for a retry
        exchange: Exchange | None = None
        while True:
            if self.budget is not None and not self.budget.take(1):
                if exchange is None:
                    self._count(budget_refusals=1)
                    raise BudgetExhausted(
                        f"request budget of {self.budget.limit} requests is spent ({method} {path} not sent)"
                    )
                exchange.error = exchange.error or "request budget spent before the next retry"
                break
            if wait is not None:
                retries += 1
                self._count(retries=1)
                if self.budget is not None:
                    self.budget.add_retries(1)
                time.sleep(wait)
                wait = None
            elif self.budget is not None:
                # Another worker of the run was told to back off (429): so is this request.
                held = min(self.budget.pause_left(), self.config.limits.max_retry_wait)
                if held > 0:
                    time.sleep(held)
            self._count(requests=1)
            exchange = self._send_once(method, url, send_headers, body, sent_json, presented, stream)
            exchange.request.credential = sent_credential
            if sent_credential == "dummy":
                exchange.request.dummy_credential = presented
            exchange.operation_id, exchange.purpose = operation_id, purpose
            if exchange.suite_error:
                break
            resp = exchange.response
            if resp is not None and exchange.error is None and resp.status in REDIRECT_STATUSES:
                target = self._redirect_target(url, resp)
                if target is None:
                    pass
                elif _origin(target) != _origin(url):
                    exchange.error = (
                        f"redirect to another host ({_origin_text(target)}) not followed: "
                        "credentials are never sent there"
                    )
                elif redirects >= MAX_REDIRECTS:
                    exchange.error = f"more than {MAX_REDIRECTS} redirects; not followed"
                else:
                    redirects += 1
                    if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                        method, body, sent_json = "GET", None, NO_JSON
                        send_headers.pop("Content-Type", None)
                    url = target
                    continue
            limits = self.config.limits
            if retry and resp is not None and resp.status in RETRY_STATUSES and retries < limits.max_retries:
                wait = self._retry_wait(resp, retries)
                if resp.status == 429 and self.budget is not None:
                    self.budget.pause(wait)
                log.info("HTTP %s from target; retry %d in %.2fs", resp.status, retries + 1, wait)
                continue
            break
        exchange.retries = retries
        return self._finish(exchange)

    def _finish(self, exchange: Exchange) -> Exchange:
        if exchange.suite_error:
            self._count(suite_errors=1)
        elif exchange.error:
            self._count(transport_errors=1)
        self._account_tokens(exchange)
        if self.recorder is not None:
            with self._lock:  # one exchange at a time, whatever the thread
                self.recorder(exchange)
        return exchange

    def probe(self) -> str | None:
        """One cheap authenticated request: None when the target answers, else why not."""
        if self.config.api == "azure-openai":
            path, params, op = "/models", {}, None
        else:
            chat = self.config.models.get("chat")
            path, params, op = "/info", ({"model": chat} if chat else {}), "getModelInfo"
        try:
            ex = self.request("GET", path, params=params, operation_id=op, purpose="probe", retry=False)
        except BudgetExhausted as exc:
            return str(exc)
        if ex.response is None:
            return f"cannot reach {_origin_text(ex.request.url)}: {ex.error}"
        if ex.response.status in (401, 403):
            return (
                f"authentication failed: GET {path} answered HTTP {ex.response.status} "
                f"{redact.scrub(ex.response.text[:200])!r}"
            )
        return None

    # -- credentials ---------------------------------------------------------------------------

    def _credential(self, credential: str) -> tuple[dict[str, str], str | None]:
        """Headers for the requested credential and the credential value presented (for echo checks)."""
        auth = self.config.auth
        if credential == "default":
            credential = auth
        if credential == "none":
            return {}, None
        if credential == "wrong":
            # For Entra, a JWT-shaped token with a bad signature: no real token needs to be fetched.
            wrong = _wrong_jwt() if auth == "entra" else _wrong_like(self.config.api_key or "")
            if auth == "api-key":
                return {"api-key": wrong}, wrong
            return {"Authorization": f"Bearer {wrong}"}, wrong
        if credential == "entra":
            token = self._entra()
            return {"Authorization": f"Bearer {token}"}, token
        if credential in ("api-key", "bearer"):
            key = self._entra() if (credential == "bearer" and auth == "entra") else self._key()
            if credential == "api-key":
                return {"api-key": key}, key
            return {"Authorization": f"Bearer {key}"}, key
        raise ConfigError(f"unknown credential {credential!r} (default, none, wrong, api-key, bearer, entra)")

    def _key(self) -> str:
        if not self.config.api_key:
            raise ConfigError("no API key: set CONFORMANCE_API_KEY or pass --api-key")
        return self.config.api_key

    def _entra(self) -> str:
        with self._lock:  # one token fetch, not one per sending thread
            return self._entra_locked()

    def _entra_locked(self) -> str:
        if self._entra_token and self._entra_token[1] - 120 > time.time():
            return self._entra_token[0]
        if self._entra_credential is None:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError:
                raise ConfigError(
                    "auth 'entra' needs the azure-identity package: pip install 'azure-inference-conformance[azure]'"
                ) from None
            self._entra_credential = DefaultAzureCredential()
        try:
            token = self._entra_credential.get_token(ENTRA_SCOPE)
        except Exception as exc:  # azure-identity raises many types; all mean "no token"
            raise ConfigError(
                f"could not get a Microsoft Entra token for {ENTRA_SCOPE}: {redact.scrub(str(exc))}"
            ) from None
        redact.register_secret(token.token)
        self._entra_token = (token.token, float(token.expires_on))
        return token.token

    # -- one attempt ---------------------------------------------------------------------------

    def _send_once(
        self,
        method: str,
        url: str,
        headers: httpx.Headers,
        body: bytes | None,
        sent_json: Any,
        presented: str | None,
        stream: bool | None,
    ) -> Exchange:
        limits = self.config.limits
        started = time.monotonic()
        ends = started + limits.total_timeout
        watchdog = _Watchdog(min(ends, self.deadline) if self.deadline is not None else ends)
        try:
            request = httpx.Request(
                method, url, headers=headers, content=body, extensions={"trace": watchdog.trace}
            )
        except (UnicodeEncodeError, ValueError, TypeError, httpx.InvalidURL) as exc:
            return _unsendable(method, url, dict(headers.items()), body, sent_json, started, exc)
        recorded_request = RecordedRequest(
            method=method,
            url=redact.scrub(str(request.url)),
            headers=redact.redact_headers(request.headers),
            body=redact.scrub_bytes(body) if body is not None else None,
            json=sent_json,
        )
        if body is not None and redact.secrets_present(body):  # keep the recorded document secret-free
            recorded_request.json = parse_json_body(recorded_request.body or b"")[0]
        exchange = Exchange(request=recorded_request, started=started)
        watchdog.start()
        flight = next(self._flight_ids)
        with self._lock:
            self._flights[flight] = (started, method, recorded_request.url)
            self._watchdogs[flight] = watchdog
        response: httpx.Response | None = None
        try:
            try:
                response = self._http.send(request, stream=True)
            except httpx.LocalProtocolError as exc:
                # h11 refused to write the request (an illegal header name or value, a framing header
                # that contradicts the body): the suite's request, not the target, is at fault.
                exchange.suite_error = f"the suite's HTTP client refused to send this request: {redact.scrub(str(exc))}"
                return exchange
            except httpx.HTTPError as exc:
                exchange.error = _describe_error(exc, watchdog, limits, phase="waiting for the response")
                return exchange
            except OSError as exc:  # pragma: no cover - httpx maps these, belt and braces
                exchange.error = f"connection error: {exc}"
                return exchange
            is_stream = stream if stream is not None else _is_event_stream(response)
            raw, transcript, truncated, error = self._read_body(response, watchdog, is_stream)
        except Exception as exc:  # the last net: a hostile target must never crash the run
            log.exception("unexpected error talking to the target")
            exchange.error = f"unexpected client error: {type(exc).__name__}: {redact.scrub(str(exc))}"
            return exchange
        finally:
            watchdog.stop()
            with self._lock:
                self._flights.pop(flight, None)
                self._watchdogs.pop(flight, None)
            if response is not None:
                response.close()
        exchange.response = self._record_response(response, raw, transcript, truncated, presented, exchange)
        exchange.response.elapsed = time.monotonic() - started
        exchange.error = error
        return exchange

    def _read_body(
        self, response: httpx.Response, watchdog: _Watchdog, is_stream: bool
    ) -> tuple[bytes, StreamTranscript | None, bool, str | None]:
        """Read the body within the limits; returns (raw bytes kept, transcript, truncated, error)."""
        limits = self.config.limits
        cap = limits.max_body_bytes
        buf = bytearray()
        truncated = False
        error: str | None = None
        cut: str | None = None
        parser = SSEParser(max_events=limits.max_stream_events, max_bytes=cap) if is_stream else None
        if parser is not None:
            ends = time.monotonic() + limits.max_stream_seconds
            watchdog.to_stream(min(ends, self.deadline) if self.deadline is not None else ends, limits.stream_idle_timeout)
        inflater = Inflater.for_encoding(response.headers.get("content-encoding", ""))
        try:
            for raw in response.iter_raw():  # as received: no re-chunking delay for streams
                watchdog.touch()
                data = inflater.feed(raw, cap - len(buf) + 1) if inflater else raw
                room = cap - len(buf)
                if len(data) > room:
                    buf += data[:room]
                    truncated = True
                    if parser is None:
                        error = f"body exceeded {cap} bytes; reading stopped"
                    else:
                        parser.feed(data[:room])
                        cut = parser.exceeded or "max_bytes"
                    break
                buf += data
                if parser is not None:
                    parser.feed(data)
                    if parser.exceeded:
                        cut = parser.exceeded
                        break
                if watchdog.expired():
                    break
        except httpx.HTTPError as exc:
            if parser is not None and watchdog.fired:
                cut = watchdog.fired
            elif parser is not None and isinstance(exc, httpx.ReadTimeout):
                cut = "stalled"
            else:
                error = _describe_error(exc, watchdog, limits, phase="reading the body")
                if parser is not None:
                    cut = f"connection_error: {error}"
        except zlib.error as exc:
            error = f"invalid {response.headers.get('content-encoding')} content encoding: {exc}"
        if watchdog.fired and cut is None and error is None:
            if parser is not None:
                cut = watchdog.fired
            else:
                error = (
                    f"timeout: the response did not complete within {limits.total_timeout}s (total deadline)"
                )
        transcript = parser.close(cut_reason=cut) if parser is not None else None
        return bytes(buf), transcript, truncated, error

    def _record_response(
        self,
        response: httpx.Response,
        raw: bytes,
        transcript: StreamTranscript | None,
        truncated: bool,
        presented: str | None,
        exchange: Exchange,
    ) -> RecordedResponse:
        exchange.credential_echo = _find_echo(presented, response.headers, raw)
        body = redact.scrub_bytes(raw)
        parsed, json_error = NO_JSON, None
        if transcript is not None:
            _scrub_transcript(transcript)
        if not _is_event_stream(response):  # also when stream=True was forced on a JSON answer
            parsed, json_error = parse_json_body(body)
        return RecordedResponse(
            status=response.status_code,
            headers=redact.redact_headers(response.headers),
            body=body,
            truncated=truncated,
            json=parsed,
            json_error=json_error,
            stream=transcript,
        )

    # -- retries, redirects, tokens ------------------------------------------------------------

    def _retry_wait(self, resp: RecordedResponse, attempt: int) -> float:
        cap = self.config.limits.max_retry_wait
        wait = _retry_after(resp)
        if wait is None:
            wait = 1.0 * (2**attempt)
        return max(0.0, min(wait, cap))

    def _redirect_target(self, url: str, resp: RecordedResponse) -> str | None:
        location = resp.header("location")
        if not location or location == redact.REDACTED:
            return None
        return urljoin(url, location)

    def _account_tokens(self, exchange: Exchange) -> None:
        """Tokens of every answer that reports usage, whatever its status or verdict (a 400 with a
        completion body, a stream cut short after its usage chunk): the tally is what was spent."""
        resp = exchange.response
        if resp is None:
            return
        usage = None
        if resp.stream is not None:
            for event in resp.stream.events:
                if '"usage"' not in event.data:
                    continue
                try:
                    doc = _json.loads(event.data)
                except ValueError:
                    continue
                if isinstance(doc, dict) and isinstance(doc.get("usage"), dict):
                    usage = doc["usage"]  # the last one wins: some servers send cumulative usage
        elif isinstance(resp.json, dict) and isinstance(resp.json.get("usage"), dict):
            usage = resp.json["usage"]
        if usage is None:
            return
        prompt, completion = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
        total = _int(usage.get("total_tokens")) or prompt + completion
        self._count(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)
        if self.budget is not None:
            self.budget.add_tokens(prompt, completion, total)


# -- helpers ---------------------------------------------------------------------------------------


class _Watchdog:
    """Shuts the request's socket down at the wall-clock deadline or after a stream's idle limit."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.idle: float | None = None
        self.fired: str | None = None  # "timeout" | "stalled"
        self._reason_at_deadline = "timeout"
        self._last = time.monotonic()
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="conformance-watchdog", daemon=True)

    def trace(self, name: str, info: Mapping[str, Any]) -> None:
        if name.endswith(("connect_tcp.complete", "start_tls.complete")):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with self._lock:
                    self._sock = sock
                    if self.fired:
                        _shutdown(sock)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._done.set()
            self._sock = None

    def touch(self) -> None:
        self._last = time.monotonic()

    def abort(self) -> None:
        """End the request now (the run was interrupted): as at a deadline, the socket is shut down."""
        with self._lock:
            self.deadline = time.monotonic()
            self.fired = self.fired or "interrupted"
            if self._sock is not None:
                _shutdown(self._sock)

    def to_stream(self, deadline: float, idle: float) -> None:
        self.deadline, self.idle, self._last = deadline, idle, time.monotonic()

    def expired(self) -> bool:
        """Wall-clock check between reads (covers transports without a socket to shut down)."""
        if self.fired:
            return True
        now = time.monotonic()
        if now >= self.deadline:
            self.fired = "timeout"
        elif self.idle is not None and now - self._last >= self.idle:
            self.fired = "stalled"
        return self.fired is not None

    def _run(self) -> None:
        while not self._done.is_set():
            now = time.monotonic()
            wake = self.deadline if self.idle is None else min(self.deadline, self._last + self.idle)
            if now >= wake:
                with self._lock:
                    if self._done.is_set():
                        return
                    self.fired = self.fired or ("timeout" if now >= self.deadline else "stalled")
                    if self._sock is not None:
                        _shutdown(self._sock)
                return
            self._done.wait(min(wake - now, 0.25))


def _shutdown(sock: socket.socket) -> None:
    # The plain socket call, also for an SSLSocket: interrupts a blocked recv without TLS I/O.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _describe_error(exc: httpx.HTTPError, watchdog: _Watchdog, limits: Any, *, phase: str) -> str:
    if watchdog.fired == "interrupted":
        return f"interrupted (the run was stopped) while {phase}"
    if watchdog.fired == "timeout":
        return f"timeout: no complete response within {limits.total_timeout}s (total deadline) while {phase}"
    if watchdog.fired == "stalled":
        return f"timeout: stream idle for {limits.stream_idle_timeout}s while {phase}"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timeout: no connection within {limits.connect_timeout}s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"read timeout: no bytes for {limits.read_timeout}s while {phase}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timeout while {phase}: {type(exc).__name__}"
    detail = redact.scrub(str(exc)) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {detail}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error while {phase}: {detail}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return f"connection error while {phase}: {detail}"
    return f"{type(exc).__name__} while {phase}: {detail}"


def _unsendable(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None, sent_json: Any, started: float,
    exc: Exception,
) -> Exchange:
    """The exchange of a request the suite could not even build (nothing was sent)."""
    recorded = RecordedRequest(
        method=method, url=redact.scrub(url), headers=redact.redact_headers(headers),
        body=redact.scrub_bytes(body) if body is not None else None, json=sent_json,
    )
    reason = f"the suite could not build this request: {type(exc).__name__}: {redact.scrub(str(exc))}"
    return Exchange(request=recorded, started=started, suite_error=reason)


def _is_event_stream(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return ctype == "text/event-stream"


def _find_echo(presented: str | None, headers: httpx.Headers, raw: bytes) -> list[str]:
    if not presented or len(presented) < redact.MIN_SECRET_LENGTH:
        return []
    forms = redact.secret_forms(presented)
    found = [
        f"header:{name.lower()}" for name, value in headers.multi_items() if any(f in value for f in forms)
    ]
    if any(f.encode("utf-8") in raw for f in forms):
        found.append("body")
    return list(dict.fromkeys(found))


def _scrub_transcript(t: StreamTranscript) -> None:
    for event in t.events:
        event.data = redact.scrub(event.data)
        event.comments = [redact.scrub(c) for c in event.comments]
        if event.id is not None:
            event.id = redact.scrub(event.id)
    t.trailing = redact.scrub(t.trailing)


def _retry_after(resp: RecordedResponse) -> float | None:
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = resp.header(name)
        if value:
            try:
                return float(value) / 1000.0
            except ValueError:
                pass
    value = resp.header("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _origin_text(url: str) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}"


def _wrong_like(original: str) -> str:
    """A credential of the same length and alphabet class that cannot be valid."""
    length = len(original) if len(original) >= 8 else 32
    return ("0000" + secrets.token_hex(length))[:length]


def _wrong_jwt() -> str:
    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(_json.dumps(doc).encode()).decode().rstrip("=")

    claims = {"aud": "https://cognitiveservices.azure.com", "exp": int(time.time()) + 3600}
    signature = base64.urlsafe_b64encode(secrets.token_bytes(256)).decode().rstrip("=")
    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.{signature}"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _warn_insecure() -> None:
    global _insecure_warned
    log.warning("TLS certificate verification is disabled (insecure)")
    if not _insecure_warned:
        _insecure_warned = True
        warnings.warn("TLS certificate verification is disabled (--insecure)", stacklevel=3)
