"""Legacy completions semantics (Azure OpenAI `Completions_Create`): `echo` and `logprobs`.

Judged on the answer document (the JSON body, or a stream folded by `assemble_chat_stream`, which
joins `text` pieces and concatenates the per-token logprobs lists), like the chat rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.rules._model import Finding, Level, RuleContext
from conformance.rules.assemble import answer
from conformance.rules.chat import COMPLETIONS_OPS
from conformance.rules.registry import rule
from conformance.rules.views import is_int, is_json_number, request_json
from conformance.text import shorten
from conformance.transport.exchange import Exchange

REQ = "2024-04-01-preview#/paths/~1deployments~1{deployment-id}~1completions/post/requestBody"
LOGPROB_EPSILON = 1e-3  # as in chat.py: rounding may put a probability of 1 a hair above 0


def _choices(doc: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    chs = doc.get("choices")
    return [(i, c) for i, c in enumerate(chs) if isinstance(c, dict)] if isinstance(chs, list) else []


def _prompts(req: dict[str, Any]) -> list[str] | None:
    """The text prompts in order, or None when they are token ids (not comparable to text)."""
    prompt = req.get("prompt")
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return list(prompt)
    return None


def _completions(ctx: RuleContext, ex: Exchange) -> bool:
    return ex.operation_id in COMPLETIONS_OPS and answer(ex) is not None


def _echo_asked(ctx: RuleContext, ex: Exchange) -> bool:
    req = request_json(ex)
    return _completions(ctx, ex) and req.get("echo") is True and _prompts(req) is not None


def _squeezed(text: str) -> str:
    return " ".join(text.split())


@rule(
    "COMPLETIONS-ECHO",
    "semantics",
    "With echo true, each choice's text starts with the prompt it completes.",
    f'{REQ}/content/application~1json/schema/properties/echo: "Echo back the prompt in addition to the completion"',
    applies=_echo_asked,
    api="azure-openai",
)
def check_echo(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    req = request_json(ex)
    prompts = _prompts(req)
    assert prompts is not None
    n = req["n"] if is_int(req.get("n")) and req["n"] > 0 else 1
    for i, ch in _choices(doc):
        index = ch["index"] if is_int(ch.get("index")) else i
        text = ch.get("text")
        if not isinstance(text, str) or not 0 <= index // n < len(prompts) or ch.get("finish_reason") == "content_filter":
            continue
        prompt = prompts[index // n]
        if text.startswith(prompt) or _squeezed(text).startswith(_squeezed(prompt)):
            continue  # a tokenizer may normalise whitespace on the way back: the words are what counts
        yield Finding(f"echo was requested but choice {index}'s text does not start with its "
                      f"prompt {shorten(prompt, 60)}", path=f"$.choices[{i}].text", value=shorten(text, 80))


def _logprobs_asked(ctx: RuleContext, ex: Exchange) -> bool:
    lp = request_json(ex).get("logprobs")
    return _completions(ctx, ex) and is_int(lp) and lp >= 0


def _shape_problems(lp: dict[str, Any], k: int, path: str) -> Iterator[tuple[str, str, Any]]:
    tokens = lp.get("tokens")
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
        yield "logprobs.tokens is not a non-empty list of token strings", f"{path}.tokens", tokens
        return
    values = lp.get("token_logprobs")
    if not isinstance(values, list) or len(values) != len(tokens):
        yield f"logprobs.token_logprobs does not have one value per token ({len(tokens)})", f"{path}.token_logprobs", \
            values if not isinstance(values, list) else len(values)
        return
    for j, v in enumerate(values):
        # The first echoed token has no log probability (null), as the OpenAI API documents.
        if v is not None and (not is_json_number(v) or v > LOGPROB_EPSILON):
            yield f"token {shorten(tokens[j])} has log probability {shorten(v)}, not a number <= 0", \
                f"{path}.token_logprobs[{j}]", v
            return
    for key in ("text_offset", "top_logprobs"):
        seq = lp.get(key)
        if seq is not None and (not isinstance(seq, list) or len(seq) != len(tokens)):
            yield f"logprobs.{key} does not have one entry per token ({len(tokens)})", f"{path}.{key}", \
                seq if not isinstance(seq, list) else len(seq)
            return
    tops = lp.get("top_logprobs")
    if k > 0 and tops is None:
        yield f"logprobs={k} was requested but there is no top_logprobs list", f"{path}.top_logprobs", None
        return
    for j, alts in enumerate(tops or []):
        if alts is not None and (not isinstance(alts, dict) or len(alts) > k + 1):
            yield f"logprobs={k} allows at most {k + 1} alternatives per position, position {j} has " \
                f"{len(alts) if isinstance(alts, dict) else shorten(alts)}", f"{path}.top_logprobs[{j}]", alts
            return
    if k > 0 and not any(isinstance(a, dict) and a for a in tops or []):
        yield f"logprobs={k} was requested but no position has any alternative", f"{path}.top_logprobs", "[]"


@rule(
    "COMPLETIONS-LOGPROBS",
    "semantics",
    "With logprobs k, every choice with text carries logprobs: tokens, token_logprobs (each <= 0) and, where "
    "sent, text_offset and top_logprobs of the same length, with at most k+1 alternatives per position (and "
    "some alternatives somewhere when k > 0). The tokens should spell the text (a warning).",
    f'{REQ}/content/application~1json/schema/properties/logprobs: "the API will return a list of the 5 most likely '
    'tokens. The API will always return the logprob of the sampled token, so there may be up to logprobs+1 '
    'elements in the response"',
    applies=_logprobs_asked,
    api="azure-openai",
)
def check_logprobs(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = answer(ex)
    assert doc is not None
    req = request_json(ex)
    k = req["logprobs"]
    for i, ch in _choices(doc):
        text = ch.get("text")
        if not isinstance(text, str) or not text or ch.get("finish_reason") == "content_filter":
            continue
        lp = ch.get("logprobs")
        path = f"$.choices[{i}].logprobs"
        if not isinstance(lp, dict):
            yield Finding(f"logprobs={k} was requested but choice {i} has no log "
                          "probabilities", path=path, value=shorten(lp))
            continue
        problem = next(_shape_problems(lp, k, path), None)
        if problem is not None:
            message, where, value = problem
            yield Finding(message, path=where, value=shorten(value))
            continue
        spelled = "".join(lp["tokens"])
        if req.get("stop") is None and spelled != text:
            # Byte-level tokens may not spell text exactly one by one: a warning, never a violation.
            yield Finding(f"the {len(lp['tokens'])} tokens spell {shorten(spelled, 60)}, "
                          f"not the text {shorten(text, 60)}", path=f"{path}.tokens", value=shorten(spelled, 80),
                          level=Level.WARNING, variant="text-mismatch")
