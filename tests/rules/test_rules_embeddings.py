"""Embeddings rules, each both ways (float, base64 and integer formats)."""

from __future__ import annotations

import base64
import struct
from typing import Any

from conformance.rules._model import Level
from tests.rules.helpers import applied, exchange, judge, of


def result(*vectors: Any, usage: tuple[int, int] = (3, 3)) -> dict[str, Any]:
    return {
        "id": "e1", "object": "list", "model": "m",
        "data": [{"index": i, "object": "embedding", "embedding": v} for i, v in enumerate(vectors)],
        "usage": {"prompt_tokens": usage[0], "total_tokens": usage[1]},
    }


def b64(*values: float) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def ex(request: dict[str, Any], body: dict[str, Any], op: str = "getEmbeddings"):  # type: ignore[no-untyped-def]
    return exchange(op, request, body=body, path="/embeddings")


def test_conformant_answers_are_clean() -> None:
    e = ex({"input": ["a", "b"]}, result([0.1, 0.2], [0.3, 0.4]))
    assert judge(e) == []
    assert {"EMB-COUNT", "EMB-INDEX", "EMB-VECTOR-LENGTH", "EMB-FINITE", "EMB-USAGE"} <= set(applied(e))
    assert not {"EMB-DIMENSIONS", "EMB-BASE64", "EMB-INT-FORMATS"} & set(applied(e))
    based = judge(ex({"input": "a", "encoding_format": "base64", "dimensions": 2}, result(b64(0.1, 0.2))),
                  profile="azure")
    # The spec's own prose allows the string: a note in every profile, never a warning or violation.
    assert [(f.rule_id, f.level, f.variant) for f in based] == [("SCHEMA-RESPONSE", Level.NOTE, "base64-embedding")]
    strict = judge(ex({"input": "a", "encoding_format": "base64", "dimensions": 2}, result(b64(0.1, 0.2))),
                   profile="strict")
    assert [f.level for f in strict] == [Level.NOTE]
    assert judge(ex({"input": "a", "encoding_format": "int8", "dimensions": 2}, result([-128, 127]))) == []
    assert judge(ex({"input": "a", "encoding_format": "ubinary", "dimensions": 9}, result([255, 1]))) == []


def test_count() -> None:
    [f] = of(judge(ex({"input": ["a", "b"]}, result([0.1]))), "EMB-COUNT")
    assert f.path == "$.data" and f.value == "1" and "2 input(s)" in f.message
    assert of(judge(ex({"input": "a"}, result([0.1]))), "EMB-COUNT") == []
    assert of(judge(ex({"input": [1, 2, 3]}, result([0.1]))), "EMB-COUNT") == []  # token ids: one input


def test_index() -> None:
    body = result([0.1], [0.2])
    body["data"][1]["index"] = 0
    [f] = of(judge(ex({"input": ["a", "b"]}, body)), "EMB-INDEX")
    assert f.path == "$.data[*].index" and f.value == "[0, 0]" and "0..1" in f.message


def test_vector_length() -> None:
    [f] = of(judge(ex({"input": ["a", "b"]}, result([0.1, 0.2], [0.3]))), "EMB-VECTOR-LENGTH")
    assert f.path == "$.data[1].embedding" and f.value == "1" and "embedding 0 has 2" in f.message


def test_finite() -> None:
    nan_body = b'{"data": [{"index": 0, "object": "embedding", "embedding": [0.1, NaN]}], "usage": {}}'
    e = exchange("getEmbeddings", {"input": "a"}, raw=nan_body, path="/embeddings")
    [f] = of(judge(e), "EMB-FINITE")
    assert f.path == "$.data[0].embedding[1]" and f.value == "NaN" and "finite" in f.message
    [s] = of(judge(ex({"input": "a"}, result([0.1, "0.2"]))), "EMB-FINITE")
    assert s.value == '"0.2"'
    [inf] = of(judge(ex({"input": "a", "encoding_format": "base64"}, result(b64(0.1, float("inf"))))), "EMB-FINITE")
    assert inf.path == "$.data[0].embedding[1]"


def test_dimensions() -> None:
    [f] = of(judge(ex({"input": "a", "dimensions": 3}, result([0.1, 0.2]))), "EMB-DIMENSIONS")
    assert f.path == "$.data[0].embedding" and f.value == "2" and "dimensions=3" in f.message


def test_base64() -> None:
    req = {"input": "a", "encoding_format": "base64", "dimensions": 3}
    [arr] = of(judge(ex(req, result([0.1, 0.2, 0.3]))), "EMB-BASE64")
    assert arr.path == "$.data[0].embedding" and "list" in arr.message
    [short] = of(judge(ex(req, result(b64(0.1, 0.2)))), "EMB-BASE64")
    assert short.value == "2" and "dimensions=3" in short.message
    [odd] = of(judge(ex({"input": "a", "encoding_format": "base64"}, result(base64.b64encode(b"abcde").decode()))),
               "EMB-BASE64")
    assert odd.value == "5" and "float32" in odd.message
    [bad] = of(judge(ex({"input": "a", "encoding_format": "base64"}, result("not base64!"))), "EMB-BASE64")
    assert "not valid base64" in bad.message


def test_aoai_base64_string_is_a_note_for_the_schema_and_judged_by_emb_base64() -> None:
    e = exchange("embeddings_create", {"input": "a", "encoding_format": "base64"},
                 body={"object": "list", "model": "m", "data": [{"index": 0, "object": "embedding",
                                                                 "embedding": b64(0.5, 0.25)}],
                       "usage": {"prompt_tokens": 1, "total_tokens": 1}}, api="azure-openai", path="/embeddings")
    found = judge(e, api="azure-openai", profile="azure")
    assert [f for f in found if f.level == Level.VIOLATION] == []
    assert [(f.level, f.variant) for f in of(found, "SCHEMA-RESPONSE")] == [(Level.NOTE, "base64-embedding")]


def test_int_formats() -> None:
    [f] = of(judge(ex({"input": "a", "encoding_format": "int8"}, result([-129, 3]))), "EMB-INT-FORMATS")
    assert f.path == "$.data[0].embedding[0]" and f.value == "-129" and "-128..127" in f.message
    [u] = of(judge(ex({"input": "a", "encoding_format": "uint8"}, result([0.5]))), "EMB-INT-FORMATS")
    assert u.value == "0.5"
    [p] = of(judge(ex({"input": "a", "encoding_format": "binary", "dimensions": 16}, result([1, 2, 3]))),
             "EMB-INT-FORMATS")
    assert p.path == "$.data[0].embedding" and p.value == "3" and "needs 2 values" in p.message


def test_a_non_string_embedding_is_not_covered_by_the_base64_erratum() -> None:
    found = judge(ex({"input": "a", "encoding_format": "base64"}, result({"v": 1})), profile="azure")
    [f] = of(found, "SCHEMA-RESPONSE")
    assert f.level == Level.VIOLATION and f.variant is None and f.path == "$.data[0].embedding"


def test_usage() -> None:
    [f] = of(judge(ex({"input": "a"}, result([0.1], usage=(5, 3)))), "EMB-USAGE")
    assert f.path == "$.usage.total_tokens" and f.value == "3" and "less than" in f.message
