"""Views of an exchange shared by the rule families: its request and response documents and its stream,
read tolerantly (exchanges may be built by hand or from recordings) and decoded once per transcript."""

from __future__ import annotations

import functools
import gc
import json
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from conformance.transport.exchange import NO_JSON, parse_json_body
from conformance.transport.sse import parse_stream

if TYPE_CHECKING:
    from conformance.transport.exchange import Exchange, RecordedResponse, StreamTranscript

T = TypeVar("T")


def request_json(ex: Exchange) -> dict[str, Any]:
    """The request document as a dict ({} when the request had no JSON object body)."""
    doc = ex.request.json
    if doc is NO_JSON and ex.request.body:
        doc, _ = parse_json_body(ex.request.body)
    return doc if isinstance(doc, dict) else {}


def response_json(resp: RecordedResponse) -> Any:
    """The parsed response body, or NO_JSON (parsing here when the builder did not)."""
    if resp.json is not NO_JSON or resp.json_error is not None:
        return resp.json
    if not resp.body:
        return NO_JSON
    doc, _ = parse_json_body(resp.body)
    return doc


def json_error(resp: RecordedResponse) -> str | None:
    if resp.json is not NO_JSON:
        return None
    if resp.json_error is not None:
        return resp.json_error
    return parse_json_body(resp.body)[1]


def is_2xx(ex: Exchange) -> bool:
    return ex.response is not None and 200 <= ex.response.status < 300


def stream_requested(ex: Exchange) -> bool:
    return request_json(ex).get("stream") is True


def transcript(ex: Exchange) -> StreamTranscript | None:
    """The parsed event stream of a `text/event-stream` answer (parsing the body if needed)."""
    resp = ex.response
    if resp is None:
        return None
    if resp.stream is not None:
        return resp.stream
    if resp.content_type != "text/event-stream":
        return None
    resp.stream = parse_stream(resp.body)
    return resp.stream


#: Transcripts remembered per memoised function: a few suffice, rules judge one exchange at a time.
MEMO_SIZE = 8


def per_transcript(fn: Callable[[StreamTranscript], T]) -> Callable[[StreamTranscript], T]:
    """`fn` computed once per transcript instead of once per rule (~15 chat rules assemble the
    stream, ~6 streaming rules decode its chunks). The result is shared: callers must not mutate it.

    StreamTranscript is an eq-dataclass, so unhashable: entries are keyed by `id()` and hold a weak
    reference that must still be the same object (an id reused after the transcript died cannot
    match, and the entry is dropped when it dies), plus the events list, its length and its last
    event, so a transcript whose events changed is recomputed rather than answered stale.
    """
    memo: dict[int, tuple[weakref.ref, list[Any], int, Any, T]] = {}

    def _forget(ref: weakref.ref, key: int) -> None:
        entry = memo.get(key)
        if entry is not None and entry[0] is ref:
            memo.pop(key, None)

    def wrapper(ts: StreamTranscript) -> T:
        key = id(ts)
        events = ts.events
        last = events[-1] if events else None
        entry = memo.get(key)
        if entry is not None and entry[0]() is ts and entry[1] is events and entry[2] == len(events) and entry[3] is last:
            return entry[4]
        result = fn(ts)
        while len(memo) >= MEMO_SIZE:
            memo.pop(next(iter(memo)), None)
        memo[key] = (weakref.ref(ts, lambda ref, key=key: _forget(ref, key)), events, len(events), last, result)
        return result

    return functools.update_wrapper(wrapper, fn)


@per_transcript
def chunks(ts: StreamTranscript) -> list[tuple[int, Any]]:
    """(event index, parsed JSON) of every event whose data is JSON (not `[DONE]`, not broken)."""
    out = []
    # Decoded JSON holds no reference cycles, but keeping 100k chunks alive makes the cyclic GC rescan
    # the growing heap again and again: paused, decoding a long stream is 2-3x faster.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i, ev in enumerate(ts.events):
            if ev.data == "" or ev.data == "[DONE]":
                continue
            try:
                out.append((i, json.loads(ev.data)))
            except (ValueError, RecursionError):
                continue
    finally:
        if was_enabled:
            gc.enable()
    return out


def is_json_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
