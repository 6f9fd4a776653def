"""trend.html: violations and warnings per night and per family as inline SVG, with the nights rules
started or stopped failing marked. No library and no script: the charts are plain SVG elements
styled by fleet.css, and every text in them passes through the same escaper as the report."""

from __future__ import annotations

import math
from pathlib import Path

from conformance.report._page import Escaper, page
from conformance.report.json_out import write_json_and_page
from conformance.report.trend import DeploymentTrend, Event, Trend, collect

_LEFT, _RIGHT, _TOP, _PLOT_H, _BOTTOM = 44, 24, 30, 150, 28
_GRID_LABEL, _ROW_H = 150, 18
_KIND_TEXT = {
    "started": "started failing",
    "stopped": "stopped failing",
    "waived": "waived (a waiver or the baseline accepts it; not fixed)",
    "no longer judged": "no longer judged (not a fix)",
}


def _step(n: int) -> float:
    return 70.0 if n <= 1 else max(12.0, min(200.0, 640.0 / (n - 1)))


def _every(step: float) -> int:
    """Show every k-th date on the axis so the labels never overlap (a label is ~40 px wide)."""
    return max(1, math.ceil(44 / step))


class _TrendPage:
    def __init__(self, trend: Trend) -> None:
        self.tr = trend
        self.t = Escaper()

    def render(self) -> str:
        n = len(self.tr.deployments)
        nav = " ".join(
            f'<a href="#d{i}">{self.t(d.name)}</a>' for i, d in enumerate(self.tr.deployments)
        )
        head = (
            '<header id="top"><div class="masthead"><h1>Conformance trend</h1>'
            f'<span class="sub">{n} deployment{"s" if n != 1 else ""}</span></div>'
            f'<nav class="toc" aria-label="Deployments">{nav}</nav></header>'
        )
        sections = [self.deployment(i, d) for i, d in enumerate(self.tr.deployments)]
        if not sections:
            sections = ['<p class="empty-note">No readable results.json in this folder.</p>']
        body = "\n".join([head, "<main>", *sections, self.unreadable(), "</main>"])
        return page(self.t("Conformance trend"), f'<div class="fleet-page">{body}</div>',
                    styles=("report.css", "fleet.css"))

    def unreadable(self) -> str:
        if not self.tr.unreadable:
            return ""
        items = "".join(
            f"<li><code>{self.t(u.get('file'))}</code>: {self.t(u.get('reason'))}</li>" for u in self.tr.unreadable
        )
        return f'<section id="unreadable"><h2>Files not read</h2><ul>{items}</ul></section>'

    def deployment(self, i: int, d: DeploymentTrend) -> str:
        first, last = d.nights[0].date, d.nights[-1].date
        sub = f"{d.endpoint_host} · {d.api} {d.api_version} · {len(d.nights)} nights, {first} to {last}"
        return (
            f'<section id="d{i}" class="trend">\n<h2>{self.t(d.name)}</h2>\n<p class="muted small">{self.t(sub)}</p>\n'
            f"{self.counts_chart(d)}\n{self.family_grid(d)}\n{self.events(d)}\n{self.timeline(d)}\n</section>"
        )

    # -- charts --------------------------------------------------------------------------------------
    def counts_chart(self, d: DeploymentTrend) -> str:
        n = len(d.nights)
        step = _step(n)
        width = _LEFT + step * max(n - 1, 1) + _RIGHT
        height = _TOP + _PLOT_H + _BOTTOM
        top = max([1] + [x.violations for x in d.nights] + [x.warnings for x in d.nights])

        def x(i: int) -> float:
            return _LEFT + step * i

        def y(v: int) -> float:
            return _TOP + _PLOT_H - _PLOT_H * v / top

        parts = [
            f'<line class="axis" x1="{_LEFT}" y1="{y(0):.1f}" x2="{width - _RIGHT:.1f}" y2="{y(0):.1f}"/>',
            f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{y(0):.1f}"/>',
        ]
        for v in sorted({0, top // 2, top}):
            parts.append(f'<text class="tick" x="{_LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>')
        every = _every(step)
        for i, night in enumerate(d.nights):
            if i % every == 0 or i == n - 1:
                parts.append(
                    f'<text class="tick" x="{x(i):.1f}" y="{height - 8}" text-anchor="middle">'
                    f"{self.t(night.date[5:])}</text>"
                )
        by_night: dict[str, list[Event]] = {}
        for e in d.events:
            by_night.setdefault(e.date, []).append(e)
        for i, night in enumerate(d.nights):
            evs = by_night.get(night.date)
            if not evs:
                continue
            started = [e for e in evs if e.kind == "started"]
            kind = "started" if started else "stopped"
            label = (f"▲{len(started)}" if started else "") + (
                f"▼{len(evs) - len(started)}" if len(evs) > len(started) else ""
            )
            tip = "; ".join(f"{_KIND_TEXT[e.kind]}: {e.rule_id}" for e in evs)
            parts.append(
                f'<g class="marker" data-night="{self.t(night.date)}" data-kind="{kind}">'
                f"<title>{self.t(night.date)}: {self.t(tip)}</title>"
                f'<line class="m-{kind}" x1="{x(i):.1f}" y1="{_TOP - 6}" x2="{x(i):.1f}" y2="{y(0):.1f}"/>'
                f'<text class="mt-{kind}" x="{x(i):.1f}" y="{_TOP - 10}" text-anchor="middle">{label}</text></g>'
            )
        for series in ("violation", "warning"):
            values = [night.violations if series == "violation" else night.warnings for night in d.nights]
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
            parts.append(f'<polyline class="s-{series}" points="{points}"/>')
            for i, v in enumerate(values):
                parts.append(
                    f'<circle class="p-{series}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5">'
                    f"<title>{self.t(d.nights[i].date)}: {v} {series}s</title></circle>"
                )
        svg = (
            f'<svg class="counts" viewBox="0 0 {width:.0f} {height}" width="{width:.0f}" height="{height}" '
            f'role="img" aria-label="violations and warnings per night">{"".join(parts)}</svg>'
        )
        return (
            '<figure class="chart"><figcaption>Violations (solid) and warnings (dashed) per night, as rule × '
            "operation results; ▲ marks a night rules started failing, ▼ a night they stopped.</figcaption>"
            f"{svg}</figure>"
        )

    def family_grid(self, d: DeploymentTrend) -> str:
        n = len(d.nights)
        step = max(16.0, min(_step(n), 60.0))
        width = _GRID_LABEL + step * n + 8
        height = _ROW_H * len(d.families) + 24
        parts = []
        for r, fam in enumerate(d.families):
            yy = r * _ROW_H
            parts.append(f'<text class="g-label" x="{_GRID_LABEL - 6}" y="{yy + 13}" text-anchor="end">{self.t(fam)}</text>')
            for i, night in enumerate(d.nights):
                cell = night.families.get(fam)
                worst = cell["worst"] if cell else None
                cls = worst if worst in ("violation", "waived", "warning", "pass") else "none"
                text = "not judged" if cell is None else (
                    f"{worst}: {cell['violations']} violations, {cell['warnings']} warnings"
                )
                label = cell["violations"] if cell and cell["violations"] else ""
                parts.append(
                    f'<g data-family="{self.t(fam)}" data-night="{self.t(night.date)}" data-worst="{cls}">'
                    f"<title>{self.t(fam)} on {self.t(night.date)}: {self.t(text)}</title>"
                    f'<rect class="g-{cls}" x="{_GRID_LABEL + step * i + 1:.1f}" y="{yy + 1}" '
                    f'width="{step - 2:.1f}" height="{_ROW_H - 2}" rx="2"/>'
                    + (
                        f'<text class="g-label" x="{_GRID_LABEL + step * i + step / 2:.1f}" y="{yy + 13}" '
                        f'text-anchor="middle">{label}</text>'
                        if label
                        else ""
                    )
                    + "</g>"
                )
        every = _every(step)
        for i, night in enumerate(d.nights):
            if i % every == 0 or i == n - 1:
                parts.append(
                    f'<text class="tick" x="{_GRID_LABEL + step * i + step / 2:.1f}" y="{height - 6}" '
                    f'text-anchor="middle">{self.t(night.date[5:])}</text>'
                )
        svg = (
            f'<svg class="families" viewBox="0 0 {width:.0f} {height}" width="{width:.0f}" height="{height}" '
            f'role="img" aria-label="worst outcome per family and night">{"".join(parts)}</svg>'
        )
        return (
            '<figure class="chart"><figcaption>Worst outcome per rule family and night (the number: violations); '
            "grey: not applicable or not judged that night.</figcaption>"
            f"{svg}</figure>"
        )

    # -- lists ---------------------------------------------------------------------------------------
    def events(self, d: DeploymentTrend) -> str:
        if not d.events:
            failing = sorted(d.nights[-1].failing)
            if failing:
                return (
                    '<p class="small">No rule started or stopped failing in these nights; failing throughout: '
                    f"{self.t(', '.join(failing))}.</p>"
                )
            return '<p class="small">No rule started or stopped failing in these nights.</p>'
        items = []
        for e in d.events:
            cls = "started" if e.kind == "started" else "stopped"
            items.append(
                f'<li class="{cls}" data-night="{self.t(e.date)}" data-rule="{self.t(e.rule_id)}">'
                f"<strong>{self.t(e.date)}</strong>: <code>{self.t(e.rule_id)}</code> {self.t(_KIND_TEXT[e.kind])}"
                f' <span class="muted">({self.t(e.family)}; {self.t(", ".join(e.operations))})</span></li>'
            )
        return f'<h3>Changes</h3><ul class="events">{"".join(items)}</ul>'

    def timeline(self, d: DeploymentTrend) -> str:
        if not d.rules:
            return ""
        head = "".join(f'<th scope="col">{self.t(n.date[5:])}</th>' for n in d.nights)
        rows = []
        for rule_id, family in d.rules.items():
            cells = []
            for n in d.nights:
                if rule_id in n.failing:
                    cells.append('<td class="o-violation">✗</td>')
                elif rule_id in n.held:
                    cells.append('<td class="o-pass">✓</td>')
                elif rule_id in n.waived:
                    cells.append('<td class="o-waived">⊘</td>')
                else:
                    cells.append('<td class="empty muted">–</td>')
            rows.append(
                f'<tr><th scope="row"><code>{self.t(rule_id)}</code> <span class="muted small">{self.t(family)}'
                f"</span></th>{''.join(cells)}</tr>"
            )
        return (
            '<details class="section"><summary>Rules that failed on some night</summary>'
            '<p class="muted small">✗ failing · ✓ judged and held · ⊘ waived · – not judged.</p>'
            f'<div class="scroll"><table class="timeline"><thead><tr><th>Rule</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div></details>"
        )


def render_trend_html(trend: Trend) -> str:
    return _TrendPage(trend).render()


def write_trend(trend: Trend, out_dir: Path) -> dict[str, Path]:
    return write_json_and_page(out_dir, "trend", trend.to_json(), render_trend_html(trend))


def trend(root: Path, out_dir: Path) -> tuple[Trend, dict[str, Path]]:
    """`conformance trend`: collect the nights under `root`, write trend.json and trend.html."""
    result = collect(root)
    return result, write_trend(result, out_dir)
