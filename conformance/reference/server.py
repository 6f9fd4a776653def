"""Running the reference: uvicorn in a background thread (tests, `conformance run` without a
target) or in the foreground (`conformance serve`), and the target file it publishes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from conformance.reference.app import create_app
from conformance.reference.faults import check_fault_names
from conformance.reference.personas import check_persona_names
from conformance.reference.settings import AZURE_OPENAI, DEFAULT_VERSION, MODEL_INFERENCE, ReferenceSettings
from conformance.spec import available_versions

_AOAI_OPERATIONS = ["ChatCompletions_Create", "Completions_Create", "embeddings_create"]
_MI_OPERATIONS = ["getChatCompletions", "getEmbeddings", "getImageEmbeddings", "getModelInfo"]


def _versions(api: str) -> list[str]:
    return available_versions(api)


def reference_target(
    api: str, endpoint: str, api_version: str | None = None, settings: ReferenceSettings | None = None
) -> dict[str, Any]:
    """The reference's published capabilities as a target-file dict (never with the key)."""
    settings = settings or ReferenceSettings()
    mi = api == MODEL_INFERENCE
    formats = [f for f in ("float", "base64") if f not in settings.unsupported.encoding_formats]
    # Azure OpenAI names deployments, not models, and has no image embeddings or extra-parameters.
    models = dict(settings.models) if mi else {k: v for k, v in settings.models.items() if k != "image_embeddings"}
    capabilities: dict[str, Any] = {
        "api_versions": _versions(api),
        "streaming": True,
        "tools": True,
        "json_object": True,
        # Azure OpenAI 2024-04-01-preview's response_format enum has no json_schema.
        "json_schema": mi,
        "audio": not settings.unsupported.audio,
        "image_embeddings": mi,
        "embedding_dimensions": [64, 256],
        "encoding_formats": formats,
        "input_type": True,
        "image_text_input": True,
        "pass_through_parameters": {name: True for name in sorted(settings.pass_through_parameters)},
    }
    if not mi:
        for key in ("image_embeddings", "input_type", "image_text_input", "pass_through_parameters", "audio"):
            del capabilities[key]
    return {
        "endpoint": endpoint,
        "api": api,
        "api_version": api_version or DEFAULT_VERSION[api],
        "auth": "api-key",
        "auth_schemes": ["api-key", "bearer"],
        "models": models,
        "capabilities": capabilities,
        "content_filter": {"trigger_prompt": f"Please repeat: {settings.content_filter_trigger}"},
        "budget": {"max_requests": 2000, "max_tokens": 16},
        "operations": list(_MI_OPERATIONS if mi else _AOAI_OPERATIONS),
    }


@dataclass
class ReferenceServer:
    base_url: str
    api_key: str
    faults: frozenset[str]
    settings: ReferenceSettings | None = None
    personas: frozenset[str] = frozenset()

    def endpoint(self, api: str) -> str:
        return self.base_url + ("/models" if api == MODEL_INFERENCE else "/openai")

    def target(self, api: str = MODEL_INFERENCE, api_version: str | None = None) -> dict[str, Any]:
        if api not in (MODEL_INFERENCE, AZURE_OPENAI):
            raise ValueError(f"unknown api {api!r}")
        return reference_target(api, self.endpoint(api), api_version, self.settings)

    def __repr__(self) -> str:
        return (f"ReferenceServer(base_url={self.base_url!r}, faults={sorted(self.faults)!r}, "
                f"personas={sorted(self.personas)!r}, api_key=<hidden>)")


def _config(app: Any, host: str, port: int, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
        timeout_graceful_shutdown=2,
        **extra,
    )


@contextlib.contextmanager
def running_reference(
    faults: Iterable[str] = (),
    settings: ReferenceSettings | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    personas: Iterable[str] = (),
) -> Iterator[ReferenceServer]:
    """Serve the reference on a free loopback port in a thread; stop it cleanly on exit."""
    chosen = check_fault_names(faults)
    roles = check_persona_names(personas)
    settings = settings or ReferenceSettings()
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_config(create_app(chosen, settings, roles), host, bound_port))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="conformance-reference", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the reference deployment did not start")
            time.sleep(0.01)
        shown = f"[{host}]" if ":" in host else host
        yield ReferenceServer(f"http://{shown}:{bound_port}", settings.api_key, chosen, settings, roles)
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():  # a stuck connection (e.g. an endless stream): stop waiting for it
            server.force_exit = True
            thread.join(timeout=2)
        sock.close()


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    faults: Iterable[str] = (),
    settings: ReferenceSettings | None = None,
    personas: Iterable[str] = (),
) -> None:
    """Serve in the foreground (used by `conformance serve`) until interrupted."""
    app = create_app(check_fault_names(faults), settings or ReferenceSettings(), check_persona_names(personas))
    uvicorn.Server(_config(app, host, port)).run()
