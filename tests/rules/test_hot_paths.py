"""The hot-path caches (docs/performance.md) are invisible to verdicts: never stale, never shared
between transcripts or views, and the assembled stream is the same text as folding piece by piece."""

from __future__ import annotations

import copy
import gc
import weakref

from conformance.rules.assemble import assemble_chat_stream
from conformance.rules.chat import answer
from conformance.rules.views import MEMO_SIZE, chunks
from conformance.runner.generation import _schemathesis_schema, generation_strategy, generation_view
from conformance.spec import load_spec
from conformance.transport.exchange import SSEEvent
from conformance.transport.sse import parse_stream
from tests.rules.helpers import exchange, judge, sse_of

BASE = {"id": "c1", "object": "chat.completion.chunk", "created": 1700000000, "model": "m"}


def _chunk(delta: dict, index: int = 0, finish: str | None = None) -> dict:
    return {**BASE, "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


def test_chunks_are_decoded_once_per_transcript_and_follow_new_events() -> None:
    ts = parse_stream(sse_of(_chunk({"content": "a"})))
    first = chunks(ts)
    assert chunks(ts) is first and [i for i, _ in first] == [0]
    ts.events.insert(1, SSEEvent(data='{"late": true}'))  # same list, one more event: recomputed
    assert [c for _, c in chunks(ts)][-1] == {"late": True}
    ts.events[-1] = SSEEvent(data='{"replaced": 1}')  # same length, different last event: recomputed
    assert chunks(ts)[-1][1] == {"replaced": 1}
    ts.events = [SSEEvent(data="[1]")]  # a new list altogether
    assert chunks(ts) == [(0, [1])]


def test_equal_transcripts_get_their_own_results_and_are_not_kept_alive() -> None:
    text = sse_of(_chunk({"content": "x"}))
    one, two = parse_stream(text), parse_stream(text)
    assert one == two and chunks(one) is not chunks(two)
    ref = weakref.ref(one)
    del one
    gc.collect()
    assert ref() is None  # the memo holds transcripts weakly
    many = [parse_stream(sse_of(_chunk({"content": str(i)}))) for i in range(MEMO_SIZE * 3)]
    assert [chunks(ts)[0][1]["choices"][0]["delta"]["content"] for ts in many] == [str(i) for i in range(len(many))]


def test_answer_is_assembled_once_per_exchange_and_judging_is_unchanged() -> None:
    ex = exchange(request={"messages": [], "stream": True},
                  sse=sse_of(_chunk({"role": "assistant", "content": "Hel"}), _chunk({"content": "lo"}, finish="stop")))
    doc = answer(ex)
    assert doc is answer(ex) and doc["choices"][0]["message"] == {"role": "assistant", "content": "Hello"}
    fresh = exchange(request={"messages": [], "stream": True}, sse=ex.response.body)
    assert [f.render() for f in judge(ex)] == [f.render() for f in judge(fresh)]


def test_assembly_joins_interleaved_pieces_in_order_and_keeps_key_order() -> None:
    deltas = [
        _chunk({"role": "assistant", "reasoning_content": "th"}),
        _chunk({"content": "A", "refusal": ""}, index=1),
        _chunk({"reasoning_content": "ink", "content": "B"}),
        _chunk({"tool_calls": [{"index": 0, "id": "t", "function": {"name": "f", "arguments": "{\"a\""}}]}),
        _chunk({"content": "C"}, index=1),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}, finish="tool_calls"),
    ]
    doc = assemble_chat_stream(parse_stream(sse_of(*deltas)))
    first, second = doc["choices"]
    assert list(first["message"]) == ["role", "reasoning_content", "content", "tool_calls"]
    assert first["message"]["reasoning_content"] == "think" and first["message"]["content"] == "B"
    assert first["message"]["tool_calls"] == [{"function": {"name": "f", "arguments": '{"a": 1}'}, "id": "t",
                                               "type": "function"}]
    assert second["message"] == {"role": "assistant", "content": "AC", "refusal": ""}
    legacy = assemble_chat_stream(parse_stream(sse_of({"choices": [{"text": "x"}]}, {"choices": [{"text": "y"}]})))
    assert legacy["choices"][0]["text"] == "xy"


def test_long_stream_assembles_to_the_full_text() -> None:
    n = 20_000
    ts = parse_stream(sse_of(*[_chunk({"content": f"{i % 10}"}) for i in range(n)]))
    assert assemble_chat_stream(ts)["choices"][0]["message"]["content"] == "0123456789" * (n // 10)


def test_schemathesis_schema_is_built_once_per_view_and_never_for_another() -> None:
    spec = load_spec("model-inference", "2025-04-01")
    view = generation_view(spec, api_version="2025-04-01", max_tokens=8)
    schema = _schemathesis_schema(view)
    assert _schemathesis_schema(view) is schema
    other = copy.deepcopy(view)
    assert _schemathesis_schema(other) is not schema
    positive = generation_strategy(spec, "getChatCompletions", mode="positive", view=view)
    negative = generation_strategy(spec, "getEmbeddings", mode="negative", view=view)
    assert positive is not negative and _schemathesis_schema(view) is schema
