"""Transports that hand an official client's requests to the suite's one client, and its answers back.

The clients are drivers: they build requests the way a user's code does, and parse answers the way a
user's code sees them. Every byte still goes through `TargetClient.request` (via `TestJudge.send`), so
each exchange is recorded, redacted, bounded, budgeted and judged by every exchange rule like any
other; the client gets a response rebuilt from the recorded exchange. The client never holds the
credential: its own auth headers are dropped and the suite's client presents the configured one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from conformance.transport.exchange import Exchange

#: Headers the suite's client sets itself (credential, framing, encoding) and never takes from a client.
_DROPPED = frozenset({
    "api-key", "authorization", "content-length", "host", "accept-encoding", "connection",
    "transfer-encoding", "cookie",
})
#: Response headers that no longer describe the rebuilt body (the suite's client already decoded it).
_STALE = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection"})


class NotSent(Exception):
    """The suite's client did not send the request (budget spent, operation stopped): not the target's doing."""


@dataclass
class ClientRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


#: Sends one client request through the suite's client; returns the recorded exchange.
Send = Callable[[ClientRequest], Exchange]


def relative(url: str, endpoint: str) -> tuple[str, dict[str, str]]:
    """The path below the configured endpoint and the query of a client-built URL."""
    parts = urlsplit(url)
    base = urlsplit(endpoint.rstrip("/"))
    path = parts.path
    if path.startswith(base.path):
        path = path[len(base.path):] or "/"
    return path, dict(parse_qsl(parts.query, keep_blank_values=True))


def forwarded_headers(headers: Any) -> dict[str, str]:
    return {k: v for k, v in dict(headers).items() if k.lower() not in _DROPPED}


def response_headers(ex: Exchange) -> dict[str, str]:
    assert ex.response is not None
    return {k: v for k, v in ex.response.headers.items() if k.lower() not in _STALE}


def failure(ex: Exchange) -> str | None:
    """Why the exchange gave the client nothing complete to read (a transport error or a cut stream)."""
    if ex.response is None:
        return ex.error or "no response"
    ts = ex.response.stream
    if ts is not None and ts.cut_reason:
        return f"stream cut by the suite's limits ({ts.cut_reason})"
    if ex.response.truncated:
        return "body cut by the suite's size limit"
    return ex.error


# -- azure-core (azure-ai-inference) ---------------------------------------------------------------


def azure_core_transport(send: Send) -> Any:
    """An azure-core `HttpTransport` that sends through `send` and answers from the exchange."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError
    from azure.core.pipeline.transport import HttpTransport
    from azure.core.rest._http_response_impl import HttpResponseImpl
    from azure.core.utils import case_insensitive_dict

    class _Closed:
        def close(self) -> None:
            pass

    class SuiteTransport(HttpTransport):
        def open(self) -> None:
            pass

        def close(self) -> None:
            pass

        def __enter__(self) -> SuiteTransport:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def send(self, request: Any, **kwargs: Any) -> Any:
            body = request.content
            if isinstance(body, str):
                body = body.encode("utf-8")
            ex = send(ClientRequest(request.method, request.url, forwarded_headers(request.headers), body))
            if ex.response is None:
                raise ServiceRequestError(failure(ex) or "no response")
            broken = failure(ex)
            payload = ex.response.body
            headers = case_insensitive_dict(response_headers(ex))

            def download(response: Any = None, pipeline: Any = None, decompress: bool = True) -> Iterator[bytes]:
                for i in range(0, len(payload), 4096):
                    yield payload[i:i + 4096]
                if broken:
                    raise ServiceResponseError(broken)

            response = HttpResponseImpl(
                request=request, internal_response=_Closed(), status_code=ex.response.status,
                reason="", content_type=headers.get("content-type"), headers=headers,
                stream_download_generator=download,
            )
            if not kwargs.get("stream"):
                response.read()
            return response

    return SuiteTransport()


# -- httpx / httpx2 (openai) -----------------------------------------------------------------------


def http_module(client_class: type) -> ModuleType:
    """The HTTP library a client is built on (openai 1.x/2.x: httpx; 3.x: httpx2), from its client class."""
    import importlib

    for base in client_class.__mro__:
        root = base.__module__.split(".")[0]
        if root.startswith("httpx"):
            return importlib.import_module(root)
    raise RuntimeError(f"{client_class!r} is not built on an httpx-like library")


def httpx_client(send: Send, httpmod: ModuleType, timeout: float) -> Any:
    """An httpx(-like) Client whose transport sends through `send` and answers from the exchange."""

    def handle(request: Any) -> Any:
        ex = send(ClientRequest(request.method, str(request.url), forwarded_headers(request.headers),
                                request.content or None))
        if ex.response is None:
            raise httpmod.ConnectError(failure(ex) or "no response", request=request)
        broken = failure(ex)
        payload = ex.response.body

        class Body(httpmod.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                yield payload
                if broken:
                    raise httpmod.ReadError(broken, request=request)

        return httpmod.Response(ex.response.status, headers=response_headers(ex), stream=Body(), request=request)

    return httpmod.Client(transport=httpmod.MockTransport(handle), timeout=timeout)
