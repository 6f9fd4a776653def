"""The prose constraints: each quotes its spec, holds both ways, and generation honours them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conformance.spec import available_versions, load_spec
from conformance.spec.prose import PROSE, constraints, prose_violations, repair


def _descriptions(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["description"]] if isinstance(node.get("description"), str) else []
        return found + [d for v in node.values() for d in _descriptions(v)]
    if isinstance(node, list):
        return [d for v in node for d in _descriptions(v)]
    return []


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("`", "")).strip()


@pytest.mark.parametrize("constraint", PROSE, ids=lambda c: c.id)
def test_every_constraint_quotes_its_spec(constraint) -> None:
    texts = " | ".join(
        _squash(d) for v in available_versions(constraint.api) for d in _descriptions(load_spec(constraint.api, v).raw)
    )
    for fragment in constraint.sentence.split(" ... "):
        assert _squash(fragment) in texts, f"{constraint.id}: {fragment!r} is not in the {constraint.api} specs"
    assert constraint.source and constraint.operations


CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # (api, operation, a body the prose allows, the same body broken)
    ("azure-openai", "ChatCompletions_Create", {"top_logprobs": 2, "logprobs": True}, {"top_logprobs": 2}),
    ("azure-openai", "embeddings_create", {"input": "x", "encoding_format": "base64"},
     {"input": "x", "encoding_format": "int8"}),
    ("azure-openai", "embeddings_create", {"input": ["x"]}, {"input": ""}),
    ("azure-openai", "embeddings_create", {"input": ["x"]}, {"input": None}),
    ("azure-openai", "Completions_Create", {"logprobs": 5}, {"logprobs": 6}),
    ("azure-openai", "Completions_Create", {"presence_penalty": -2}, {"presence_penalty": -2.5}),
    ("azure-openai", "Completions_Create", {"frequency_penalty": 2}, {"frequency_penalty": 3}),
    ("azure-openai", "Completions_Create", {"temperature": 2}, {"temperature": 2.1}),
    ("azure-openai", "Completions_Create", {"stop": ["a", "b", "c", "d"]}, {"stop": ["a", "b", "c", "d", "e"]}),
    ("azure-openai", "Completions_Create", {"best_of": 2, "n": 1}, {"best_of": 1, "n": 1}),
    ("azure-openai", "Completions_Create", {"best_of": 3}, {"best_of": 3, "stream": True}),
    ("azure-openai", "Completions_Create", {"prompt": ["a"]}, {"prompt": []}),
    ("model-inference", "getEmbeddings", {"input": ["a"]}, {"input": []}),
    ("model-inference", "getEmbeddings", {"input": ["a"]}, {"input": ["a", ""]}),
    ("model-inference", "getImageEmbeddings", {"input": [{"image": "data:image/png;base64,AA=="}]}, {"input": []}),
    ("model-inference", "getImageEmbeddings", {"input": [{"image": "data:image/png;base64,AA=="}]},
     {"input": [{"image": "https://example.com/a.png"}]}),
    ("model-inference", "getChatCompletions",
     {"user_security_context": {"end_user_id": "1c9dcccb-bef5-4102-911a-0c392614097d", "source_ip": "::1"}},
     {"user_security_context": {"end_user_id": "x" * 36}}),
    ("model-inference", "getChatCompletions", {"user_security_context": {"source_ip": "10.0.0.1"}},
     {"user_security_context": {"source_ip": "10.0.0.256"}}),
]


@pytest.mark.parametrize(("api", "op", "good", "bad"), CASES)
def test_each_constraint_both_ways(api: str, op: str, good: dict, bad: dict) -> None:
    assert prose_violations(api, op, good) == []
    [why] = prose_violations(api, op, bad)
    assert why.split(":")[0] in {c.id for c in constraints(api, op)}


def test_constraints_belong_to_their_api_and_operation() -> None:
    # Model Inference has the wider encoding formats; only Azure OpenAI limits them to float and base64.
    assert prose_violations("model-inference", "getEmbeddings", {"input": ["a"], "encoding_format": "int8"}) == []
    assert prose_violations("azure-openai", "Completions_Create", {"top_logprobs": 2}) == []
    assert prose_violations("azure-openai", "embeddings_create", ["not", "a", "dict"]) == []


def test_repair_sets_what_a_relation_requires() -> None:
    body = {"top_logprobs": 3, "logprobs": False}
    assert repair("azure-openai", "ChatCompletions_Create", body) is body and body["logprobs"] is True
    assert prose_violations("azure-openai", "ChatCompletions_Create", body) == []
    untouched = {"logprobs": False}
    assert repair("azure-openai", "ChatCompletions_Create", untouched) == {"logprobs": False}


def test_every_constraint_is_listed_in_the_behaviours_document() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "behaviours.md").read_text(encoding="utf-8")
    missing = [c.id for c in PROSE if c.id not in doc]
    assert not missing, f"constraints without their docs/behaviours.md entry: {missing}"
