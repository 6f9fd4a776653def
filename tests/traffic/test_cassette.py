"""vcrpy cassettes are a fourth input of validate-traffic: recorded here by vcrpy itself (the dev extra)
from real exchanges with the reference, in the forms its stubs write (gzip kept as `!!binary`, decoded
bodies under a stale Content-Encoding, streams, JSON serializer), and judged by the same rules."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conformance.reference import running_reference
from conformance.runner.offline import validate_traffic
from conformance.traffic import read_traffic
from conformance.traffic.cassette import load_yaml
from tests.paths import DATA

vcr = pytest.importorskip("vcr", reason="vcrpy is in the dev extra")

CHAT = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}


def _record(cassette: Path, faults: tuple[str, ...] = (), serializer: str = "yaml") -> None:
    """A chat, a streamed chat and an embeddings request, recorded by vcrpy around a plain httpx client."""
    with running_reference(faults=faults) as ref:
        target = ref.target("model-inference")
        models = target["models"]
        base = ref.endpoint("model-inference")
        recorder = vcr.VCR(serializer=serializer, filter_headers=["api-key", "authorization"], record_mode="all")
        with recorder.use_cassette(str(cassette)), httpx.Client(headers={"api-key": ref.api_key}) as client:
            params = {"api-version": "2025-04-01"}
            client.post(f"{base}/chat/completions", params=params, json={**CHAT, "model": models["chat"]})
            with client.stream("POST", f"{base}/chat/completions", params=params,
                               json={**CHAT, "model": models["chat"], "stream": True}) as streamed:
                streamed.read()
            client.post(f"{base}/embeddings", params=params, json={"input": ["hi"], "model": models["embeddings"]})


def test_a_vcrpy_cassette_of_a_conformant_service_is_conformant(tmp_path: Path) -> None:
    cassette = tmp_path / "cassettes" / "test_chat.yaml"
    _record(cassette)
    doc = yaml.safe_load(cassette.read_text(encoding="utf-8"))
    assert [i["response"]["status"]["code"] for i in doc["interactions"]] == [200, 200, 200]
    errors: list[Any] = []
    exchanges = list(read_traffic([tmp_path], errors))
    assert not errors and len(exchanges) == 3
    assert exchanges[1].response.stream is not None and exchanges[1].response.stream.events
    assert all("api-key" not in ex.request.headers for ex in exchanges)
    results, code = validate_traffic([tmp_path], report_dir=tmp_path / "out")
    assert code == 0, [r.findings for r in results.results if r.outcome == "violation"]
    assert results.capabilities["traffic"]["judged"] == 3


def test_a_faulted_service_fails_its_rule_from_the_cassette(tmp_path: Path) -> None:
    _record(tmp_path / "faulted.yaml", faults=("chat-missing-id",))
    results, code = validate_traffic([tmp_path / "faulted.yaml"], report_dir=tmp_path / "out")
    assert code == 1
    failing = {(r.rule_id, r.operation_id) for r in results.results if r.outcome == "violation"}
    assert ("SCHEMA-RESPONSE", "getChatCompletions") in failing


def test_compressed_bodies_the_way_each_vcrpy_stub_keeps_them(tmp_path: Path) -> None:
    """httpx keeps the gzip bytes (`!!binary`); requests keeps them decoded under the same header."""
    _record(tmp_path / "plain.yaml")
    doc = load_yaml((tmp_path / "plain.yaml").read_bytes())
    first = doc["interactions"][0]
    body = first["response"]["body"]["string"]
    text = body.decode() if isinstance(body, bytes) else body
    raw_gzip = {**first, "response": {**first["response"], "body": {"string": gzip.compress(text.encode())},
                                      "headers": {**first["response"]["headers"], "content-encoding": ["gzip"]}}}
    decoded = {**raw_gzip, "response": {**raw_gzip["response"], "body": {"string": text}}}
    b64 = {**first, "response": {**first["response"], "body": {"base64_string": __import__("base64").b64encode(
        text.encode()).decode()}}}
    (tmp_path / "forms.yml").write_text(yaml.dump({"version": 1, "interactions": [raw_gzip, decoded, b64]}),
                                        encoding="utf-8")
    assert "!!binary" in (tmp_path / "forms.yml").read_text(encoding="utf-8")
    errors: list[Any] = []
    exchanges = list(read_traffic([tmp_path / "forms.yml"], errors))
    assert not errors
    assert [json.loads(ex.response.body)["id"] for ex in exchanges] == [json.loads(text)["id"]] * 3


def test_json_serializer_cassettes_are_read_too(tmp_path: Path) -> None:
    _record(tmp_path / "c.json", serializer="json")
    results, code = validate_traffic([tmp_path / "c.json"], report_dir=tmp_path / "out")
    assert code == 0 and results.capabilities["traffic"]["judged"] == 3


def test_broken_and_foreign_yaml_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "target.yaml").write_text("endpoint: https://example.invalid\n", encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("interactions: [\n", encoding="utf-8")
    (tmp_path / "evil.yaml").write_text("interactions:\n- !!python/object/apply:os.system ['true']\n",
                                        encoding="utf-8")
    (tmp_path / "gz.yaml").write_text(yaml.dump({"interactions": [{
        "request": {"method": "GET", "uri": "https://x.invalid/models/info", "body": None, "headers": {}},
        "response": {"status": {"code": 200}, "headers": {"content-encoding": ["gzip"]},
                     "body": {"string": b"\x1f\x8bnot really gzip"}}}]}), encoding="utf-8")
    errors: list[Any] = []
    assert list(read_traffic([tmp_path], errors)) == []
    by_file = {e.file: e for e in errors}
    assert by_file["target.yaml"].kind == "skipped" and "not a vcrpy cassette" in by_file["target.yaml"].message
    assert "not valid YAML" in by_file["bad.yaml"].message
    assert "not valid YAML" in by_file["evil.yaml"].message  # no Python object is ever built
    assert "does not decode" in by_file["gz.yaml"].message


def test_the_committed_cassette_fixture_is_conformant(tmp_path: Path) -> None:
    """tests/data/traffic/vcr-cassette.yaml: recorded by vcrpy from the reference (CI replays it from a wheel)."""
    results, code = validate_traffic([DATA / "traffic" / "vcr-cassette.yaml"], report_dir=tmp_path / "out")
    assert code == 0 and results.capabilities["traffic"]["judged"] >= 3
