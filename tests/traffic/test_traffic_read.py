"""Reading recorded traffic: every supported format, the recorded corpus, broken input, redaction."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from conformance.spec import load_spec
from conformance.traffic.read import (
    MAX_BODY,
    TrafficError,
    detect_api,
    dump_exchange,
    match_operation,
    read_traffic,
)
from conformance.transport.curl import to_curl
from conformance.transport.exchange import NO_JSON, Exchange, RecordedRequest
from conformance.transport.redact import REDACTED
from tests.paths import DATA as _DATA
from tests.paths import shared

DATA = _DATA / "traffic"
SECRETS = (
    "har-secret-key-0001",
    "har-secret-token-0002",
    "query-secret-0003",
    "json-secret-0004",
    "proxy-secret-0005",
)


def read(*names: str) -> tuple[list[Exchange], list[TrafficError]]:
    errors: list[TrafficError] = []
    return list(read_traffic([DATA / n for n in names], errors)), errors


def test_har_json_base64_and_sse_entries() -> None:
    exchanges, errors = read("sample.har")
    by_source = {x.source: x for x in exchanges}
    plain = by_source["sample.har#entries[0]"]
    assert plain.request.method == "POST"
    assert plain.request.url == (
        "https://example-resource.services.ai.azure.com/models/chat/completions?api-version=2025-04-01"
    )
    assert plain.request.json["messages"][0]["content"] == "Say hi"
    assert plain.response.status == 200
    assert plain.response.json["choices"][0]["message"]["content"] == "Hi!"  # decoded from base64

    stream = by_source["sample.har#entries[1]"].response.stream
    assert stream is not None
    assert [e.data for e in stream.events][-1] == "[DONE]"
    assert json.loads(stream.events[1].data)["choices"][0]["delta"]["content"] == "Hi"

    aborted = by_source["sample.har#entries[4]"]
    assert aborted.response is None and aborted.error == "net::ERR_ABORTED"

    problems = {e.entry: e for e in errors}
    assert (
        problems["entries[2]"].kind == "error"
        and "request must be an object" in problems["entries[2]"].message
    )
    assert (
        "HTTP status code" in problems["entries[3]"].message and '"teapot"' in problems["entries[3]"].message
    )
    # A streamed body the browser did not capture is skipped, never judged as an empty stream.
    assert problems["entries[5]"].kind == "skipped" and "not captured" in problems["entries[5]"].message
    assert str(problems["entries[2]"]).startswith("sample.har#entries[2]: ")


def test_simple_json_document_with_host_path_query_and_header_pairs() -> None:
    (exchange,), errors = read("info.json")
    assert errors == []
    assert exchange.source == "info.json"
    assert (
        exchange.request.url
        == "https://example-resource.services.ai.azure.com/models/info?api-version=2025-04-01"
    )
    assert exchange.request.body is None and exchange.request.json is NO_JSON
    assert exchange.response.json["model_name"] == "Phi-4"
    assert exchange.request.header("Accept") == "application/json"


def test_json_lines_with_string_bodies_sse_and_bad_lines() -> None:
    exchanges, errors = read("mixed.jsonl")
    assert [x.source for x in exchanges] == ["mixed.jsonl#line[1]", "mixed.jsonl#line[2]"]
    emb, chat = exchanges
    assert emb.response.json["data"][1]["index"] == 1  # a body given as a JSON string is parsed
    assert emb.request.json == {"input": ["a", "b"]}
    assert chat.response.stream is not None and chat.response.stream.events[-1].data == "[DONE]"
    assert chat.response.body.startswith(b"data: {")
    messages = {e.entry: e.message for e in errors}
    assert set(messages) == {"line[4]", "line[5]", "line[6]"}  # line 3 is blank and ignored
    assert messages["line[4]"].startswith("not valid JSON")
    assert "raw event-stream text" in messages["line[5]"]
    assert messages["line[6]"] == "no response and no error recorded"


def test_test_proxy_recording() -> None:
    exchanges, errors = read("test-proxy-recording.json")
    assert [x.source for x in exchanges] == [f"test-proxy-recording.json#Entries[{i}]" for i in range(3)]
    chat, stream, not_found = exchanges
    assert chat.request.json["max_tokens"] == 16
    assert chat.request.header("user-agent") == "azsdk-python-ai-inference/1.0.0b9, Python/3.11"
    assert chat.response.json["usage"]["total_tokens"] == 7
    assert stream.request.json["stream"] is True  # body recorded as a JSON string
    assert [e.data for e in stream.response.stream.events][-1] == "[DONE]"  # body recorded as line array
    assert len(stream.response.stream.data_events()) == 4
    assert not_found.response.status == 404 and not_found.response.body == b"NOT FOUND"  # base64, binary type
    assert [(e.entry, e.message) for e in errors] == [
        ("Entries[3]", "test-proxy entry without RequestMethod or RequestUri")
    ]


def test_credentials_in_recorded_headers_and_query_are_redacted() -> None:
    exchanges, _ = read("sample.har", "info.json", "test-proxy-recording.json")
    dumped = json.dumps([dump_exchange(x) for x in exchanges])
    for secret in SECRETS:
        assert secret not in dumped
    assert exchanges[0].request.headers["api-key"] == REDACTED
    assert exchanges[0].request.headers["authorization"] == REDACTED


def test_credentials_in_query_string_are_redacted(tmp_path: Path) -> None:
    record = {
        "request": {
            "method": "GET",
            "url": "https://h.example/models/info?api-version=2025-04-01&api-key=query-secret-0003",
        },
        "response": {"status": 200, "body": {}},
    }
    (tmp_path / "q.json").write_text(json.dumps(record))
    (exchange,) = read_traffic([tmp_path], [])
    assert "query-secret-0003" not in exchange.request.url
    assert exchange.request.query == {"api-version": "2025-04-01", "api-key": REDACTED}


def test_directories_are_walked_and_unreadable_files_reported(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "info.json").write_text((DATA / "info.json").read_text())
    (tmp_path / "broken.json").write_text((DATA / "broken.json").read_text())
    (tmp_path / "other.json").write_text('{"name": "package.json, not traffic"}')
    (tmp_path / "notes.txt").write_text("ignored: not a traffic suffix")
    errors: list[TrafficError] = []
    exchanges = list(read_traffic([tmp_path, tmp_path / "missing.har"], errors))
    assert [x.source for x in exchanges] == ["sub/info.json"]
    messages = {e.file: e.message for e in errors}
    assert messages["broken.json"].startswith("not valid JSON")
    assert messages["other.json"].startswith("not a traffic file")
    assert messages[str(tmp_path / "missing.har")] == "no such file or directory"


def test_json_lines_saved_as_json_and_special_files(tmp_path: Path) -> None:
    record = json.loads((DATA / "info.json").read_text())
    (tmp_path / "lines.json").write_text(json.dumps(record) + "\n" + json.dumps(record) + "\n")
    os.mkfifo(tmp_path / "pipe.json")  # would block forever if opened
    errors: list[TrafficError] = []
    exchanges = list(read_traffic([tmp_path, tmp_path / "pipe.json"], errors))
    assert [x.source for x in exchanges] == ["lines.json#line[1]", "lines.json#line[2]"]
    assert [(e.file, e.message) for e in errors] == [(str(tmp_path / "pipe.json"), "not a regular file or directory")]


def test_hostile_entries_are_reported_not_crashed(tmp_path: Path) -> None:
    deep = "[" * 100000 + "]" * 100000
    lines = [
        deep,
        json.dumps(
            {"request": {"method": "POST", "url": "https://h/x", "headers": 5}, "response": {"status": 200}}
        ),
        json.dumps(
            {
                "request": {"method": "POST", "url": "https://h/x", "headers": [["a"]]},
                "response": {"status": 200},
            }
        ),
        json.dumps(
            {
                "request": {"method": "POST", "url": "https://h/x", "body_base64": "@@@"},
                "response": {"status": 200},
            }
        ),
        json.dumps(
            {"request": {"method": "POST", "url": "https://h/x", "query": [1]}, "response": {"status": 200}}
        ),
        json.dumps({"request": {"method": "POST", "url": "https://h/x"}, "response": {"status": True}}),
        json.dumps(
            {
                "request": {"method": "POST", "url": "https://h/x"},
                "response": {"status": 200, "body": "\udc80"},
            }
        ),
        json.dumps([1, 2]),
    ]
    (tmp_path / "hostile.jsonl").write_text("\n".join(lines) + "\n")
    errors: list[TrafficError] = []
    exchanges = list(read_traffic([tmp_path / "hostile.jsonl"], errors))
    assert len(errors) + len(exchanges) == len(lines)
    assert all(e.file == "hostile.jsonl" and e.entry.startswith("line[") for e in errors)
    assert len(errors) >= 7


def test_oversized_bodies_are_skipped_with_a_note(tmp_path: Path) -> None:
    big = "x" * (MAX_BODY + 1)
    (tmp_path / "big.json").write_text(
        json.dumps(
            {
                "request": {"method": "POST", "url": "https://h/embeddings"},
                "response": {"status": 200, "body": big},
            }
        )
    )
    errors: list[TrafficError] = []
    assert list(read_traffic([tmp_path], errors)) == []
    (error,) = errors
    assert error.kind == "skipped" and "above the" in error.message and "not judged" in error.message


def test_dump_exchange_round_trips() -> None:
    originals, _ = read("sample.har", "mixed.jsonl", "test-proxy-recording.json")
    for original in originals:
        record = dump_exchange(original)
        json.dumps(record)  # plain JSON
        path_errors: list[TrafficError] = []
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / "one.jsonl"
            f.write_text(json.dumps(record) + "\n")
            (again,) = read_traffic([f], path_errors)
        assert path_errors == []
        assert again.request.method == original.request.method
        assert again.request.url == original.request.url
        assert again.request.json == original.request.json
        if original.response is None:
            assert again.response is None and again.error == original.error
            continue
        assert again.response.status == original.response.status
        assert again.response.json == original.response.json
        assert (again.response.stream is None) == (original.response.stream is None)
        if original.response.stream is not None:
            assert again.response.body == original.response.body


def test_detect_api_and_match_operation() -> None:
    exchanges, _ = read("sample.har", "info.json")
    chat, info = exchanges[0], exchanges[-1]
    assert detect_api(chat) == "model-inference"
    assert match_operation(chat, load_spec("model-inference")) == "getChatCompletions"
    assert chat.operation_id == "getChatCompletions"
    assert match_operation(info, load_spec("model-inference")) == "getModelInfo"
    assert match_operation(info, load_spec("azure-openai")) is None and info.operation_id is None


def test_every_corpus_file_reads_and_matches_or_is_reported_unmatched() -> None:
    CORPUS = shared("corpus")
    files = sorted(CORPUS.glob("*.json"))
    errors: list[TrafficError] = []
    exchanges = list(read_traffic([CORPUS], errors))
    assert errors == []
    assert len(exchanges) == len(files) > 300
    unmatched: dict[str, int] = {}
    for x in exchanges:
        api = detect_api(x)
        if match_operation(x, load_spec(api)) is None:
            key = f"{api}: {x.request.method} {x.request.path}"
            unmatched[key] = unmatched.get(key, 0) + 1
        assert x.response is not None and x.response.status >= 200
        assert (x.response.stream is not None) == (x.response.content_type == "text/event-stream")
        assert x.request.header("api-key") in (None, REDACTED)
    # Everything matches, the unversioned /openai/v1/ route included (judged as the deployment
    # route, and the exchange says so), except the serverless 404s recorded on a non-route path.
    assert all("/openai/" not in k for k in unmatched), unmatched
    v1 = [x for x in exchanges if "/openai/v1/" in x.request.path]
    assert v1 and all("judged as ChatCompletions_Create" in x.purpose for x in v1)
    matched = len(exchanges) - sum(unmatched.values())
    assert matched > 300


def test_a_saved_request_reproduces_with_the_credential_it_presented(tmp_path: Path) -> None:
    """`--save-traffic` keeps how each request presented its credential, so a curl line read back from
    the file sends what was judged: the key variable, an Entra token call, nothing, or the wrong key."""
    cases = {"configured": "$CONFORMANCE_API_KEY", "entra": "az account get-access-token", "dummy": "wrong-key-123"}
    for kind, shown in cases.items():
        request = RecordedRequest("GET", "https://h/models/info?api-version=2025-04-01",
                                  headers={"api-key" if kind != "entra" else "Authorization": "x"})
        request.credential = kind
        request.dummy_credential = "wrong-key-123" if kind == "dummy" else None
        f = tmp_path / f"{kind}.jsonl"
        f.write_text(json.dumps(dump_exchange(Exchange(request, error="recorded without answer"))) + "\n")
        errors: list[TrafficError] = []
        (again,) = read_traffic([f], errors)
        assert errors == [] and again.request.credential == kind
        assert shown in to_curl(again.request), (kind, to_curl(again.request))
