"""Before the tests: is each offered operation served at all?

One valid baseline request per offered operation (with a valid credential). An operation that
answers 404 is not served: that is one finding (OPERATION-SERVED, judged by the suite's first
access test from the same exchange), and the operation's other rules are not judged, instead of
each failing on its own (AUTH, APIVERSION, EXTRA-PARAMS, POSITIVE-ACCEPTED ... would all "see" the
404). When every operation answers 404, the endpoint path is almost certainly wrong: the run stops
with exit 3 and says what endpoints look like.
"""

from __future__ import annotations

import threading
from contextlib import closing
from typing import Any

from conformance.constants import AZURE_OPENAI
from conformance.runner.payloads import baseline
from conformance.runner.session import track_transport
from conformance.transport.client import BudgetExhausted
from conformance.transport.inflight import in_order

ENDPOINT_HINT = {
    "model-inference": "Model Inference endpoints end in /models (https://<resource>.services.ai.azure.com/models)",
    AZURE_OPENAI: "Azure OpenAI endpoints end in /openai (https://<resource>.openai.azure.com/openai) and "
    "`models` names the deployments",
}


def claimed_by_name(config: Any, operation_id: str) -> bool:
    """Whether the target file names the operation itself, rather than only matching it with a glob."""
    return operation_id in (config.operations or [])


def preflight(session: Any) -> None:
    """Send each offered operation's baseline request once; record the unserved ones in `session`.

    The requests go out `limits.max_in_flight` at a time and their answers are taken in order. It
    stops at the first request without an answer (the breakers then know about it): a target that
    does not answer would otherwise cost one total timeout per operation before the first test. The
    requests already on their way by then are recorded all the same (they were sent).
    """

    cfg = session.config
    asks: list[tuple[str, Any, dict[str, Any]]] = []
    for op in session.spec.operations.values():
        if not session.offers(op.operation_id):
            continue
        planned = baseline(op, api=session.api, models=cfg.models or {}, max_tokens=cfg.budget.max_tokens)
        if planned is None:
            continue
        kwargs: dict[str, Any] = {}
        if planned.json is not None:
            kwargs["json"] = planned.json
        if planned.params:
            kwargs["params"] = planned.params
        asks.append((op.operation_id, planned, kwargs))

    stop = threading.Event()

    def ask(item: tuple[str, Any, dict[str, Any]]) -> Any:
        operation_id, planned, kwargs = item
        if stop.is_set():
            return None
        try:
            return session.client.request(planned.method, planned.path, operation_id=operation_id,
                                          purpose="pre-flight: is the operation served", **kwargs)
        except BudgetExhausted:
            stop.set()
            return None

    with closing(in_order(ask, asks, cfg.limits.max_in_flight, abort=session.client.abort_in_flight)) as answers:
        for (operation_id, _, _), ex in zip(asks, answers, strict=True):
            if ex is None:
                continue  # not sent: the budget is spent, or an earlier request got no answer
            session.preflight[operation_id] = ex
            track_transport(session, ex)
            if ex.response is None or ex.error:
                stop.set()  # no usable answer: the tests' breakers take it from here
                continue
            if ex.response.status == 404:
                by_name = claimed_by_name(cfg, operation_id)
                session.unserved[operation_id] = (
                    f"{operation_id} is not served (a valid request was answered 404)", by_name)


def all_not_found_hint(session: Any) -> str | None:
    """The exit-3 message when every operation tried answered 404, else None."""
    tried = [ex for ex in session.preflight.values() if ex.response is not None]
    if not tried or any(ex.response.status != 404 for ex in tried):
        return None
    from urllib.parse import urlsplit

    path = urlsplit(session.config.endpoint or "").path or "/"
    hint = ENDPOINT_HINT.get(session.api, "")
    return (f"every operation answered 404 Not Found to a valid request ({len(tried)} tried): check the endpoint "
            f"path (it is {path!r}; {hint}) and the model or deployment names")
