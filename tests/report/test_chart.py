"""The picture: per-family outcome bars carry the matrix's numbers, as text too, and nothing to run."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

from conformance.report.chart import family_totals, render_chart
from conformance.report.matrix import compliance_matrix
from tests.report.sample import sample_results


def test_family_totals_are_the_sums_of_the_matrix_cells() -> None:
    results = sample_results().results
    matrix = compliance_matrix(results)
    totals = dict(family_totals(matrix))
    assert list(totals) == matrix.families
    for fam, counts in totals.items():
        expected: dict[str, int] = {}
        for r in results:
            if compliance_matrix([r]).families == [fam]:
                expected[r.outcome] = expected.get(r.outcome, 0) + 1
        assert counts == expected, fam
    assert totals["schema"] == {"violation": 1, "pass": 2}


def test_chart_is_plain_svg_with_a_bar_per_family_and_its_numbers() -> None:
    matrix = compliance_matrix(sample_results().results)
    svg = render_chart(matrix, lambda s: html.escape(s, quote=True), lambda o: f"o-{o}")
    root = ET.fromstring(svg)  # well-formed
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg" and root.get("role") == "img"
    rows = root.findall(f"{ns}g")
    assert len(rows) == len(matrix.families)
    schema = next(g for g in rows if g.find(f"{ns}text").text == "schema")
    assert [r.get("class") for r in schema.findall(f"{ns}rect")] == ["seg o-violation", "seg o-pass"]
    assert "✗ 1  ✓ 2" in "".join(schema.itertext())
    assert not re.search(r"<script|style=|on\w+=", svg)


def test_no_results_no_chart() -> None:
    assert render_chart(compliance_matrix([]), html.escape, str) == ""
