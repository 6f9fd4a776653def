"""Recorded traffic in, `Exchange`s out: finds the files, tells the formats apart and hands each entry
to its format's adapter (`har`, `records`, `test_proxy`, `cassette`), all converging on
`conformance.transport.exchange.Exchange` so recorded and live exchanges are judged by the same rules.

Files come from users and may be hostile or broken: every entry is read on its own, a bad one becomes
a `TrafficError` (file + entry + reason) and reading goes on. The formats are in docs/traffic-format.md.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from conformance.traffic import cassette
from conformance.traffic.entries import MAX_BODY, SECRET_QUERY_PARAMS, EntryError, TrafficError, short
from conformance.traffic.har import from_har
from conformance.traffic.records import dump_exchange, from_record
from conformance.traffic.test_proxy import from_test_proxy
from conformance.transport.exchange import Exchange

__all__ = ["MAX_BODY", "SECRET_QUERY_PARAMS", "TrafficError", "detect_api", "dump_exchange", "match_operation",
           "read_traffic", "recorded_api_version", "traffic_files"]

#: Whole documents (HAR, test-proxy, cassettes) above this are refused before parsing, to bound memory.
MAX_DOCUMENT = 512 * 1024 * 1024
#: One JSON-lines line; base64 and JSON escaping can inflate a 32 MB body.
MAX_LINE = 2 * MAX_BODY
SUFFIXES = (".har", ".json", ".jsonl", ".ndjson", *cassette.SUFFIXES)


def read_traffic(paths: Iterable[Path], errors: list[TrafficError] | None = None) -> Iterator[Exchange]:
    """Yield one Exchange per recorded entry of the given files or directories (searched recursively).

    Problems are appended to `errors` (when given) instead of raised: one broken entry never hides
    the rest of a recording.
    """
    sink: list[TrafficError] = errors if errors is not None else []
    for root in paths:
        root = Path(root)
        if root.is_dir():
            for file in sorted(_walk(root)):
                yield from _read_file(file, file.relative_to(root).as_posix(), sink)
        elif root.is_file():
            yield from _read_file(root, root.name, sink)
        else:
            why = "not a regular file or directory" if root.exists() else "no such file or directory"
            sink.append(TrafficError(str(root), "", why))


def traffic_files(paths: Iterable[Path]) -> list[Path]:
    """The files `read_traffic` would read (for counting and reporting)."""
    out: list[Path] = []
    for root in map(Path, paths):
        if root.is_dir():
            out.extend(sorted(_walk(root)))
        elif root.is_file():
            out.append(root)
    return out


def detect_api(exchange: Exchange) -> str:
    """Azure OpenAI routes live under /openai/; everything else is model inference."""
    return "azure-openai" if "/openai/" in exchange.request.path + "/" else "model-inference"


#: The unversioned Azure OpenAI route (`/openai/v1/...`) names the model in the body instead of a
#: deployment in the path; its chat, completions and embeddings bodies are the same documents.
_AOAI_V1 = re.compile(r"/openai/v1/(chat/completions|completions|embeddings)/?$")


def match_operation(exchange: Exchange, spec: Any) -> str | None:
    """Find the spec operation the exchange exercises (sets `exchange.operation_id`).

    Azure OpenAI's unversioned `/openai/v1/` routes are judged as the deployment routes of the
    vendored spec (same request and response documents; decision in docs/behaviours.md), and the
    exchange's purpose says so.
    """
    method = exchange.request.method.upper()
    op = spec.match(method, exchange.request.path)
    if op is None and getattr(spec, "api", "") == "azure-openai":
        v1 = _AOAI_V1.search(exchange.request.path)
        if v1 is not None:
            body = exchange.request.json if isinstance(exchange.request.json, dict) else {}
            model = str(body.get("model") or "v1-model").replace("/", "-")
            op = spec.match(method, f"/deployments/{model}/{v1.group(1)}")
            if op is not None:
                note = f"unversioned /openai/v1/ route judged as {op.operation_id}"
                exchange.purpose = f"{exchange.purpose}; {note}" if exchange.purpose else note
    exchange.operation_id = op.operation_id if op is not None else None
    return exchange.operation_id


def recorded_api_version(exchange: Exchange) -> str | None:
    """The api-version the recorded request asked for (query parameter), if any."""
    return exchange.request.query.get("api-version") or None


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            path = Path(dirpath) / name
            # is_file(): a FIFO or device named *.json would block or never end.
            if name.lower().endswith(SUFFIXES) and not name.startswith(".") and path.is_file():
                yield path


def _read_file(path: Path, label: str, errors: list[TrafficError]) -> Iterator[Exchange]:
    try:
        size = path.stat().st_size
        if path.name.lower().endswith((".jsonl", ".ndjson")):
            yield from _read_lines(path, label, errors)
            return
        if size > MAX_DOCUMENT:
            errors.append(TrafficError(label, "", f"file is {size} bytes, above the {MAX_DOCUMENT} byte limit",
                                       "skipped"))
            return
        raw = path.read_bytes()
    except OSError as exc:
        errors.append(TrafficError(label, "", f"cannot read file ({exc.strerror or exc})"))
        return
    if path.name.lower().endswith(cassette.SUFFIXES):
        try:
            doc = cassette.load_yaml(raw)
        except (ValueError, RecursionError) as exc:
            errors.append(TrafficError(label, "", f"not valid YAML ({short(exc)})"))
            return
        if cassette.interactions(doc) is None:
            errors.append(TrafficError(label, "", "YAML file that is not a vcrpy cassette (no interactions list)",
                                       "skipped"))
            return
        yield from _read_document(doc, label, errors)
        return
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if path.suffix.lower() == ".json" and _first_line_is_object(raw):  # JSON lines saved as .json
            yield from _read_lines(path, label, errors)
            return
        errors.append(TrafficError(label, "", f"not valid JSON ({short(exc)})"))
        return
    yield from _read_document(doc, label, errors)


def _first_line_is_object(raw: bytes) -> bool:
    first = raw.lstrip().split(b"\n", 1)[0]
    try:
        return isinstance(json.loads(first), dict)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False


def _read_lines(path: Path, label: str, errors: list[TrafficError]) -> Iterator[Exchange]:
    with path.open("rb") as fh:
        for number, line in enumerate(iter(lambda: fh.readline(MAX_LINE + 1), b""), start=1):
            entry = f"line[{number}]"
            if len(line) > MAX_LINE:
                errors.append(TrafficError(label, entry, f"line longer than {MAX_LINE} bytes", "skipped"))
                while line and not line.endswith(b"\n"):  # skip the rest of the overlong line
                    line = fh.readline(MAX_LINE + 1)
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line.decode("utf-8-sig"))
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                errors.append(TrafficError(label, entry, f"not valid JSON ({short(exc)})"))
                continue
            yield from _entry(from_record, record, label, entry, errors)


def _read_document(doc: Any, label: str, errors: list[TrafficError]) -> Iterator[Exchange]:
    recorded = cassette.interactions(doc)
    if recorded is not None:
        key, items = recorded
        if not isinstance(items, list):
            errors.append(TrafficError(label, "", f"cassette whose {key} is not a list"))
            return
        for i, item in enumerate(items):
            yield from _entry(cassette.from_interaction, item, label, f"{key}[{i}]", errors)
    elif isinstance(doc, dict) and isinstance(doc.get("log"), dict):
        entries = doc["log"].get("entries")
        if not isinstance(entries, list):
            errors.append(TrafficError(label, "", "HAR file without a log.entries list"))
            return
        for i, item in enumerate(entries):
            yield from _entry(from_har, item, label, f"entries[{i}]", errors)
    elif isinstance(doc, dict) and "Entries" in doc:
        entries = doc["Entries"]
        if not isinstance(entries, list):
            errors.append(TrafficError(label, "", "test-proxy recording whose Entries is not a list"))
            return
        for i, item in enumerate(entries):
            yield from _entry(from_test_proxy, item, label, f"Entries[{i}]", errors)
    elif isinstance(doc, dict) and "request" in doc:
        yield from _entry(from_record, doc, label, "", errors)
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from _entry(from_record, item, label, f"[{i}]", errors)
    else:
        errors.append(TrafficError(label, "", "not a traffic file (expected a HAR log, a test-proxy recording "
                                              "with Entries, a vcrpy cassette with interactions, or exchanges "
                                              "with request/response)"))


def _entry(convert: Any, item: Any, label: str, entry: str, errors: list[TrafficError]) -> Iterator[Exchange]:
    try:
        if not isinstance(item, dict):
            raise EntryError(f"expected an object, got {type(item).__name__}")
        exchange = convert(item)
    except EntryError as exc:
        errors.append(TrafficError(label, entry, str(exc), exc.kind))
        return
    except Exception as exc:  # a hostile file must never crash the run; report the entry instead
        errors.append(TrafficError(label, entry, f"unreadable entry ({type(exc).__name__}: {short(exc)})"))
        return
    exchange.source = f"{label}#{entry}" if entry else label
    yield exchange
