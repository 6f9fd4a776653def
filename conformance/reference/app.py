"""The Starlette application: routes of both APIs, one request pipeline, error handlers.

Model inference lives under `/models` (as on `https://<res>.services.ai.azure.com/models`),
Azure OpenAI under `/openai`. Unknown routes get 404 and wrong methods 405 (with `Allow`), both
with error bodies; operations of the Azure OpenAI spec the reference does not implement answer a
well-formed 404 "OperationNotImplemented".
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.reference import _spec, chat, completions, embeddings, gate
from conformance.reference.context import RequestContext
from conformance.reference.errors import ApiError, error_response
from conformance.reference.faults import check_fault_names
from conformance.reference.personas import check_persona_names, check_prose
from conformance.reference.responses import json_ok
from conformance.reference.settings import AZURE_OPENAI, MODEL_INFERENCE, VERSIONS, ReferenceSettings

log = logging.getLogger("conformance.reference")

Handler = Callable[[RequestContext, dict[str, Any]], Response]

#: What a schema-invalid body is replaced with under the `accept-invalid` fault (a canned 200).
_CANNED = {
    "getChatCompletions": {"messages": [{"role": "user", "content": "hello"}]},
    "ChatCompletions_Create": {"messages": [{"role": "user", "content": "hello"}]},
    "Completions_Create": {"prompt": "hello"},
    "getEmbeddings": {"input": ["hello"]},
    "embeddings_create": {"input": ["hello"]},
    "getImageEmbeddings": {"input": [{"image": "data:image/png;base64,iVBORw0KGgo="}]},
}

#: Azure OpenAI deployment kind each operation needs.
_AOAI_KIND = {"ChatCompletions_Create": "chat", "Completions_Create": "completions", "embeddings_create": "embeddings"}


class _App:
    def __init__(self, faults: frozenset[str], settings: ReferenceSettings, personas: frozenset[str]) -> None:
        self.faults = faults
        self.settings = settings
        self.personas = personas

    def ctx(self, api: str) -> RequestContext:
        return RequestContext(api=api, faults=self.faults, settings=self.settings, personas=self.personas)

    async def run(self, request: Request, api: str, operation_id: str, handler: Handler) -> Response:
        """The pipeline every POST operation shares (see `gate`)."""
        ctx = self.ctx(api)
        try:
            gate.check_auth(request, ctx)
            ctx.version = gate.check_api_version(request, ctx)
            if api == AZURE_OPENAI:
                self._check_deployment(request.path_params.get("deployment_id", ""), operation_id)
            body = await gate.read_json(request, ctx)
            if not gate.check_schema(ctx, operation_id, body):
                body = dict(_CANNED[operation_id])
            if api == MODEL_INFERENCE:
                body = gate.apply_extra_parameters(request, ctx, operation_id, body)
            check_prose(ctx, operation_id, body)
            gate.check_reject_valid(ctx, body)
            return handler(ctx, body)
        except ApiError as err:
            return error_response(ctx, err)
        except Exception:  # never let the reference answer a bare 500 page
            log.exception("reference deployment failed on %s", operation_id)
            return error_response(ctx, ApiError(500, "InternalServerError", "The reference deployment failed."))

    def _check_deployment(self, deployment: str, operation_id: str) -> None:
        models = self.settings.models
        if deployment not in models.values() and not self.ctx(AZURE_OPENAI).faulted("deployment-any"):
            raise ApiError(
                404,
                "DeploymentNotFound",
                "The API deployment for this resource does not exist.",
                target="deployment-id",
            )
        kind = _AOAI_KIND[operation_id]
        if deployment not in models.values():
            return  # the deployment-any fault: an unknown deployment is served like the right one
        if models.get(kind) != deployment:
            if self.ctx(AZURE_OPENAI).faulted("deployment-kind-500"):
                raise ApiError(500, "InternalServerError", "The server had an error while processing the request.")
            raise ApiError(
                400,
                "OperationNotSupported",
                f"The {operation_id} operation does not work with the specified deployment.",
                target="deployment-id",
            )

    async def info(self, request: Request) -> Response:
        ctx = self.ctx(MODEL_INFERENCE)
        try:
            gate.check_auth(request, ctx)
            ctx.version = gate.check_api_version(request, ctx)
            kind = "chat"
            wanted = request.query_params.get("model")
            if wanted is not None and not ctx.version.startswith("2024"):  # `model` exists since 2025-04-01
                kinds = {v: k for k, v in self.settings.models.items() if k != "completions"}
                if wanted not in kinds:
                    raise ApiError(404, "ModelNotFound", "No deployment with that name.", target="model")
                kind = kinds[wanted]
            body = {
                "model_name": ctx.model_name(kind),
                "model_type": "chat-completion" if kind == "chat" else "embeddings",
                "model_provider_name": "Conformance Reference",
            }
            if ctx.faulted("info-missing-model-name"):
                del body["model_name"]
            if ctx.faulted("truncated-body"):
                # Declares more bytes than it sends, then closes: the client sees an incomplete answer.
                return _TruncatedResponse(json.dumps(body).encode())
            return json_ok(ctx, body)
        except ApiError as err:
            return error_response(ctx, err)

    async def not_implemented(self, request: Request) -> Response:
        ctx = self.ctx(AZURE_OPENAI)
        try:
            gate.check_auth(request, ctx)
            raise ApiError(
                404,
                "OperationNotImplemented",
                "The reference deployment does not implement this operation "
                "(it serves chat completions, completions and embeddings).",
            )
        except ApiError as err:
            return error_response(ctx, err)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """404 (unknown route) and 405 (wrong method, with `Allow`) as error bodies."""
        api = AZURE_OPENAI if request.url.path.startswith("/openai") else MODEL_INFERENCE
        ctx = self.ctx(api)
        status = getattr(exc, "status_code", 500)
        headers = dict(getattr(exc, "headers", None) or {})
        if status == 405 and ctx.faulted("wrong-method-404"):
            status, headers = 404, {}
        if status == 404:
            if ctx.faulted("not-found-plain"):
                return PlainTextResponse("NOT FOUND", status_code=404)
            err = ApiError(404, "NotFound", f"Resource not found: {request.url.path[:200]}")
        elif status == 405:
            err = ApiError(405, "MethodNotAllowed", f"Method {request.method} is not allowed here.", headers=headers)
        else:
            err = ApiError(status, "HttpError", str(getattr(exc, "detail", "error")), headers=headers)
        return error_response(ctx, err)


def _endpoint(app: _App, api: str, operation_id: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await app.run(request, api, operation_id, handler)

    return endpoint


def _starlette_path(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: "{" + re.sub(r"\W", "_", m.group(1)) + "}", path)


def _unimplemented_routes(app: _App) -> list[Route]:
    implemented = set(_AOAI_KIND)
    by_path: dict[str, list[str]] = {}
    for method, path, op_id in _spec.all_operations(AZURE_OPENAI, VERSIONS[AZURE_OPENAI][0]):
        if op_id not in implemented:
            by_path.setdefault(path, []).append(method)
    return [Route("/openai" + _starlette_path(p), app.not_implemented, methods=m) for p, m in by_path.items()]


class _RateLimitEveryFifth:
    """`rate-limit-no-retry-after`: every 5th request gets 429 without Retry-After."""

    def __init__(self, inner: ASGIApp, owner: _App) -> None:
        self.inner, self.app = inner, owner
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            with self.lock:
                n = next(self.counter)
            if n % 5 == 0:
                api = AZURE_OPENAI if scope.get("path", "").startswith("/openai") else MODEL_INFERENCE
                err = ApiError(429, "429", "Requests have exceeded the call rate limit. Please retry later.")
                await error_response(self.app.ctx(api), err)(scope, receive, send)
                return
        await self.inner(scope, receive, send)


class _EchoCredential:
    """`echo-credential`: the presented key is sent back in a response header."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key = headers.get(b"api-key") or headers.get(b"authorization", b"").partition(b" ")[2]

        async def send_with_echo(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and key:
                message = {**message, "headers": [*message.get("headers", []), (b"x-echo-key", key)]}
            await send(message)

        await self.inner(scope, receive, send_with_echo)


def create_app(
    faults: Iterable[str] = (), settings: ReferenceSettings | None = None, personas: Iterable[str] = ()
) -> Starlette:
    """The reference deployment as an ASGI app (faults: names from `FAULTS`; personas: from `PERSONAS`)."""
    app = _App(check_fault_names(faults), settings or ReferenceSettings(), check_persona_names(personas))
    mi, aoai = MODEL_INFERENCE, AZURE_OPENAI
    routes = [
        Route("/models/chat/completions", _endpoint(app, mi, "getChatCompletions", chat.respond), methods=["POST"]),
        Route("/models/embeddings", _endpoint(app, mi, "getEmbeddings", embeddings.text_embeddings), methods=["POST"]),
        Route(
            "/models/images/embeddings",
            _endpoint(app, mi, "getImageEmbeddings", embeddings.image_embeddings),
            methods=["POST"],
        ),
        Route("/models/info", app.info, methods=["GET"]),
        Route(
            "/openai/deployments/{deployment_id}/chat/completions",
            _endpoint(app, aoai, "ChatCompletions_Create", chat.respond),
            methods=["POST"],
        ),
        Route(
            "/openai/deployments/{deployment_id}/completions",
            _endpoint(app, aoai, "Completions_Create", completions.respond),
            methods=["POST"],
        ),
        Route(
            "/openai/deployments/{deployment_id}/embeddings",
            _endpoint(app, aoai, "embeddings_create", embeddings.text_embeddings),
            methods=["POST"],
        ),
        *_unimplemented_routes(app),
    ]
    if "image-embeddings-not-served" in app.faults:  # the route is absent: Starlette's 404
        routes = [r for r in routes if getattr(r, "path", "") != "/models/images/embeddings"]
    starlette = Starlette(routes=routes, exception_handlers={HTTPException: app.http_error})
    if "echo-credential" in app.faults:
        starlette.add_middleware(_EchoCredential)
    if "rate-limit-no-retry-after" in app.faults:
        starlette.add_middleware(_RateLimitEveryFifth, owner=app)
    starlette.state.reference = app
    return starlette


class _TruncatedResponse(Response):
    """A response whose Content-Length promises more than the body holds (fault `truncated-body`)."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content, media_type="application/json")
        self.headers["content-length"] = str(len(content) + 100)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})
