"""The report writers: report.html (for people), results.json (for machines), waivers, baselines, diff.

Input is always `conformance.results.RunResults`; nothing here talks to the target.
"""

from __future__ import annotations

from pathlib import Path

from conformance.report.diff import Diff, diff_exit_code, diff_results, render_diff
from conformance.report.html import render_html
from conformance.report.json_out import atomic_write, read_results_json, write_results_json
from conformance.results import RunResults
from conformance.results.waivers import Acceptance, Waiver, WaiverError, load_waivers

__all__ = [
    "Acceptance",
    "Diff",
    "Waiver",
    "WaiverError",
    "diff_exit_code",
    "diff_results",
    "load_waivers",
    "read_results_json",
    "render_diff",
    "render_html",
    "write_reports",
    "write_results_json",
]


def write_reports(
    results: RunResults,
    report_dir: Path,
    *,
    html_name: str = "report.html",
    json_name: str = "results.json",
    pytest_html_name: str | None = "pytest-details.html",
) -> dict[str, Path]:
    """Write report.html and results.json into `report_dir`; return {"html": path, "json": path}.

    Writes `results` as given: `conformance.results.pipeline.conclude` decided everything in them.
    """
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    json_path = report_dir / json_name
    html_path = report_dir / html_name
    write_results_json(results, json_path)
    atomic_write(html_path, render_html(results, pytest_html_href=pytest_html_name))
    return {"html": html_path, "json": json_path}
