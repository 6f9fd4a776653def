"""A deterministic fake model: answers derived from the prompt, tokens = whitespace words.

Every behaviour the suite checks on real models is exact here (usage adds up, `max_tokens` cuts
with finish_reason "length", stop sequences never appear, tool calls name offered functions with
JSON arguments built from the parameters schema, JSON modes produce valid documents), so each
chat-semantics fault is a one-line deviation from a known-good answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from conformance.reference.context import RequestContext

_INTRO = ["This", "is", "the", "reference", "model", "answering:"]
_MAX_ECHO_WORDS = 48


@dataclass
class Answer:
    content: str | None
    finish_reason: str
    completion_tokens: int
    tool_calls: list[dict[str, Any]] | None = None
    #: Legacy Azure OpenAI `function_call` (answers to `functions`).
    function_call: dict[str, Any] | None = None


def words(text: str) -> int:
    return len(text.split())


def message_text(message: Any) -> str:
    """Text of a chat message (string content or the text parts of a content array)."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for item in content:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                parts.append(item["text"])
        return " ".join(parts)
    return ""


def prompt_tokens(messages: Any) -> int:
    """Words of every message's text, plus one per non-text content part (an image)."""
    total = 0
    for m in messages if isinstance(messages, list) else []:
        total += words(message_text(m))
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            total += sum(1 for i in content if isinstance(i, dict) and i.get("type") != "text")
    return total


def _last(messages: Any, role: str | None = None) -> dict[str, Any] | None:
    for m in reversed(messages if isinstance(messages, list) else []):
        if isinstance(m, dict) and (role is None or m.get("role") == role):
            return m
    return None


def reply_text(messages: Any) -> str:
    """The full, uncut answer: an intro plus the words of the prompt (or the tool's result)."""
    last = _last(messages)
    if last is not None and last.get("role") in ("tool", "function"):
        echo = ("The tool returned: " + message_text(last)).split()
    else:
        echo = message_text(_last(messages, "user") or last or {}).split()
    return " ".join(_INTRO + echo[:_MAX_ECHO_WORDS])


def cut_text(ctx: RequestContext, text: str, stop: list[str], max_tokens: int | None) -> tuple[str, str]:
    """Apply stop sequences, then `max_tokens`; return (content, finish_reason)."""
    finish = "stop"
    hits = [(text.find(s), s) for s in stop if isinstance(s, str) and s and s in text]
    if hits:
        index, seq = min(hits)
        text = text[: index + len(seq)] if ctx.faulted("stop-sequence-included") else text[:index].rstrip()
    tokens = text.split()
    # An answer that fills max_tokens is cut by it: the end-of-sequence token (or the stop sequence)
    # would have needed one token more, so it ends with "length", never "stop", at the limit.
    if max_tokens is not None and len(tokens) >= max_tokens and not ctx.faulted("max-tokens-ignored"):
        text = " ".join(tokens[:max_tokens])
        finish = "stop" if ctx.faulted("length-not-reported") else "length"
    return text, finish


# -- JSON Schema -> a minimal valid instance ------------------------------------------------------

_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "hostname": "example.com",
}


