"""The official clients as judges, end to end against the reference: every call works unfaulted, each
named fault is caught with the client's own error, and without the clients the family is not judged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

CLIENT_RULES = {"CLIENT-CALL", "CLIENT-FIELDS", "CLIENT-STREAM"}

#: A sitecustomize that makes both clients unimportable, as on an install without the extra.
NO_CLIENTS = '''
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "openai" or name.startswith(("openai.", "azure.ai.inference")):
            raise ImportError(f"{name} is not installed (simulated)")
        return None
sys.meta_path.insert(0, _Block())
'''

RUNS = {
    "mi": ("model-inference", ()),
    "aoai": ("azure-openai", ()),
    "mi-faults": ("model-inference", ("stream-sse-comments", "created-milliseconds", "info-missing-model-name")),
    "aoai-faults": ("azure-openai", ("stream-tool-name-repeated", "chat-missing-id")),
    "aoai-no-delta": ("azure-openai", ("stream-finish-no-delta",)),
    "mi-no-clients": ("model-inference", ()),
}


def _run(work: Path, name: str) -> dict:
    api, faults = RUNS[name]
    report = work / name
    report.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    if name.endswith("no-clients"):
        (report / "sitecustomize.py").write_text(NO_CLIENTS, encoding="utf-8")
        env["PYTHONPATH"] = os.pathsep.join([str(report), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    args = ["run", "--api", api, "--report-dir", str(report), "-k", "official_client", "-p", "no:cacheprovider"]
    for fault in faults:
        args += ["--fault", fault]
    proc = subprocess.run([sys.executable, "-m", "conformance.cli", *args], capture_output=True, text=True,
                          timeout=180, env=env, cwd=report)
    results = report / "results.json"
    assert results.exists(), f"{name}: no results.json (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return json.loads(results.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("clients")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_run, work, name) for name in RUNS}
        return {name: f.result() for name, f in futures.items()}


def _calls(data: dict) -> dict[str, dict]:
    return {c["call"]: c for c in data["clients"]}


def _client_findings(data: dict) -> list[dict]:
    return [f for r in data["results"] if r["rule_id"] in CLIENT_RULES for f in r["findings"]]


@pytest.mark.parametrize(("name", "calls"), [
    ("mi", {"ChatCompletionsClient.complete()", "ChatCompletionsClient.complete(stream=True)",
            "ChatCompletionsClient.complete(tools=[...])", "ChatCompletionsClient.complete(stream=True, tools=[...])",
            "ChatCompletionsClient.get_model_info()", "EmbeddingsClient.embed()", "ImageEmbeddingsClient.embed()"}),
    ("aoai", {"chat.completions.create()", "chat.completions.create(stream=True)", "chat.completions.create(tools=[...])",
              "chat.completions.create(stream=True, tools=[...])", "completions.create()",
              "embeddings.create(encoding_format='float')", "embeddings.create()  # base64, decoded"}),
])
def test_every_call_works_against_the_reference(runs: dict[str, dict], name: str, calls: set[str]) -> None:
    data = runs[name]
    table = _calls(data)
    assert set(table) == calls
    assert {c["outcome"] for c in table.values()} == {"works"}, table
    assert all(c["version"] for c in table.values())
    assert not _client_findings(data)
    outcomes = {r["outcome"] for r in data["results"] if r["rule_id"] in CLIENT_RULES}
    assert outcomes == {"pass"}, outcomes
    assert {r["rule_id"] for r in data["results"] if r["outcome"] == "pass"} >= CLIENT_RULES


def test_the_clients_requests_go_through_the_suites_client(runs: dict[str, dict]) -> None:
    data = runs["mi"]
    for call in data["clients"]:
        ex = data["exchanges"][call["exchange"]]
        headers = {k.lower(): v for k, v in ex["request"]["headers"].items()}
        assert headers["user-agent"].startswith("azsdk-python-ai-inference"), headers
        assert "placeholder" not in json.dumps(ex), "the client's placeholder credential was sent"
        assert "$CONFORMANCE_API_KEY" in ex["curl"]


@pytest.mark.parametrize(("name", "expected"), [
    ("mi-faults", {
        "ChatCompletionsClient.complete(stream=True)": "ValueError: SSE event not supported (line `b': keep-alive",
        "ChatCompletionsClient.complete()": "ChatCompletions.created is the raw wire value",
        "ChatCompletionsClient.get_model_info()": "ModelInfo.model_name is None: the client declares it required",
    }),
    ("aoai-faults", {
        "chat.completions.create(stream=True, tools=[...])": 'accumulates to the name "get_weatherget_weather"',
        "chat.completions.create()": "ChatCompletion.id is None: the client declares it required",
    }),
    ("aoai-no-delta", {"chat.completions.create(stream=True)": "AttributeError: 'NoneType' object has no attribute 'to_dict'"}),
])
def test_each_fault_is_caught_with_the_clients_error(runs: dict[str, dict], name: str, expected: dict[str, str]) -> None:
    data = runs[name]
    table = _calls(data)
    messages = [f["message"] for f in _client_findings(data)]
    for call, text in expected.items():
        assert table[call]["outcome"] == "fails" and text in table[call]["why"], table[call]
        assert any(call in m and text in m for m in messages), messages
        assert table[call]["exchange"] in data["exchanges"]
    for f in _client_findings(data):
        assert f["level"] == "warning" and f["exchange"] in data["exchanges"]
        client = "azure-ai-inference" if name.startswith("mi") else "openai"
        assert f["message"].startswith(client + " "), f["message"]


def test_without_the_clients_the_family_is_not_judged(runs: dict[str, dict]) -> None:
    data = runs["mi-no-clients"]
    results = [r for r in data["results"] if r["rule_id"] in CLIENT_RULES]
    assert results and {r["outcome"] for r in results} == {"not_judged"}
    assert all("install the clients extra" in r["reason"] for r in results)
    table = data["clients"]
    assert table and {c["outcome"] for c in table} == {"not judged"}
    assert {c["client"] for c in table} == {"azure-ai-inference"}
