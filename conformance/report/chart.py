"""The report's picture: outcomes per rule family as an inline SVG bar chart, from the matrix's numbers.

No library and no script: plain SVG elements whose colours come from the report's stylesheet
(classes, not inline styles, so the page's Content-Security-Policy holds). Every number is also
written as text beside its bar, so the chart reads without colour and copies as text.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.report.matrix import Matrix, outcome_rank

#: Geometry in SVG user units (the chart scales to the width of the page).
WIDTH = 800
LABEL_W = 180
BAR_X = LABEL_W + 10
BAR_W = 450
ROW_H = 28
BAR_H = 18
MIN_LABELLED = 26  # narrower segments carry their number only in the text on the right

#: Short marks for the text beside a bar (the same as the matrix's first character).
MARKS = {
    "violation": "✗",
    "waived": "⊘",
    "warning": "!",
    "pass": "✓",
    "not_applicable": "–",
    "skipped": "↷",
}


def family_totals(matrix: Matrix) -> list[tuple[str, dict[str, int]]]:
    """Per family (matrix column order): outcome -> count summed over the operations (matrix rows)."""
    out = []
    for fam in matrix.families:
        totals: dict[str, int] = {}
        for op in matrix.operations:
            cell = matrix.cell(op, fam)
            if cell is not None:
                for outcome, n in cell.counts.items():
                    totals[outcome] = totals.get(outcome, 0) + n
        out.append((fam, dict(sorted(totals.items(), key=lambda kv: outcome_rank(kv[0])))))
    return out


def render_chart(matrix: Matrix, escape: Callable[[str], str], css_class: Callable[[str], str]) -> str:
    """`<svg>` with one stacked bar per family (its share of each outcome), worst outcome first."""
    totals = family_totals(matrix)
    if not totals:
        return ""
    height = ROW_H * len(totals) + 6
    rows = []
    for i, (fam, counts) in enumerate(totals):
        y = 4 + i * ROW_H
        total = sum(counts.values())
        parts = [
            f'<text class="fam" x="{LABEL_W}" y="{y + BAR_H - 4}" text-anchor="end">{escape(fam)}</text>'
        ]
        x = float(BAR_X)
        for outcome, n in counts.items():
            w = BAR_W * n / (total or 1)
            label = f"{escape(fam)}: {n} {escape(outcome.replace('_', ' '))}"
            parts.append(
                f'<rect class="seg {css_class(outcome)}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_H}">'
                f"<title>{label}</title></rect>"
            )
            if w >= MIN_LABELLED:
                parts.append(
                    f'<text class="in {css_class(outcome)}" x="{x + w / 2:.1f}" y="{y + BAR_H - 5}" '
                    f'text-anchor="middle">{n}</text>'
                )
            x += w
        summary = "  ".join(f"{MARKS.get(o, '?')} {n}" for o, n in counts.items())
        parts.append(
            f'<text class="sum" x="{BAR_X + BAR_W + 12}" y="{y + BAR_H - 4}">{escape(summary)}'
            f"<title>{escape(fam)}: {total} rule × operation results</title></text>"
        )
        rows.append(f'<g class="row">{"".join(parts)}</g>')
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">'
        '<title id="chart-title">Outcomes per rule family (rule × operation results, as in the matrix)</title>'
        f"{''.join(rows)}</svg>"
    )