def instance_from_schema(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A small instance valid against common JSON Schemas: required properties only, with
    type-appropriate values. Bounded in depth so hostile schemas cannot hang a request."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 12:
        return {}
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#"):
        target: Any = root
        for part in schema["$ref"][1:].strip("/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) and part else target
        return instance_from_schema(target, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return instance_from_schema(schema[key][0], root, depth + 1)
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for sub in schema["allOf"]:
            if isinstance(sub, dict):
                for k, v in sub.items():
                    if k == "required":
                        merged["required"] = list(merged.get("required", [])) + list(v or [])
                    elif k == "properties" and isinstance(v, dict):
                        merged["properties"] = {**merged.get("properties", {}), **v}
                    else:
                        merged.setdefault(k, v)
        return instance_from_schema(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema or "required" in schema else "string" if "pattern" in schema else None
    if kind == "object":
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        out: dict[str, Any] = {}
        for name in schema.get("required", []) or []:
            if isinstance(name, str):
                out[name] = instance_from_schema(props.get(name, {"type": "string"}), root, depth + 1)
        return out
    if kind == "array":
        count = schema.get("minItems", 0) if isinstance(schema.get("minItems"), int) else 0
        return [instance_from_schema(schema.get("items", {}), root, depth + 1) for _ in range(min(count, 16))]
    if kind == "string":
        value = _FORMATS.get(schema.get("format"), "value")
        min_len = schema.get("minLength") if isinstance(schema.get("minLength"), int) else 0
        max_len = schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None
        if len(value) < min_len:
            value = value + "x" * (min(min_len, 4096) - len(value))
        if max_len is not None and len(value) > max_len:
            value = value[:max_len]
        return value
    if kind in ("integer", "number"):
        return _number(schema, kind)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return {}


def _number(schema: dict[str, Any], kind: str) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    value: int | float = 0
    if isinstance(low, (int, float)) and not isinstance(low, bool):
        value = low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    high = schema.get("maximum")
    if isinstance(high, (int, float)) and not isinstance(high, bool) and value > high:
        value = high
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0 and value % step:
        value = (value // step + 1) * step
    return int(value) if kind == "integer" else value


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- tools -----------------------------------------------------------------------------------------


def _functions(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools if isinstance(tools, list) else []:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out.append(fn)
    return out


def choose_function(ctx: RequestContext, messages: Any, functions: list[dict[str, Any]], choice: Any) -> dict | None:
    """Which offered function to call, per tool_choice (None: answer with text)."""
    if not functions:
        return None
    if choice == "none":
        return functions[0] if ctx.faulted("tool-choice-none-ignored") else None
    if choice == "required":
        return None if ctx.faulted("tool-choice-ignored") else functions[0]
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") if isinstance(choice.get("function"), dict) else None
        name = name if name is not None else choice.get("name")  # legacy function_call {"name": ...}
        if ctx.faulted("tool-choice-ignored"):
            return None
        return next((f for f in functions if f["name"] == name), None)
    # "auto" (or absent): call a function the prompt names, unless the last turn is a tool result.
    last = _last(messages)
    if last is not None and last.get("role") in ("tool", "function"):
        return None
    prompt = message_text(_last(messages, "user") or {})
    return next((f for f in functions if f["name"] and f["name"] in prompt), None)


def tool_call(ctx: RequestContext, fn: dict[str, Any], seed: str) -> dict[str, Any]:
    name = "function_not_offered" if ctx.faulted("tool-call-unknown-function") else fn["name"]
    params = fn.get("parameters")
    args = instance_from_schema(params) if isinstance(params, dict) else {}
    if not isinstance(args, dict):
        args = {}
    arguments = '{"unterminated": ' if ctx.faulted("tool-args-invalid-json") else compact_json(args)
    call_id = "call_" + hashlib.sha256(f"{seed}:{fn['name']}".encode()).hexdigest()[:24]
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


# -- chat --------------------------------------------------------------------------------------------


def _stop_list(stop: Any) -> list[str]:
    if isinstance(stop, str):
        return [stop]
    return [s for s in stop if isinstance(s, str)] if isinstance(stop, list) else []


def chat_answer(ctx: RequestContext, body: dict[str, Any]) -> Answer:
    """The one answer for a chat request (every choice of an `n` request is this answer)."""
    messages = body.get("messages")
    # Azure OpenAI 2024-10-21 adds max_completion_tokens; when both are sent the smaller bound holds.
    limits = [body[k] for k in ("max_tokens", "max_completion_tokens") if isinstance(body.get(k), int)]
    max_tokens = min(limits) if limits else None
    seed = compact_json(messages)[:2000]
    if max_tokens is not None and max_tokens <= 0:
        return Answer(content="", finish_reason="length", completion_tokens=0)

    tools = _functions(body.get("tools"))
    legacy = _functions([{"function": f} for f in body.get("functions") or []]) if not tools else []
    if tools:
        fn = choose_function(ctx, messages, tools, body.get("tool_choice", "auto"))
        if fn is not None:
            call = tool_call(ctx, fn, seed)
            calls = [call]
            if ctx.faulted("parallel-tool-calls-ignored") and body.get("parallel_tool_calls") is False:
                calls.append(dict(call, id=call["id"] + "b"))
            return Answer(None, "tool_calls", max(1, words(call["function"]["arguments"])) * len(calls),
                          tool_calls=calls)
    elif legacy:
        fn = choose_function(ctx, messages, legacy, body.get("function_call", "auto"))
        if fn is not None:
            call = tool_call(ctx, fn, seed)["function"]
            return Answer(None, "function_call", max(1, words(call["arguments"])), function_call=call)

    fmt = body.get("response_format") if isinstance(body.get("response_format"), dict) else {}
    if fmt.get("type") == "json_object":
        text = reply_text(messages).split()[: min(3, max_tokens or 3)]
        content = "not json: " + " ".join(text) if ctx.faulted("json-mode-invalid") else compact_json(
            {"answer": " ".join(text)}
        )
        return Answer(content, "stop", words(content))
    if fmt.get("type") == "json_schema":
        definition = fmt.get("json_schema") if isinstance(fmt.get("json_schema"), dict) else {}
        value = instance_from_schema(definition.get("schema", {}))
        if ctx.faulted("json-schema-ignored"):
            value = ["this", "does", "not", "match"] if isinstance(value, dict) else {"unexpected": True}
        content = compact_json(value)
        return Answer(content, "stop", words(content))

    content, finish = cut_text(ctx, reply_text(messages), _stop_list(body.get("stop")), max_tokens)
    return Answer(content, finish, words(content))


def completion_answer(ctx: RequestContext, prompt: str, body: dict[str, Any]) -> Answer:
    """Legacy completions: continue the prompt; Azure OpenAI's `max_tokens` default is 16."""
    max_tokens = body.get("max_tokens", 16)
    max_tokens = max_tokens if isinstance(max_tokens, int) else 16
    if max_tokens <= 0:
        return Answer("", "length", 0)
    text = " ".join(["This is the reference completion of:"] + prompt.split()[:_MAX_ECHO_WORDS])
    content, finish = cut_text(ctx, text, _stop_list(body.get("stop")), max_tokens)
    tokens = words(content)
    if body.get("echo") is True and not ctx.faulted("echo-ignored"):
        content = prompt + (" " if prompt and content else "") + content
    return Answer(content, finish, tokens)


# -- log probabilities -------------------------------------------------------------------------------


def tokens_of(text: str) -> list[str]:
    """The fake model's tokens: word-sized pieces (with their leading space) that spell `text` exactly."""
    return [p for p in re.split(r"(?<=\s)(?=\S)", text) if p]


def _logprob(position: int) -> float:
    return round(-0.05 * (position % 7 + 1), 4)


#: Most alternatives per token (OpenAI's top_logprobs maximum): a request asking for more gets this many.
MAX_ALTERNATIVES = 20


def chat_logprobs(text: str, top: int) -> list[dict[str, Any]]:
    """`logprobs.content` for a chat answer: one entry per token, `top` alternatives each."""
    top = max(0, min(top, MAX_ALTERNATIVES))
    out = []
    for k, token in enumerate(tokens_of(text)):
        lp = _logprob(k)
        alts = [{"token": token, "logprob": lp, "bytes": list(token.encode())}]
        alts += [{"token": f" alt{j}", "logprob": round(lp - j, 4), "bytes": list(f" alt{j}".encode())}
                 for j in range(1, top)]
        out.append({"token": token, "logprob": lp, "bytes": list(token.encode()), "top_logprobs": alts[:top]})
    return out


def completion_logprobs(text: str, k: int, offset: int = 0) -> dict[str, Any]:
    """Completions `logprobs` for `text` (starting at character `offset`), with `k` alternatives each."""
    k = max(0, min(k, MAX_ALTERNATIVES))
    tokens = tokens_of(text)
    values = [_logprob(i) for i in range(len(tokens))]
    offsets, at = [], offset
    for token in tokens:
        offsets.append(at)
        at += len(token)
    tops = [{t: v, **{f" alt{j}": round(v - j, 4) for j in range(1, k)}} if k else {} for t, v in zip(tokens, values, strict=True)]
    return {"tokens": tokens, "token_logprobs": values, "top_logprobs": tops, "text_offset": offsets}
