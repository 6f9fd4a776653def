"""Rules for request parameters whose effect shows in the answer: n/best_of, logprobs (chat and
completions), echo, parallel_tool_calls, stream_options.include_usage; each both ways, JSON and streamed."""

from __future__ import annotations

import copy
from typing import Any

from conformance.rules._model import Level
from tests.rules.helpers import applied, exchange, judge, of, sse_of

AOAI = "azure-openai"
MSGS = [{"role": "user", "content": "Hi"}]


def chat(content: str = "Hello there", *, n: int = 1, logprobs: Any = None, calls: list[Any] | None = None) -> dict:
    msg: dict[str, Any] = {"role": "assistant", "content": content if calls is None else None}
    if calls is not None:
        msg["tool_calls"] = calls
    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop" if calls is None else "tool_calls", "message": msg}
    if logprobs is not None:
        choice["logprobs"] = logprobs
    return {"id": "c", "object": "chat.completion", "created": 1735689600, "model": "m",
            "choices": [dict(copy.deepcopy(choice), index=i) for i in range(n)],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}


def entries(*tokens: str, top: int = 0, lp: float = -0.1) -> dict:
    return {"content": [{"token": t, "logprob": lp, "bytes": list(t.encode()),
                         "top_logprobs": [{"token": t, "logprob": lp, "bytes": None}] * top} for t in tokens]}


def chat_ex(request: dict, body: dict, **kw: Any):  # type: ignore[no-untyped-def]
    return exchange("ChatCompletions_Create", {"messages": MSGS, **request}, body=body, api=AOAI, **kw)


def completion(text: str = "Hello there", *, n: int = 1, logprobs: Any = None) -> dict:
    return {"id": "c", "object": "text_completion", "created": 1735689600, "model": "m",
            "choices": [{"index": i, "text": text, "finish_reason": "stop", "logprobs": logprobs} for i in range(n)],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}


