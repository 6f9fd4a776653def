"""fleet.html: one row per deployment, one column per rule family, worst first; rules failing widely first.

Same safety model as report.html (conformance.report._page): every value read from a results file
goes through the escaper, links are relative paths this suite computed (never text from a file),
and the page carries no script at all.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path

from conformance.report._page import Escaper, outcome_class, page
from conformance.report.fleet import Deployment, Fleet, RuleSpread, build_fleet, find_results
from conformance.report.json_out import write_json_and_page
from conformance.report.matrix import count_text

_VERDICT_CLASS = {"conformant": "o-pass", "not conformant": "o-violation"}
_SYMBOL = {
    "violation": "✗", "waived": "⊘", "warning": "!", "pass": "✓", "not_applicable": "–", "skipped": "↷", "not_judged": "↷",
}


def _when(started: str) -> str:
    """"2026-11-30T03:17:05Z" -> "2026-11-30 03:17 UTC"; anything else as given."""
    if len(started) >= 16 and started[10:11] == "T":
        return f"{started[:10]} {started[11:16]} UTC"
    return started


class _FleetPage:
    def __init__(self, fleet: Fleet) -> None:
        self.f = fleet
        self.t = Escaper()

    def link(self, href: str | None, text: str) -> str:
        if not href:
            return self.t(text)
        return f'<a href="{html.escape(href, quote=True)}">{self.t(text)}</a>'

    def headline(self) -> tuple[str, str, str]:
        """(verdict class, headline, detail): the share of deployments not conformant, said exactly."""
        counts = self.f.verdict_counts()
        n = len(self.f.deployments)
        bad, ok = counts.get("not conformant", 0), counts.get("conformant", 0)
        parts = [f"{v}: {c}" for v, c in counts.items()]
        if self.f.not_run:
            parts.append(f"did not produce results: {len(self.f.not_run)}")
        why = " · ".join(parts)
        if n == 0:
            return "v-incomplete", "No results", why or "No readable results.json was given."
        if bad:
            return "v-not-conformant", f"{bad} of {n} not conformant", why
        if ok == n and not self.f.not_run:
            return "v-conformant", f"All {n} conformant", "No deployment has a violation."
        return "v-incomplete", f"{ok} of {n} conformant", why  # partial or incomplete runs, or targets missing

    def render(self) -> str:
        _, big, _ = self.headline()
        body = "\n".join(
            [self.masthead(), "<main>", self.not_run(), self.table(), self.rules(), "</main>", self.footer()]
        )
        return page(
            self.t(f"Conformance fleet: {big}"), f'<div class="fleet-page">{body}</div>',
            styles=("report.css", "fleet.css"),
        )

    def masthead(self) -> str:
        n = len(self.f.deployments)
        cls, big, why = self.headline()
        return (
            '<header id="top">\n<div class="masthead"><h1>Conformance fleet</h1>'
            f'<span class="sub">{n} deployment{"s" if n != 1 else ""} · generated {self.t(_when(self.f.generated))}'
            "</span></div>\n"
            f'<div class="verdict {cls}" role="status"><div><div class="big">{self.t(big)}</div>'
            f'<div class="why">{self.t(why)}</div></div></div>\n'
            '<nav class="toc" aria-label="Sections"><a href="#deployments">Deployments</a> '
            '<a href="#shared">Failing rules, most widespread first</a></nav>\n</header>'
        )

    def not_run(self) -> str:
        if not self.f.not_run:
            return ""
        rows = "".join(
            f"<tr><td>{self.t(n.name)}</td><td><code>{self.t(n.source)}</code></td>"
            f'<td class="num">{n.exit_code}</td><td>{self.t(n.reason)}</td></tr>'
            for n in self.f.not_run
        )
        return (
            f'<section id="not-run"><h2>Did not produce results ({len(self.f.not_run)})</h2>'
            '<div class="scroll"><table class="not-run"><thead><tr><th>Target</th><th>Source</th><th>Exit</th>'
            "<th>Reason</th>"
            f"</tr></thead><tbody>{rows}</tbody></table></div></section>"
        )

    def table(self) -> str:
        if not self.f.deployments:
            return '<section id="deployments"><h2>Deployments</h2><p class="empty-note">None.</p></section>'
        fams = "".join(f'<th scope="col" class="fam">{self.t(f)}</th>' for f in self.f.families)
        head = (
            '<tr><th scope="col">Deployment</th><th scope="col">API</th><th scope="col">Model / deployment</th>'
            '<th scope="col">Verdict</th><th scope="col">Violations</th><th scope="col">Warnings</th>'
            f'<th scope="col">Date</th>{fams}</tr>'
        )
        rows = "\n".join(self.row(d) for d in self.f.deployments)
        return (
            '<section id="deployments">\n<h2>Deployments</h2>\n'
            '<p class="muted small">Worst first; each name links to the deployment\'s own report. A family cell '
            "shows the worst outcome of that family's rules (rule × operation results): ✗ n violations, "
            "⊘ n waived, ! n warnings, ✓ all held, – not applicable, ↷ not judged; hover for the counts.</p>\n"
            f'<div class="scroll"><table class="fleet"><thead>{head}</thead><tbody>\n{rows}\n</tbody></table>'
            "</div>\n</section>"
        )

    def row(self, d: Deployment) -> str:
        endpoint = d.endpoint_host + (d.endpoint_path or "")
        # One name per line, its kind (chat, embeddings, ...) on hover: several deployments must fit side by side.
        models = "<br>".join(
            f'<span title="{self.t(kind)}">{self.t(name)}</span>' for kind, name in d.models.items()
        ) or "–"
        verdict = f'<span class="badge {_VERDICT_CLASS.get(d.verdict, "o-warning")}">{self.t(d.verdict)}</span>'
        cells = []
        for fam in self.f.families:
            cell = d.families.get(fam)
            if cell is None:
                cells.append('<td class="empty">–</td>')
                continue
            worst = cell.worst
            # Compact so that every family fits: the symbol, and the count where it matters.
            label = str(cell.counts.get(worst, 0)) if worst in ("violation", "waived", "warning") else ""
            detail = f"{fam}: " + " · ".join(count_text(o, c) for o, c in cell.counts.items())
            cells.append(
                f'<td class="fam-cell {outcome_class(worst)}" title="{self.t(detail)}" aria-label="{self.t(detail)}">'
                f"{_SYMBOL.get(worst, '?')} {self.t(label)}</td>"
            )
        ref = ' <span class="muted small">(reference)</span>' if d.reference else ""
        when = _when(d.started).split(" ", 1)
        return (
            f'<tr data-verdict="{self.t(d.verdict)}"><th scope="row">{self.link(d.report or d.results, d.name)}{ref}'
            f'<div class="endpoint"><code>{self.t(endpoint or "–")}</code></div></th>'
            f'<td><span class="nowrap">{self.t(d.api)}</span><br><span class="muted small">{self.t(d.api_version)}'
            f'</span></td><td class="models">{models}</td><td>{verdict}</td>'
            f'<td class="num">{d.violations}</td><td class="num">{d.warnings}</td>'
            f'<td class="nowrap">{self.t(when[0])}<br><span class="muted small">{self.t(when[1] if len(when) > 1 else "")}'
            f"</span></td>{''.join(cells)}</tr>"
        )

    def spread_table(self, spreads: list[RuleSpread]) -> str:
        n = len(self.f.deployments)
        by_name = {d.name: d for d in self.f.deployments}
        rows = []
        for s in spreads:
            names = ", ".join(
                self.link((by_name[x].report or by_name[x].results) if x in by_name else None, x)
                for x in s.deployments
            )
            rows.append(
                f"<tr><td><code>{self.t(s.rule_id)}</code></td><td>{self.t(s.family)}</td>"
                f'<td class="num">{len(s.deployments)} of {n}</td><td>{names}</td>'
                f"<td>{self.t(', '.join(s.operations))}</td><td>{self.t(s.statement)}</td></tr>"
            )
        return (
            '<div class="scroll"><table class="spread"><thead><tr><th>Rule</th><th>Family</th><th>Deployments</th>'
            "<th>Which</th><th>Operations</th><th>Statement</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )

    def rules(self) -> str:
        parts = ['<section id="shared">\n<h2>Failing rules, most widespread first</h2>']
        if self.f.failing_rules:
            parts.append(
                '<p class="muted small">Most deployments first: a rule failing on many deployments points at a '
                "shared cause (a gateway, a common model server, an errata the services share).</p>"
            )
            parts.append(self.spread_table(self.f.failing_rules))
        else:
            parts.append('<p class="empty-note">No rule fails on any deployment.</p>')
        if self.f.warning_rules:
            parts.append(
                f'<details class="section"><summary>Rules with warnings ({len(self.f.warning_rules)})</summary>'
                f"{self.spread_table(self.f.warning_rules)}</details>"
            )
        parts.append("</section>")
        return "\n".join(parts)

    def footer(self) -> str:
        return (
            '<footer>Written by <code>conformance merge</code> from the results.json files listed above; '
            "fleet.json beside this page holds the same facts (docs/results-format.md).</footer>"
        )


def render_fleet_html(fleet: Fleet) -> str:
    return _FleetPage(fleet).render()


def write_fleet(fleet: Fleet, out_dir: Path) -> dict[str, Path]:
    """Write fleet.json and fleet.html into `out_dir` (atomically); return their paths."""
    return write_json_and_page(out_dir, "fleet", fleet.to_json(), render_fleet_html(fleet))


def merge(paths: Iterable[Path], out_dir: Path) -> tuple[Fleet, dict[str, Path]]:
    """`conformance merge`: find the results files under `paths`, aggregate, write fleet.json/html."""
    files = find_results(paths)
    fleet = build_fleet(files, out_dir)
    return fleet, write_fleet(fleet, out_dir)
