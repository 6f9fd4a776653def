"""Chat semantics: what a successful completion must honour of the request that asked for it.

Judged on the answer document: the JSON body, or for streams the document rebuilt by
`assemble_chat_stream` (so every rule here also covers streamed answers). Model output is
nondeterministic, so every rule states only what any correct answer satisfies; ambiguous cases
(e.g. finish_reason "length" below the limit) are at most notes (docs/behaviours.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jsonschema

from conformance.rules._model import Finding, Level, RuleContext
from conformance.rules.assemble import answer
from conformance.rules.registry import rule
from conformance.rules.views import (
    is_int,
    is_json_number,
    request_json,
)
from conformance.text import shorten
from conformance.transport.exchange import NO_JSON, Exchange

CHAT_OPS = frozenset({"getChatCompletions", "ChatCompletions_Create"})
COMPLETIONS_OPS = frozenset({"Completions_Create"})
CUT = ("length", "content_filter")  # finish reasons after which the answer may be incomplete
MIN_CREATED = 1577836800  # 2020-01-01T00:00:00Z

CHAT = "2025-04-01#/components/schemas/ChatCompletions"
OPTS = "2025-04-01#/components/schemas/ChatCompletionsOptions"
AOAI = "2024-04-01-preview#/components/schemas"
#: A log probability is <= 0; services round, so a hair above 0 is still a probability of 1.
LOGPROB_EPSILON = 1e-3


def _choices(doc: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    chs = doc.get("choices")
    return [(i, c) for i, c in enumerate(chs) if isinstance(c, dict)] if isinstance(chs, list) else []


def _message(choice: dict[str, Any]) -> dict[str, Any]:
    msg = choice.get("message")
    return msg if isinstance(msg, dict) else {}


def _tool_calls(choice: dict[str, Any]) -> list[Any]:
    calls = _message(choice).get("tool_calls")
    return calls if isinstance(calls, list) else []


def _text_path(choice: dict[str, Any], i: int) -> tuple[Any, str]:
    if "text" in choice and "message" not in choice:
        return choice.get("text"), f"$.choices[{i}].text"
    return _message(choice).get("content"), f"$.choices[{i}].message.content"


def _on(ops: frozenset[str]):  # type: ignore[no-untyped-def]
    def pred(ctx: RuleContext, ex: Exchange) -> bool:
        return ex.operation_id in ops and answer(ex) is not None

    return pred


_any_completion = _on(CHAT_OPS | COMPLETIONS_OPS)
_chat = _on(CHAT_OPS)


def _has_max_tokens(ctx: RuleContext, ex: Exchange) -> bool:
    req = request_json(ex)
    # A negative limit bounds nothing a count could exceed meaningfully: only limits >= 0 are judged.
    limit = req.get("max_completion_tokens") if is_int(req.get("max_completion_tokens")) else req.get("max_tokens")
    return _any_completion(ctx, ex) and is_int(limit) and limit >= 0


def _has_stop(ctx: RuleContext, ex: Exchange) -> bool:
    return _any_completion(ctx, ex) and bool(_stops(request_json(ex)))


def _stops(req: dict[str, Any]) -> list[str]:
    stop = req.get("stop")
    if req.get("echo") is True:  # completions echo the prompt, which may contain the stop sequence
        return []
    items = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    return [s for s in items if isinstance(s, str) and s]


def _tool_choice(ex: Exchange) -> Any:
    return request_json(ex).get("tool_choice")


def _named(tc: Any) -> str | None:
    if isinstance(tc, dict) and isinstance(tc.get("function"), dict):
        name = tc["function"].get("name")
        return name if isinstance(name, str) else None
    return None


def _forced_tool(ctx: RuleContext, ex: Exchange) -> bool:
    tc = _tool_choice(ex)
    named = _named(tc)
    if named is not None:
        # Naming a function that was not offered is a request error, not something a model can honour.
        req = request_json(ex)
        return _chat(ctx, ex) and isinstance(req, dict) and named in _offered(req)
    return _chat(ctx, ex) and tc == "required" and isinstance(request_json(ex), dict) and bool(request_json(ex).get("tools"))


def _has_tool_calls(ctx: RuleContext, ex: Exchange) -> bool:
    doc = answer(ex) if ex.operation_id in CHAT_OPS else None
    return doc is not None and any(_tool_calls(c) for _, c in _choices(doc))


def _tools_off(ctx: RuleContext, ex: Exchange) -> bool:
    return _chat(ctx, ex) and _tool_choice(ex) == "none"


def _format_type(ex: Exchange) -> str | None:
    rf = request_json(ex).get("response_format")
    return rf.get("type") if isinstance(rf, dict) else None


def _json_mode(ctx: RuleContext, ex: Exchange) -> bool:
    return _chat(ctx, ex) and _format_type(ex) == "json_object"


def _json_schema_mode(ctx: RuleContext, ex: Exchange) -> bool:
    return _chat(ctx, ex) and _format_type(ex) == "json_schema" and _requested_schema(ex) is not None


def _requested_schema(ex: Exchange) -> dict[str, Any] | None:
    rf = request_json(ex).get("response_format")
    js = rf.get("json_schema") if isinstance(rf, dict) else None
    schema = js.get("schema") if isinstance(js, dict) else None
    return schema if isinstance(schema, dict) else None


@rule(
    "CHAT-USAGE-SUM",
    "semantics",
    "usage.total_tokens == usage.prompt_tokens + usage.completion_tokens.",
    "2025-04-01#/components/schemas/CompletionsUsage/properties/total_tokens",
    applies=_any_completion,
)
def check_usage_sum(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    usage = doc.get("usage") if doc else None
    if not isinstance(usage, dict):
        return
    p, c, t = (usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
    if is_int(p) and is_int(c) and is_int(t) and t != p + c:
        yield Finding(
                      f"usage.total_tokens is {t} but prompt_tokens + completion_tokens = {p} + {c} = {p + c}",
                      path="$.usage.total_tokens", value=str(t))


def _prompt_count(req: dict[str, Any]) -> int:
    """Completions answer every prompt of a list (n choices each); chat has one conversation."""
    prompt = req.get("prompt")
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return len(prompt)
    if isinstance(prompt, list) and prompt and all(isinstance(p, list) for p in prompt):
        return len(prompt)  # a list of token arrays
    return 1


@rule(
    "CHAT-MAX-TOKENS",
    "semantics",
    "An answer never uses more completion tokens than max_tokens allows (per choice).",
    f"{OPTS}/properties/max_tokens",
    applies=_has_max_tokens,
)
def check_max_tokens(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    req = request_json(ex)
    key = "max_completion_tokens" if is_int(req.get("max_completion_tokens")) else "max_tokens"
    limit = req[key]
    n = req.get("n") if is_int(req.get("n")) and req.get("n") > 0 else 1
    if is_int(req.get("best_of")) and req["best_of"] > n:  # completions bill every candidate
        n = req["best_of"]
    n *= _prompt_count(req)
    usage = doc.get("usage")
    used = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if is_int(used) and used > limit * n:
        yield Finding(
                      f"{key} was {limit}" + (f" (x n={n})" if n > 1 else "")
                      + f" but usage.completion_tokens is {used}",
                      path="$.usage.completion_tokens", value=str(used))
        return
    chs = _choices(doc)
    if n != 1 or len(chs) != 1 or not is_int(used):
        return
    reason = chs[0][1].get("finish_reason")
    # "stop" exactly at the limit is legitimate when the last counted token was the end of sequence
    # (vLLM, TGI and llama.cpp count it), and then the content holds fewer than `limit` tokens. Only
    # content that alone fills the limit (each whitespace-separated word is at least one token) shows
    # a cut answer reported as complete; a stop sequence may share a token with the content, so a
    # request with stop sequences is never judged here.
    text, _ = _text_path(chs[0][1], chs[0][0])
    if (reason == "stop" and used == limit and not _stops(req) and isinstance(text, str)
            and len(text.split()) >= limit):
        yield Finding(
                      f"finish_reason is 'stop' although the content alone ({len(text.split())} words) fills "
                      f"{key}={limit} completion tokens: the limit cut the answer, which should say 'length'",
                      path="$.choices[0].finish_reason", value='"stop"', level=Level.WARNING, variant="stop-at-limit")
    # "length" well below the limit may be the context window, not max_tokens: a note only.
    if reason == "length" and used < limit:
        yield Finding(
                      f"finish_reason is 'length' but only {used} of {key}={limit} completion tokens were used "
                      "(legitimate only if the context window, not max_tokens, cut the answer)",
                      path="$.choices[0].finish_reason", value='"length"', level=Level.NOTE)


@rule(
    "CHAT-STOP",
    "semantics",
    "No choice's content contains a requested stop sequence.",
    f"{OPTS}/properties/stop",
    applies=_has_stop,
)
def check_stop(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    stops = _stops(request_json(ex))
    for i, ch in _choices(doc):
        text, path = _text_path(ch, i)
        if not isinstance(text, str):
            continue
        for s in stops:
            pos = text.find(s)
            if pos >= 0:
                yield Finding(
                              f"the answer contains the requested stop sequence {shorten(s)} at offset {pos}; "
                              "generation must end before it",
                              path=path, value=shorten(text[max(0, pos - 40): pos + len(s) + 40]))
                break


@rule(
    "CHAT-CREATED",
    "semantics",
    "`created` is a plausible Unix time in seconds (after 2020-01-01, before now + 1 day).",
    f"{CHAT}/properties/created",
    applies=_any_completion,
)
def check_created(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    created = doc.get("created")
    if not is_int(created):
        return  # absent or mistyped: the schema rules say so
    upper = int(time.time()) + 86400
    if MIN_CREATED <= created <= upper:
        return
    why = ("looks like milliseconds, not seconds" if created > 10**12
           else "is in the future" if created > upper else "is before 2020-01-01")
    yield Finding(f"created = {created} {why}", path="$.created", value=str(created))


@rule(
    "CHAT-CHOICES-INDEX",
    "semantics",
    "choices is non-empty and its index values are 0..n-1, each once (n = the request's n, if sent, "
    "times the number of prompts; with best_of, n defaults to 1).",
    "2025-04-01#/components/schemas/ChatChoice/properties/index; 2024-04-01-preview "
    'Completions_Create n, best_of ("returns the best")',
    applies=_any_completion,
)
def check_choices_index(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    chs = _choices(doc)
    req_n = request_json(ex).get("n")
    if not (is_int(req_n) and req_n > 0) and ex.operation_id in COMPLETIONS_OPS and is_int(request_json(ex).get("best_of")):
        req_n = 1  # best_of candidates stay on the server: n (default 1) of them are returned
    if is_int(req_n) and req_n > 0:
        req_n *= _prompt_count(request_json(ex))
    elif _prompt_count(request_json(ex)) > 1:
        req_n = _prompt_count(request_json(ex))
    if not chs:
        yield Finding("a successful answer has no choices", path="$.choices",
                      value=shorten(doc.get("choices")))
        return
    indices = [c.get("index") for _, c in chs]
    if not all(is_int(x) for x in indices):
        return  # missing/mistyped index: the schema rules say so
    n = req_n if is_int(req_n) and req_n > 0 else len(chs)
    if sorted(indices) != list(range(n)):
        yield Finding(
                      f"choice indices are {sorted(indices)}, expected each of 0..{n - 1} once"
                      + (f" (the request asked for n={req_n})" if is_int(req_n) else ""),
                      path="$.choices[*].index", value=shorten(indices))


@rule(
    "CHAT-TOOL-CALLS",
    "semantics",
    "With tool_choice 'required' or a named function, every choice calls a tool (the named one), "
        "each call well-formed, and finishes with 'tool_calls'.",
    f"{OPTS}/properties/tool_choice",
    applies=_forced_tool,
)
def check_tool_calls(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    named = _named(_tool_choice(ex))
    for i, ch in _choices(doc):
        reason = ch.get("finish_reason")
        calls = _tool_calls(ch)
        if not calls:
            if reason not in CUT:
                yield Finding(
                              f"tool_choice {'named ' + repr(named) if named else 'required'} but choice {i} "
                              f"called no tool (finish_reason {shorten(reason)})",
                              path=f"$.choices[{i}].message.tool_calls",
                              value=shorten(_message(ch).get("tool_calls")))
            continue
        if reason not in ("tool_calls", *CUT):
            # OpenAI models finish a forced call with "stop" (always when named): a variant for the errata.
            yield Finding(
                          f"choice {i} called a tool but finish_reason is {shorten(reason)}, not 'tool_calls'",
                          path=f"$.choices[{i}].finish_reason", value=shorten(reason),
                          variant=("named-stop" if named else "required-stop") if reason == "stop" else None)
        for j, call in enumerate(calls):
            yield from _malformed_call(i, j, call, named)


def _malformed_call(i: int, j: int, call: Any, named: str | None) -> Iterator[Finding]:
    base = f"$.choices[{i}].message.tool_calls[{j}]"
    if not isinstance(call, dict):
        yield Finding("a tool call is not an object", path=base, value=shorten(call))
        return
    fn = call.get("function") if isinstance(call.get("function"), dict) else {}
    problems = [
        ("id", call.get("id"), isinstance(call.get("id"), str) and call["id"] != "", "a non-empty string"),
        ("type", call.get("type"), call.get("type") == "function", '"function"'),
        ("function.name", fn.get("name"), isinstance(fn.get("name"), str) and fn["name"] != "", "a non-empty string"),
        ("function.arguments", fn.get("arguments"), isinstance(fn.get("arguments"), str), "a string"),
    ]
    for field, value, ok, want in problems:
        if not ok:
            yield Finding(f"tool call {field} is {shorten(value)}, expected {want}",
                          path=f"{base}.{field}", value=shorten(value))
    if named and isinstance(fn.get("name"), str) and fn["name"] != named:
        yield Finding(f"tool_choice named {named!r} but the call is to {fn['name']!r}",
                      path=f"{base}.function.name", value=shorten(fn["name"]))


def _offered(req: dict[str, Any]) -> set[str]:
    names = set()
    for t in req.get("tools") or []:
        if isinstance(t, dict) and isinstance(t.get("function"), dict) and isinstance(t["function"].get("name"), str):
            names.add(t["function"]["name"])
    for f in req.get("functions") or []:  # Azure OpenAI legacy functions
        if isinstance(f, dict) and isinstance(f.get("name"), str):
            names.add(f["name"])
    return names


def _iter_calls(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for i, ch in _choices(doc):
        for j, call in enumerate(_tool_calls(ch)):
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                yield f"$.choices[{i}].message.tool_calls[{j}].function", call["function"], ch


@rule(
    "CHAT-TOOL-NAME",
    "semantics",
    "Every tool call names a function the request offered.",
    "2025-04-01#/components/schemas/ChatCompletionsToolCall/properties/function",
    applies=_has_tool_calls,
)
def check_tool_name(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    offered = _offered(request_json(ex))
    for path, fn, _ in _iter_calls(doc):
        name = fn.get("name")
        if isinstance(name, str) and name not in offered:
            yield Finding(
                          f"the answer calls function {name!r}, which the request did not offer "
                          f"(offered: {sorted(offered) or 'none'})",
                          path=f"{path}.name", value=shorten(name))


@rule(
    "CHAT-TOOL-ARGS-JSON",
    "semantics",
    "A tool call's function.arguments parses as a JSON object.",
    '2025-04-01#/components/schemas/FunctionCall/properties/arguments: "Note that the model does not '
        'always generate valid JSON"',
    level=Level.WARNING,
    applies=_has_tool_calls,
)
def check_tool_args_json(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    for path, fn, ch in _iter_calls(doc):
        args = fn.get("arguments")
        if not isinstance(args, str) or ch.get("finish_reason") in CUT:
            continue
        try:
            parsed = json.loads(args)
        except (ValueError, RecursionError) as exc:
            yield Finding(f"function.arguments is not valid JSON ({exc})",
                          path=f"{path}.arguments", value=shorten(args))
            continue
        if not isinstance(parsed, dict):
            yield Finding(f"function.arguments is JSON but a {type(parsed).__name__}, "
                          "not an object", path=f"{path}.arguments", value=shorten(args))


@rule(
    "CHAT-TOOL-NONE",
    "semantics",
    "With tool_choice 'none', no choice calls a tool.",
    f"{OPTS}/properties/tool_choice",
    applies=_tools_off,
)
def check_tool_none(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    for i, ch in _choices(doc):
        calls = _tool_calls(ch)
        if calls:
            yield Finding(f"tool_choice was 'none' but choice {i} makes {len(calls)} tool call(s)",
                          path=f"$.choices[{i}].message.tool_calls", value=shorten(calls))
        elif ch.get("finish_reason") == "tool_calls":
            yield Finding(f"tool_choice was 'none' but choice {i} finished with 'tool_calls'",
                          path=f"$.choices[{i}].finish_reason", value='"tool_calls"')


def _structured_contents(doc: dict[str, Any]) -> Iterator[tuple[int, Any, str]]:
    """(choice, content, path) for the complete, non-refused, non-tool answers of a JSON mode."""
    for i, ch in _choices(doc):
        if ch.get("finish_reason") in CUT:
            continue
        msg = _message(ch)
        content = msg.get("content")
        if content is None and (_tool_calls(ch) or isinstance(msg.get("refusal"), str)):
            continue  # the model called a tool or refused (structured outputs' refusal field)
        yield i, content, f"$.choices[{i}].message.content"


def _parse_content(content: Any, path: str) -> tuple[Any, Finding | None]:
    if not isinstance(content, str):
        return NO_JSON, Finding(f"the content is {shorten(content)}, not a JSON text", path=path,
                                value=shorten(content))
    try:
        return json.loads(content), None
    except (ValueError, RecursionError) as exc:
        return NO_JSON, Finding(f"the content is not valid JSON ({exc})", path=path,
                                value=shorten(content))


@rule(
    "CHAT-JSON-MODE",
    "semantics",
    "With response_format json_object, each complete answer's content is valid JSON.",
    "2025-04-01#/components/schemas/ChatCompletionsResponseFormatJsonObject",
    applies=_json_mode,
)
def check_json_mode(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    for _, content, path in _structured_contents(doc):
        _, problem = _parse_content(content, path)
        if problem:
            yield problem


@rule(
    "CHAT-JSON-SCHEMA",
    "semantics",
    "With response_format json_schema, each complete answer's content is JSON valid against that schema.",
    "2025-04-01#/components/schemas/ChatCompletionsResponseFormatJsonSchema",
    applies=_json_schema_mode,
)
def check_json_schema(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    schema = _requested_schema(ex)
    assert schema is not None
    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)
        validator = cls(schema)
    except jsonschema.SchemaError:
        return  # the request's schema is itself invalid: nothing the service can be held to
    for _, content, path in _structured_contents(doc):
        value, problem = _parse_content(content, path)
        if problem:
            yield problem
            continue
        for err in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))[:5]:
            inner = err.json_path
            yield Finding(
                          f"the content does not match the requested schema at {inner}: {err.message}",
                          path=path, value=shorten(err.instance), keyword=str(err.validator))


# -- logprobs and parallel tool calls ----------------------------------------------------------


def _top_wanted(req: dict[str, Any]) -> int:
    top = req.get("top_logprobs")
    return top if is_int(top) and top > 0 else 0


def _logprobs_asked(ctx: RuleContext, ex: Exchange) -> bool:
    return _chat(ctx, ex) and request_json(ex).get("logprobs") is True


def _entries_problem(entries: list[Any], top: int, base: str) -> Iterator[tuple[str, str, Any]]:
    """(message, path, value) for each malformed per-token entry (at most one per entry)."""
    for j, e in enumerate(entries):
        path = f"{base}[{j}]"
        if not isinstance(e, dict) or not isinstance(e.get("token"), str):
            yield "a logprobs entry has no token string", path, e
            continue
        lp = e.get("logprob")
        if not is_json_number(lp) or lp > LOGPROB_EPSILON:
            yield f"token {shorten(e['token'])} has log probability {shorten(lp)}, not a number <= 0", \
                f"{path}.logprob", lp
            continue
        alts = e.get("top_logprobs")
        if top and not isinstance(alts, list):
            yield f"top_logprobs={top} was requested but token {shorten(e['token'])} has no top_logprobs list", \
                f"{path}.top_logprobs", alts
        elif top and len(alts) > top:
            yield f"top_logprobs={top} was requested but token {shorten(e['token'])} has {len(alts)} alternatives", \
                f"{path}.top_logprobs", len(alts)


def _spelled(entries: list[dict[str, Any]]) -> str:
    """The text the tokens spell: their UTF-8 bytes when every entry has them, else the token strings."""
    if all(isinstance(e.get("bytes"), list) and all(is_int(b) and 0 <= b < 256 for b in e["bytes"]) for e in entries):
        return b"".join(bytes(e["bytes"]) for e in entries).decode("utf-8", errors="replace")
    return "".join(e["token"] for e in entries)


@rule(
    "CHAT-LOGPROBS",
    "semantics",
    "With logprobs true, every choice with content carries logprobs.content: one entry per token, each a "
    "token string with a log probability <= 0, and with top_logprobs k at most k alternatives per position "
    "(and some alternatives somewhere). The tokens should spell the content (a warning if not).",
    f"{AOAI}/chatCompletionChoiceLogProbs; {AOAI}/chatCompletionTokenLogprob "
    '("In rare cases, there may be fewer than the number of requested top_logprobs returned")',
    applies=_logprobs_asked,
    api="azure-openai",
)
def check_logprobs(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    req = request_json(ex)
    top = _top_wanted(req)
    for i, ch in _choices(doc):
        content = _message(ch).get("content")
        if not isinstance(content, str) or not content or ch.get("finish_reason") == "content_filter":
            continue  # tool calls, refusals and filtered answers carry no content tokens to judge
        lp = ch.get("logprobs")
        entries = lp.get("content") if isinstance(lp, dict) else None
        path = f"$.choices[{i}].logprobs"
        if not isinstance(entries, list) or not entries:
            yield Finding(f"logprobs was requested but choice {i} has content and no log "
                          "probabilities for it", path=path + (".content" if isinstance(lp, dict) else ""),
                          value=shorten(entries if isinstance(lp, dict) else lp))
            continue
        problems = list(_entries_problem(entries, top, f"{path}.content"))
        for message, where, value in problems[:5]:
            yield Finding(message, path=where, value=shorten(value))
        if problems:
            continue
        if top and not any(e.get("top_logprobs") for e in entries):
            yield Finding(f"top_logprobs={top} was requested but no token of choice {i} has any "
                          "alternative", path=f"{path}.content[*].top_logprobs", value="[]")
        if req.get("stop") is None and _spelled(entries) != content:
            # Tokenizers can spell the same text differently per token: a warning, never a violation.
            yield Finding(f"the {len(entries)} logprobs tokens spell "
                          f"{shorten(_spelled(entries), 60)}, not the content {shorten(content, 60)}",
                          path=f"{path}.content", value=shorten(_spelled(entries), 80), level=Level.WARNING,
                          variant="text-mismatch")


def _serial_tools(ctx: RuleContext, ex: Exchange) -> bool:
    return _chat(ctx, ex) and request_json(ex).get("parallel_tool_calls") is False


@rule(
    "CHAT-PARALLEL-TOOLS",
    "semantics",
    "With parallel_tool_calls false, no choice makes more than one tool call.",
    "2024-10-21#/components/schemas/createChatCompletionRequest/properties/parallel_tool_calls",
    applies=_serial_tools,
    api="azure-openai",
)
def check_parallel_tools(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    for i, ch in _choices(doc):
        calls = _tool_calls(ch)
        if len(calls) > 1:
            yield Finding(f"parallel_tool_calls was false but choice {i} makes "
                          f"{len(calls)} tool calls", path=f"$.choices[{i}].message.tool_calls",
                          value=str(len(calls)))