def comp_ex(request: dict, body: dict | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    return exchange("Completions_Create", {"prompt": "Say hi", **request}, body=body, api=AOAI,
                    path="/completions", **kw)


def test_n_and_best_of_choice_counts() -> None:
    assert of(judge(chat_ex({"n": 2}, chat(n=2)), api=AOAI), "CHAT-CHOICES-INDEX") == []
    [f] = of(judge(chat_ex({"n": 2}, chat(n=1)), api=AOAI), "CHAT-CHOICES-INDEX")
    assert "n=2" in f.message and f.path == "$.choices[*].index"
    assert of(judge(comp_ex({"best_of": 3}, completion(n=1)), api=AOAI), "CHAT-CHOICES-INDEX") == []
    [f] = of(judge(comp_ex({"best_of": 3}, completion(n=3)), api=AOAI), "CHAT-CHOICES-INDEX")
    assert "expected each of 0..0" in f.message


def test_chat_logprobs_present_shaped_counted_and_spelling() -> None:
    good = chat_ex({"logprobs": True, "top_logprobs": 2}, chat(logprobs=entries("Hello", " there", top=2)))
    assert "CHAT-LOGPROBS" in applied(good, AOAI)
    assert of(judge(good, api=AOAI), "CHAT-LOGPROBS") == []
    assert "CHAT-LOGPROBS" not in applied(chat_ex({}, chat()), AOAI)
    [f] = of(judge(chat_ex({"logprobs": True}, chat(logprobs=None)), api=AOAI), "CHAT-LOGPROBS")
    assert f.level == Level.VIOLATION and f.path == "$.choices[0].logprobs"
    f, g = of(judge(chat_ex({"logprobs": True, "top_logprobs": 1}, chat(logprobs=entries("Hello", " there", top=2))),
                    api=AOAI), "CHAT-LOGPROBS")
    assert "has 2 alternatives" in f.message and f.path.endswith("content[0].top_logprobs")
    assert g.path.endswith("content[1].top_logprobs")
    [f] = of(judge(chat_ex({"logprobs": True, "top_logprobs": 2}, chat(logprobs=entries("Hello", " there"))),
                   api=AOAI), "CHAT-LOGPROBS")
    assert "no token" in f.message
    [f] = of(judge(chat_ex({"logprobs": True}, chat("Hello", logprobs=entries("Hello", lp=0.5))), api=AOAI),
             "CHAT-LOGPROBS")
    assert "<= 0" in f.message
    [f] = of(judge(chat_ex({"logprobs": True}, chat(logprobs=entries("Bye"))), api=AOAI), "CHAT-LOGPROBS")
    assert f.level == Level.WARNING and f.variant == "text-mismatch"
    # A tool call has no content tokens to judge.
    call = {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert of(judge(chat_ex({"logprobs": True}, chat(calls=[call])), api=AOAI), "CHAT-LOGPROBS") == []


def test_chat_logprobs_in_a_stream_are_concatenated() -> None:
    def chunk(piece: str, lp: Any, finish: str | None = None) -> dict:
        ch: dict[str, Any] = {"index": 0, "delta": {"content": piece}, "logprobs": lp}
        if finish:
            ch["finish_reason"] = finish
        return {"id": "c", "object": "chat.completion.chunk", "created": 1735689600, "model": "m", "choices": [ch]}

    sse = sse_of(chunk("Hello", entries("Hello")), chunk(" there", entries(" there")), chunk("", None, "stop"))
    e = chat_ex({"logprobs": True, "stream": True}, {}, sse=sse)
    assert of(judge(e, api=AOAI), "CHAT-LOGPROBS") == []
    sse = sse_of(chunk("Hello", None), chunk(" there", None), chunk("", None, "stop"))
    assert of(judge(chat_ex({"logprobs": True, "stream": True}, {}, sse=sse), api=AOAI), "CHAT-LOGPROBS")


def test_completions_logprobs() -> None:
    lp = {"tokens": ["Hello", " there"], "token_logprobs": [-0.1, -0.2], "text_offset": [0, 5],
          "top_logprobs": [{"Hello": -0.1, "Hi": -1.0, "Hey": -2.0}, {" there": -0.2}]}
    assert of(judge(comp_ex({"logprobs": 2}, completion(logprobs=lp)), api=AOAI), "COMPLETIONS-LOGPROBS") == []
    [f] = of(judge(comp_ex({"logprobs": 2}, completion(logprobs=None)), api=AOAI), "COMPLETIONS-LOGPROBS")
    assert f.path == "$.choices[0].logprobs"
    [f] = of(judge(comp_ex({"logprobs": 1}, completion(logprobs=lp)), api=AOAI), "COMPLETIONS-LOGPROBS")
    assert "at most 2 alternatives" in f.message
    short = dict(lp, token_logprobs=[-0.1])
    [f] = of(judge(comp_ex({"logprobs": 2}, completion(logprobs=short)), api=AOAI), "COMPLETIONS-LOGPROBS")
    assert "one value per token" in f.message
    [f] = of(judge(comp_ex({"logprobs": 2}, completion("Bye", logprobs=lp)), api=AOAI), "COMPLETIONS-LOGPROBS")
    assert f.level == Level.WARNING


def test_completions_echo_json_and_stream() -> None:
    assert of(judge(comp_ex({"echo": True}, completion("Say hi Hello")), api=AOAI), "COMPLETIONS-ECHO") == []
    [f] = of(judge(comp_ex({"echo": True}, completion("Hello")), api=AOAI), "COMPLETIONS-ECHO")
    assert f.path == "$.choices[0].text" and "Say hi" in f.message
    two = comp_ex({"echo": True, "prompt": ["A b", "C d"], "n": 1}, {**completion(), "choices": [
        {"index": 0, "text": "A b x", "finish_reason": "stop"}, {"index": 1, "text": "C d y", "finish_reason": "stop"}]})
    assert of(judge(two, api=AOAI), "COMPLETIONS-ECHO") == []
    assert "COMPLETIONS-ECHO" not in applied(comp_ex({"echo": True, "prompt": [1, 2, 3]}, completion()), AOAI)

    def chunk(text: Any, finish: str | None = None) -> dict:
        return {"id": "c", "object": "text_completion", "created": 1735689600, "model": "m",
                "choices": [{"index": 0, "text": text, "finish_reason": finish}]}

    good = comp_ex({"echo": True, "stream": True}, sse=sse_of(chunk("Say hi"), chunk(" Hello"), chunk("", "stop")))
    found = judge(good, api=AOAI)
    assert of(found, "COMPLETIONS-ECHO") == [] and of(found, "STREAM-CONTENT-STRING") == []
    bad = comp_ex({"echo": True, "stream": True}, sse=sse_of(chunk(42), chunk(" Hello"), chunk("", "stop")))
    found = judge(bad, api=AOAI)
    assert of(found, "STREAM-CONTENT-STRING")[0].path == "event[0]$.choices[0].text"
    assert of(found, "COMPLETIONS-ECHO")


def test_parallel_tool_calls_false() -> None:
    call = {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert of(judge(chat_ex({"parallel_tool_calls": False}, chat(calls=[call])), api=AOAI), "CHAT-PARALLEL-TOOLS") == []
    [f] = of(judge(chat_ex({"parallel_tool_calls": False}, chat(calls=[call, dict(call, id="2")])), api=AOAI),
             "CHAT-PARALLEL-TOOLS")
    assert f.value == "2"
    assert "CHAT-PARALLEL-TOOLS" not in applied(chat_ex({}, chat(calls=[call, call])), AOAI)


def test_stream_include_usage() -> None:
    content = {"id": "c", "object": "chat.completion.chunk", "created": 1735689600, "model": "m",
               "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]}
    usage = {"id": "c", "object": "chat.completion.chunk", "created": 1735689600, "model": "m", "choices": [],
             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    asked = {"stream": True, "stream_options": {"include_usage": True}}
    assert of(judge(chat_ex(asked, {}, sse=sse_of(content, usage)), api=AOAI), "STREAM-INCLUDE-USAGE") == []
    [f] = of(judge(chat_ex(asked, {}, sse=sse_of(content)), api=AOAI), "STREAM-INCLUDE-USAGE")
    assert f.path == "stream"
    assert "STREAM-INCLUDE-USAGE" not in applied(chat_ex({"stream": True}, {}, sse=sse_of(content)), AOAI)
