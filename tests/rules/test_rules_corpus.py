"""No false alarms on real traffic: every recorded exchange of /work/shared/corpus, judged in the azure
profile, yields no violation except the named true deviations below; in strict, the errata fire.

How the corpus is judged fairly: paths under /openai/ are Azure OpenAI and are judged against the
vendored AOAI 2024-04-01-preview spec, whatever api-version they used (2023-07-01-preview ...
2024-12-01-preview, and the unversioned /openai/v1/ route, mapped to the same operations). That is
fair because AOAI schemas leave additionalProperties open, so fields added by newer versions
(refusal, annotations, completion_tokens_details, ...) are allowed; only documented fields are held
to their documented types. Everything else is model inference (2025-04-01).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from conformance.rules._model import Finding, Level, RuleContext
from conformance.rules.judge import judge_exchange
from conformance.rules.profiles import apply_profile
from conformance.spec import load_spec
from conformance.traffic import detect_api, match_operation, read_traffic
from conformance.transport.exchange import Exchange
from tests.paths import SHARED, shared

CORPUS = SHARED / "corpus"
FILES = sorted(CORPUS.glob("*.json")) if CORPUS.is_dir() else []

#: Real responses that do deviate, by (file, rule): why the finding is right.
TRUE_DEVIATIONS: dict[tuple[str, str], str] = {
    **{
        (f"openllmetry-{n}.json", "ERROR-CONTENT-TYPE"): "the recording kept no response headers at all, so "
        "the 404 has no Content-Type as far as anyone can tell (recorder artefact, reported as it is seen)"
        for n in (26, 27, 28)
    },
    **{
        (f"mirascope-{n}.json", "CHAT-JSON-SCHEMA"): "gpt-5-mini under strict json_schema streamed the JSON "
        "object two or three times in one content, so the content is not one JSON document (a real defect)"
        for n in (168, 198)
    },
}



def test_corpus_is_present() -> None:
    assert len(list(shared("corpus").glob("*.json"))) > 100



def load(file: Path) -> tuple[RuleContext, Exchange]:
    """One recorded exchange, read and matched by the production reader (conformance.traffic)."""
    (ex,) = list(read_traffic([file]))
    api = detect_api(ex)
    spec = load_spec(api)
    match_operation(ex, spec)
    ex.source = file.name
    return RuleContext(spec=spec, api=api, api_version=spec.version), ex


def judged(file: Path, profile: str) -> list[Finding]:
    ctx, ex = load(file)
    return apply_profile(judge_exchange(ctx, ex, raise_errors=True), profile, ctx.api)


def test_every_corpus_exchange_maps_to_an_operation() -> None:
    unmapped = [f.name for f in FILES if load(f)[1].operation_id is None]
    assert unmapped == []


def test_no_false_alarms_in_azure_profile() -> None:
    unexpected: list[str] = []
    seen_expected: set[tuple[str, str]] = set()
    warnings: Counter[str] = Counter()
    for file in FILES:
        for f in judged(file, "azure"):
            if f.level == Level.WARNING:
                warnings[f"{f.rule_id} [{(f.erratum or '').split(':')[0] or 'rule level'}]"] += 1
            if f.level != Level.VIOLATION:
                continue
            if (file.name, f.rule_id) in TRUE_DEVIATIONS:
                seen_expected.add((file.name, f.rule_id))
                continue
            unexpected.append(f"{file.name}: {f.rule_id} at {f.path} = {f.value}: {f.message}")
    print("\nwarnings per rule (erratum) on the corpus, azure profile:")
    for key, n in sorted(warnings.items()):
        print(f"  {n:5d}  {key}")
    assert unexpected == [], "\n".join(unexpected[:40])
    assert seen_expected == set(TRUE_DEVIATIONS), "a named true deviation no longer shows"


def test_strict_profile_shows_the_errata() -> None:
    strict: Counter[str] = Counter()
    for file in FILES:
        for f in judged(file, "strict"):
            if f.level == Level.VIOLATION:
                strict[f.rule_id] += 1
    print("\nviolations per rule on the corpus, strict profile:", dict(sorted(strict.items())))
    # Every recorded Azure OpenAI stream opens with the prompt-filter chunk (empty id, no choices).
    assert strict["STREAM-SAME-ID"] > 0
    assert strict["CHAT-TOOL-CALLS"] > 0  # forced named tool calls finish with "stop"


def test_model_inference_view_of_real_chat_answers() -> None:
    """Foundry serves these OpenAI models on the model-inference route too, with the same bodies and chunks:
    judged against the model-inference schemas they need exactly the errata, and strict shows them."""
    spec = load_spec("model-inference")
    ctx = RuleContext(spec=spec, api="model-inference", api_version=spec.version)
    azure: list[str] = []
    strict: Counter[str] = Counter()
    for file in FILES:
        _, ex = load(file)
        if ex.operation_id != "ChatCompletions_Create" or ex.response is None or ex.response.status != 200:
            continue
        ex.operation_id = "getChatCompletions"
        found = judge_exchange(ctx, ex, raise_errors=True)
        for f in apply_profile([_copy(f) for f in found], "azure", ctx.api):
            if f.level == Level.VIOLATION and f.rule_id in ("SCHEMA-RESPONSE", "STREAM-CHUNK-SCHEMA"):
                azure.append(f"{file.name}: {f.rule_id} at {f.path} = {f.value}")
        for f in apply_profile(found, "strict", ctx.api):
            if f.level == Level.VIOLATION:
                strict[f"{f.rule_id} {f.path.split('$', 1)[-1]}"] += 1
    assert azure == [], "\n".join(azure[:20])
    print("\nmodel-inference view, strict violations:", dict(sorted(strict.items())))
    assert strict["STREAM-CHUNK-SCHEMA .object"] > 0  # E-STREAM-OBJECT-CHUNK fires in strict
    assert strict["SCHEMA-RESPONSE .usage.completion_tokens_details"] > 0  # E-USAGE-DETAILS-NO-TOTAL-BODY


def _copy(f: Finding) -> Finding:
    from dataclasses import replace

    return replace(f)
