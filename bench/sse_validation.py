"""SSE parsing and stream validation throughput on a synthetic 100,000-chunk chat stream.

The stream is `data: <StreamingChatCompletionsUpdate>\\n\\n` x N then `data: [DONE]\\n\\n`, fed to
`SSEParser` in 64 KB pieces (as the client reads it), then judged by `judge_exchange` (every
exchange rule, including the per-chunk schema rule and the streaming rules). Memory is measured
with tracemalloc in a separate pass (it slows Python down several times). Goal: >= 100,000
chunks/s for parsing + validation, and flat parser memory when events are not kept.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Row, main_wrapper  # noqa: E402

API, VERSION, OPERATION = "model-inference", "2025-04-01", "getChatCompletions"
PIECE = 64 * 1024
GOAL_CHUNKS_PER_S = 100_000
WORDS = ("alpha ", "beta ", "gamma ", "delta ", "epsilon ")


def synthetic_stream(n: int) -> bytes:
    """n valid chunks: role first, content pieces, finish_reason and usage last, then [DONE]."""
    base = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "bench-model"}
    out = []
    for i in range(n):
        delta: dict = {"content": WORDS[i % len(WORDS)]}
        if i == 0:
            delta = {"role": "assistant", "content": ""}
        choice = {"index": 0, "delta": delta, "finish_reason": "stop" if i == n - 1 else None}
        doc = {**base, "choices": [choice]}
        if i == n - 1:
            doc["usage"] = {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": n + 5}
        out.append(b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def parse(raw: bytes, *, keep: bool = True):  # -> StreamTranscript
    """Feed in 64 KB pieces. keep=False drops delivered events (no public option for that exists;
    clearing the list the `events` property returns shows what the parser itself holds)."""
    from conformance.transport.sse import SSEParser

    parser = SSEParser()
    for start in range(0, len(raw), PIECE):
        parser.feed(raw[start:start + PIECE])
        if not keep:
            parser.events.clear()
    return parser.close()


def exchange_for(transcript, raw: bytes):  # -> Exchange
    from conformance.transport.exchange import Exchange, RecordedRequest, RecordedResponse

    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
    request = RecordedRequest("POST", f"http://127.0.0.1/models/chat/completions?api-version={VERSION}",
                              {"content-type": "application/json"}, json.dumps(body).encode(), body)
    response = RecordedResponse(200, {"content-type": "text/event-stream"}, raw, stream=transcript)
    return Exchange(request=request, response=response, operation_id=OPERATION, purpose="bench")


def judge(transcript, raw: bytes) -> list:
    from conformance.rules._model import RuleContext
    from conformance.rules.judge import judge_exchange
    from conformance.spec import load_spec

    spec = load_spec(API, VERSION)
    return judge_exchange(RuleContext(spec=spec, api=API, api_version=VERSION), exchange_for(transcript, raw))


def schema_only(transcript) -> int:
    """Every chunk through the stream-chunk schema, nothing else (the per-chunk jsonschema cost)."""
    from conformance.spec import load_spec

    spec = load_spec(API, VERSION)
    issues = 0
    for ev in transcript.events:
        if ev.data and ev.data != "[DONE]":
            issues += len(spec.validate_stream_chunk(OPERATION, json.loads(ev.data)))
    return issues


def peak_kib(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()


def profile_top(fn, n: int = 8) -> list[str]:
    prof = cProfile.Profile()
    prof.runcall(fn)
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:n]  # by own time
    total = sum(v[2] for v in stats.stats.values())
    return [f"{Path(k[0]).name}:{k[1]}({k[2]}) {100 * v[2] / total:.0f}%" for k, v in rows]


def measure() -> list[Row]:
    n = 100_000
    raw = synthetic_stream(n)
    judge(parse(synthetic_stream(3)), synthetic_stream(3))  # compile validators, import rules (not timed)
    t0 = time.perf_counter()
    transcript = parse(raw)
    t_parse = time.perf_counter() - t0
    t0 = time.perf_counter()
    findings = judge(transcript, raw)
    t_judge = time.perf_counter() - t0
    t0 = time.perf_counter()
    schema_issues = schema_only(transcript)
    t_schema = time.perf_counter() - t0
    real = [f for f in findings if f.level.value != "note"]
    total = n / (t_parse + t_judge)
    small = synthetic_stream(10_000)
    mem = {
        "keep 10k": peak_kib(lambda: parse(small)),
        "keep 100k": peak_kib(lambda: parse(raw)),
        "drop 10k": peak_kib(lambda: parse(small, keep=False)),
        "drop 100k": peak_kib(lambda: parse(raw, keep=False)),
    }
    top = profile_top(lambda: judge(parse(small), small))
    from conformance.rules.assemble import assemble_chat_stream

    small_ts = parse(small)
    t0 = time.perf_counter()
    assemble_chat_stream(small_ts)
    t_asm_small = time.perf_counter() - t0
    t0 = time.perf_counter()
    assemble_chat_stream(transcript)
    t_asm = time.perf_counter() - t0
    b = "SSE validation"
    return [
        Row(b, "stream", f"{n} chunks, {len(raw) / 1e6:.1f} MB, 64 KB pieces"),
        Row(b, "findings on the valid stream (not notes) / chunk schema issues", f"{len(real)} / {schema_issues}",
            "0 / 0", not real and not schema_issues),
        Row(b, "parse only: s / chunks/s", f"{t_parse:.2f} / {n / t_parse:,.0f}"),
        Row(b, "judge_exchange (all rules): s / chunks/s", f"{t_judge:.2f} / {n / t_judge:,.0f}"),
        Row(b, "of which chunk schema alone (json.loads + jsonschema): s / chunks/s",
            f"{t_schema:.2f} / {n / t_schema:,.0f}"),
        Row(b, "parse + validation: chunks/s", f"{total:,.0f}", f">= {GOAL_CHUNKS_PER_S:,}", total >= GOAL_CHUNKS_PER_S),
        Row(b, "peak KiB, events kept: 10k / 100k", f"{mem['keep 10k']:,.0f} / {mem['keep 100k']:,.0f}"),
        Row(b, "peak KiB, events dropped as delivered: 10k / 100k",
            f"{mem['drop 10k']:,.0f} / {mem['drop 100k']:,.0f}", "flat",
            mem["drop 100k"] < 2 * mem["drop 10k"] + 256),
        Row(b, "assemble_chat_stream once: 10k / 100k chunks, s (linear: 10x)",
            f"{t_asm_small:.3f} / {t_asm:.3f} ({t_asm / t_asm_small:.0f}x)", "<= 15x", t_asm <= 15 * t_asm_small),
        Row(b, "top own-time (cProfile, 10k chunks parse+judge)", "; ".join(top[:5])),
    ]


if __name__ == "__main__":
    sys.exit(main_wrapper("SSE parsing + stream validation (100,000 chunks)", measure))
