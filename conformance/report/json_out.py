"""results.json: `RunResults.to_json()` with credentials scrubbed, written atomically.

The format is documented in docs/results-format.md and versioned by `format_version`; this
module adds nothing to it, it only makes sure no secret and no unencodable text reaches the file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.report._safe import mask_headers, mask_url, scrubber
from conformance.results import FORMAT_VERSION, RuleResult, RunResults, Summary, Target


def _walk(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {str(k): _walk(v, scrub) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, scrub) for v in value]
    return value


def _mask_exchange(ex: Any) -> Any:
    """Second lock behind the recorder: credential headers and query parameters masked."""
    if not isinstance(ex, dict):
        return ex
    ex = dict(ex)
    for side in ("request", "response"):
        part = ex.get(side)
        if isinstance(part, dict):
            part = dict(part)
            if "headers" in part:
                part["headers"] = mask_headers(part["headers"])
            if side == "request" and "url" in part:
                part["url"] = mask_url(part["url"])
            ex[side] = part
    return ex


def results_document(results: RunResults) -> dict[str, Any]:
    """The JSON-ready document, scrubbed of registered secrets and masked credentials."""
    data = results.to_json()
    data["exchanges"] = {k: _mask_exchange(v) for k, v in (data.get("exchanges") or {}).items()}
    return _walk(data, scrubber())


def dumps_results(results: RunResults) -> str:
    scrub = scrubber()
    data = results_document(results)
    try:
        text = json.dumps(data, indent=2, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a hostile body: fall back to \u escapes
        text = json.dumps(data, indent=2, ensure_ascii=True)
    final = scrub(text)  # belt and braces: a secret split across values or keys
    try:
        json.loads(final)
        return final + "\n"
    except ValueError:  # scrubbing broke the JSON syntax: the value-wise scrub already ran
        return text + "\n"


def write_results_json(results: RunResults, path: Path) -> None:
    """Write results.json atomically (a crash never leaves a half-written file for the diff job)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, dumps_results(results))


def atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; reports are artefacts meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_and_page(out_dir: Path, stem: str, doc: Any, page: str) -> dict[str, Path]:
    """`<stem>.json` and `<stem>.html` in `out_dir`, each written atomically; their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{stem}.json", "html": out_dir / f"{stem}.html"}
    atomic_write(paths["json"], json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    atomic_write(paths["html"], page)
    return paths


def read_results_json(path: Path) -> RunResults:
    """Load a results.json (a baseline, or the previous night's run) for gates and diffs.

    Accepts a file of this `format_version`, ignoring fields it does not know (the compatibility
    promise of docs/results-format.md: a version only ever gains optional fields); refuses others.
    """
    from dataclasses import fields

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read results ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("summary"), dict):
        raise ValueError(f"{path}: not a conformance results.json (no summary object)")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        if isinstance(version, int) and version < FORMAT_VERSION:
            raise ValueError(
                f"{path}: results format_version {version} was written by an older suite version; this one reads "
                f"version {FORMAT_VERSION} only (outcomes and verdicts changed): run the suite again to get a new file"
            )
        raise ValueError(f"{path}: results format_version {version!r}, this suite reads {FORMAT_VERSION}")

    def known(cls: type, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise ValueError(f"{path}: malformed {cls.__name__} entry")
        names = {f.name for f in fields(cls)}
        return {k: v for k, v in obj.items() if k in names}

    summary = known(Summary, data["summary"])
    summary["target"] = known(Target, summary.get("target", {}))
    clean = {
        "format_version": version,
        "summary": summary,
        "results": [known(RuleResult, r) for r in data.get("results") or []],
        "capabilities": data.get("capabilities") or {},
        "exchanges": data.get("exchanges") or {},
        "clients": [c for c in data.get("clients") or [] if isinstance(c, dict)],
    }
    try:
        return RunResults.from_json(clean)
    except TypeError as exc:  # a required field is missing
        raise ValueError(f"{path}: incomplete results ({exc})") from exc
