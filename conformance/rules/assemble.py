"""Rebuild a completion document from a parsed stream, so semantic rules judge streams too.

The chat rules (usage, stop, tool calls, JSON mode, ...) are written against the non-streamed
shape. Rather than writing each twice, a stream is folded into that shape the way the OpenAI and
azure-ai-inference SDKs accumulate deltas: content, reasoning and refusal pieces concatenated,
tool calls merged by their `index` (position when absent, as Mistral sends them), per-token logprobs
lists concatenated, completions `text` pieces joined (a completions choice has no `message`), the last
non-null finish_reason and usage kept, and id/created/model from the first chunk that has them
non-empty (the Azure OpenAI prompt-filter chunk has `id: ""` and `created: 0`).

Pieces of the wrong type are left out here; STREAM-CONTENT-STRING and the chunk schema report them.
Text pieces are collected in lists and joined once at the end: `s = s + piece` per chunk copies
everything so far each time, which made a 100k-chunk stream quadratic.
"""

from __future__ import annotations

from typing import Any

from conformance.rules.views import chunks, is_2xx, per_transcript, response_json, transcript
from conformance.transport.exchange import NO_JSON, Exchange, StreamTranscript

_TEXT_FIELDS = ("content", "reasoning_content", "refusal")
#: (id(holder), key) -> (holder, key, pieces): the text of `holder[key]` until it is joined.
_Pieces = dict[tuple[int, str], tuple[dict[str, Any], str, list[str]]]


def _append(pieces: _Pieces, holder: dict[str, Any], key: str, text: str) -> None:
    """Queue `text` for `holder[key]`; the key is set at once so the dict keeps its first-seen order."""
    slot = pieces.get((id(holder), key))
    if slot is None:
        slot = pieces[(id(holder), key)] = (holder, key, [holder.setdefault(key, "")])
    slot[2].append(text)


def assemble_chat_stream(transcript: StreamTranscript) -> dict[str, Any] | None:
    """A ChatCompletions-like dict from the transcript's chunks, or None if no chunk was JSON."""
    doc: dict[str, Any] = {"object": "chat.completion", "choices": []}
    choices: dict[int, dict[str, Any]] = {}
    pieces: _Pieces = {}
    seen = False
    for _, chunk in chunks(transcript):
        if not isinstance(chunk, dict):
            continue
        seen = True
        for key in ("id", "model", "system_fingerprint"):
            if key not in doc and isinstance(chunk.get(key), str) and chunk[key]:
                doc[key] = chunk[key]
        created = chunk.get("created")
        if "created" not in doc and isinstance(created, int) and not isinstance(created, bool) and created:
            doc["created"] = created
        if isinstance(chunk.get("usage"), dict):
            doc["usage"] = chunk["usage"]
        for pos, ch in enumerate(chunk.get("choices") or []):
            if isinstance(ch, dict):
                _fold_choice(choices, pos, ch, pieces)
    for holder, key, parts in pieces.values():
        holder[key] = "".join(parts)
    if not seen:
        return None
    doc["choices"] = [choices[i] for i in sorted(choices)]
    for ch in doc["choices"]:
        if "text" not in ch:  # a chat choice (completions choices carry `text` and no message)
            ch.setdefault("message", {"role": "assistant"})
        for tc in ch.get("message", {}).get("tool_calls", []):
            del tc["_index"]
            # Chunks need not repeat `type` (Mistral never sends it); the chunk schema judges them.
            tc.setdefault("type", "function")
    return doc


def _fold_choice(choices: dict[int, dict[str, Any]], pos: int, ch: dict[str, Any], pieces: _Pieces) -> None:
    index = ch.get("index") if isinstance(ch.get("index"), int) else pos
    acc = choices.setdefault(index, {"index": index, "finish_reason": None})
    delta = ch.get("delta")
    if isinstance(delta, dict):
        msg = acc.setdefault("message", {"role": "assistant"})
        if isinstance(delta.get("role"), str):
            msg["role"] = delta["role"]
        for key in _TEXT_FIELDS:
            if isinstance(delta.get(key), str):
                _append(pieces, msg, key, delta[key])
        for tpos, tc in enumerate(delta.get("tool_calls") or []):
            if isinstance(tc, dict):
                _fold_tool_call(msg.setdefault("tool_calls", []), tpos, tc, pieces)
    if isinstance(ch.get("text"), str):  # legacy completions streams
        _append(pieces, acc, "text", ch["text"])
    logprobs = ch.get("logprobs")
    if isinstance(logprobs, dict):  # per-token lists (chat `content`, completions `tokens`, ...) concatenate
        folded = acc.setdefault("logprobs", {})
        for key, value in logprobs.items():
            if isinstance(value, list):
                folded.setdefault(key, []).extend(value)
    if ch.get("finish_reason") is not None:
        acc["finish_reason"] = ch["finish_reason"]


def _fold_tool_call(calls: list[dict[str, Any]], pos: int, tc: dict[str, Any], pieces: _Pieces) -> None:
    index = tc.get("index") if isinstance(tc.get("index"), int) else pos
    acc = next((c for c in calls if c["_index"] == index), None)
    if acc is None:
        acc = {"_index": index, "function": {}}
        calls.append(acc)
    if isinstance(tc.get("id"), str) and tc["id"] and not acc.get("id"):
        acc["id"] = tc["id"]
    if isinstance(tc.get("type"), str) and tc["type"]:
        acc["type"] = tc["type"]
    fn = tc.get("function")
    if isinstance(fn, dict):
        for key in ("name", "arguments"):
            if isinstance(fn.get(key), str):
                _append(pieces, acc["function"], key, fn[key])


#: ~15 chat rules ask for the answer of the same exchange: a stream is assembled once, not per rule.
_assembled = per_transcript(assemble_chat_stream)


def answer(ex: Exchange) -> dict[str, Any] | None:
    """The answer document: the JSON body, or the streamed chunks folded into one document.

    Shared between rules (like the parsed JSON body): never mutate it.
    """
    if not is_2xx(ex) or ex.response is None:
        return None
    ts = transcript(ex)
    doc = _assembled(ts) if ts is not None else response_json(ex.response)
    return doc if isinstance(doc, dict) and doc is not NO_JSON else None
