"""report.html: the compliance report a customer reads, written from RunResults with the stdlib only.

Read top-down it answers, in order: the verdict; which rules fail, where, how often, and the one
request that shows each; a picture per family; what was tested and how; then every detail.

Safety model: every value that came from the target or from a results file goes through `_Page.t`
(scrub registered secrets -> make control characters visible -> `html.escape`); element ids are
derived from hashes (`_safe.anchor`), never copied from data; the only script is our own static
file, and a Content-Security-Policy with the hashes of our inline style and script stops anything
else from running even if an escaping mistake slipped through. The script only filters and copies:
with scripts off the page shows everything.

Size: a deep run of a badly broken target records thousands of exchanges. The page shows each
distinct finding once with a count and cuts long bodies in the middle. Everything but the findings
is bounded by construction; the findings get what is left of `PAGE_LIMIT`, and once that is spent
the remaining ones point to results.json, so no page grows past `PAGE_LIMIT`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable
from typing import Any

from conformance.report._page import csp_hash, outcome_class, static
from conformance.report._rules import UNKNOWN, RuleBook
from conformance.report._safe import anchor, clip, endpoint_text, mask_headers, mask_url, neutralise, scrubber
from conformance.report.chart import render_chart
from conformance.report.clients import clients_section
from conformance.report.grouping import (
    FailingRule,
    FindingGroup,
    counted_findings,
    failing_rules,
    group_findings,
    is_generated,
)
from conformance.report.matrix import (
    Matrix,
    capability_rows,
    compliance_matrix,
    count_text,
    operation_name,
    outcome_rank,
)
from conformance.results import OUTCOMES, RuleResult, RunResults

#: The page of any run stays under this many bytes (a test holds a deep faulted run to it).
PAGE_LIMIT = 5_000_000
#: Bytes kept back for the findings that no longer fit (each card's header, at most), and for
#: the one finding that may start within the budget and end past it.
CARD_RESERVE = 2_000
GROUP_MAX = 400_000
#: Longer bodies and transcripts are cut in the middle (their start and their end both matter).
BODY_SHOWN = 24_000
BODY_LIMIT = 65536
VALUE_LIMIT = 2000
HEADER_LIMIT = 100
#: Distinct findings shown per card, further occurrences listed per finding, notes listed.
GROUPS_PER_CARD = 30
OCCURRENCES_LISTED = 25
NOTES_LISTED = 500
#: The longest curl line the failing-rules table carries (longer ones are in the rule's details).
TABLE_CURL_LIMIT = 8_000

_VERDICTS = {
    "conformant": ("Conformant", "v-conformant", "✓"),
    "not conformant": ("Not conformant", "v-not-conformant", "✗"),
    "incomplete": ("Incomplete", "v-incomplete", "?"),
    "partial": ("Partial", "v-incomplete", "◐"),
}
_OUTCOME_TEXT = {
    "violation": "✗ violation",
    "waived": "⊘ waived",
    "warning": "! warning",
    "pass": "✓ pass",
    "not_applicable": "– not applicable",
    "not_judged": "↷ not judged",
    "note": "i note",
}
_COUNT_CHIPS = (
    ("violation", "violations", "violations"),
    ("waived", "waived", "waived"),
    ("warning", "warnings", "warnings"),
    ("pass", "passes", "checked"),
    ("not_applicable", "not applicable", "checked"),
    ("not_judged", "not judged", "checked"),
)
_SECTIONS = (
    ("violations", "violation", "Violations", "No violations."),
    ("waived", "waived", "Waived", "Nothing was waived."),
    ("warnings", "warning", "Warnings", "No warnings."),
)


# The page shell and outcome classes are shared with the fleet and trend pages (report/_page.py).
_static, _csp_hash, _css_class = static, csp_hash, outcome_class


def _outcome_word(outcome: str) -> str:
    return _OUTCOME_TEXT.get(outcome, outcome).split(" ", 1)[-1]


def _duration(seconds: Any) -> str:
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return "?"
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min {sec:02d} s" if h else f"{m} min {sec:02d} s"


def _pretty_body(text: str) -> str:
    """JSON bodies indented for reading; anything else as received."""
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and len(stripped) <= BODY_LIMIT:
        try:
            return json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            pass
    return text


def _cut_middle(text: str, limit: int, where: str) -> str:
    """`text` with its middle replaced by a pointer to where the whole of it is."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return (
        f"{text[:half]}\n\n… [{len(text) - 2 * half} characters cut here; the whole text is {where}] …\n\n"
        f"{text[-half:]}"
    )


def _short_url(url: Any) -> str:
    """Path and query of a URL (the host is in the target box), masked."""
    masked = mask_url(url)
    rest = masked.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else masked


class _Page:
    """Builds the page; holds the per-render state (scrubber, rule book, exchanges already shown)."""

    def __init__(self, results: RunResults, pytest_html_href: str | None) -> None:
        self.r = results
        self.s = results.summary
        self.scrub: Callable[[str], str] = scrubber()
        self.rules = RuleBook.load()
        self.matrix: Matrix = compliance_matrix(results.results, self.rules)
        self.pytest_html_href = pytest_html_href
        self.shown_exchanges: set[str] = set()
        #: Bytes the findings may still take (set in `render`, once the bounded parts are known).
        self.left = PAGE_LIMIT
        self.cut = 0  # findings left out for size
        self.counter = 0
        self.card_ids = {
            id(r): anchor("r", r.rule_id, r.operation_id, i) for i, r in enumerate(results.results)
        }
        self.failing: list[FailingRule] = failing_rules(
            results.results, results.exchanges, self.family, list(self.matrix.families)
        )

    # -- escaping -------------------------------------------------------------------------------
    def t(self, value: Any, limit: int = VALUE_LIMIT) -> str:
        """Server-controlled text -> safe HTML text."""
        text = value if isinstance(value, str) else ("" if value is None else str(value))
        return html.escape(neutralise(clip(self.scrub(text), limit)), quote=True)

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def family(self, r: RuleResult) -> str:
        return self.rules.family(r.rule_id, r.family)

    def rule_link(self, rule_id: str) -> str:
        return f'<a class="rule" href="#{anchor("rule", rule_id)}"><code>{self.t(rule_id)}</code></a>'

    def badge(self, outcome: str) -> str:
        text = _OUTCOME_TEXT.get(outcome, outcome)
        return f'<span class="badge {_css_class(outcome)}">{self.t(text)}</span>'

    def filter_attrs(self, outcome: str, family: str, operations: Iterable[str]) -> str:
        """What the filter bar matches on (outcome, family, operations), as data attributes."""
        ops = "|".join(operations)
        return f' data-o="{self.t(outcome)}" data-f="{self.t(family)}" data-op="{self.t(ops)}"'

    # -- page -----------------------------------------------------------------------------------
    def render(self) -> str:
        css, js = _static("report.css"), _static("report.js")
        csp = (
            f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
            "img-src data:; base-uri 'none'; form-action 'none'"
        )
        label = _VERDICTS.get(self.s.verdict, (self.s.verdict or "unknown",))[0]
        where = endpoint_text(self.s.target.endpoint_host, getattr(self.s.target, "endpoint_path", ""))
        title = f"Conformance report: {label} ({where or 'no target'})"
        head = [
            self.masthead(),
            "<main>",
            self.filters(),
            self.failing_section(),
            self.summary(),
            self.matrix_section(),
            self.capabilities(),
            self.clients(),
        ]
        tail = [self.notes(), self.checked(), self.catalogue(), "</main>", self.footer()]
        fixed = sum(len(part.encode("utf-8")) for part in (*head, *tail, css, js, title))
        self.left = PAGE_LIMIT - fixed - GROUP_MAX - CARD_RESERVE * len(self.r.results)
        body = "\n".join([*head, self.findings_sections(), *tail])
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
            '<meta name="referrer" content="no-referrer">\n'
            f"<title>{self.t(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
            f"{body}\n<script>{js}</script>\n</body>\n</html>\n"
        )

    def masthead(self) -> str:
        s, tg = self.s, self.s.target
        label, cls, icon = _VERDICTS.get(s.verdict, (s.verdict or "Unknown", "v-incomplete", "?"))
        n_viol = s.counts.get("violation", 0)
        n_rules = sum(1 for row in self.failing if row.outcome != "warning")
        if s.verdict == "not conformant":
            rules = f"{n_rules} rule{'' if n_rules == 1 else 's'}"
            why = f"{rules} failed: {count_text('violation', n_viol)} (rule × operation) must be fixed or waived."
        elif s.verdict == "conformant" and s.counts.get("not_judged", 0):
            n = s.counts["not_judged"]
            why = (f"Every rule that can fail the run was judged, and none was violated; "
                   f"{count_text('not_judged', n)} warning-level result{'' if n == 1 else 's'}: see below.")
        elif s.verdict == "conformant":
            why = "Every rule that applies was judged, and none was violated."
        elif s.verdict == "partial":
            why = "No violation among the rules judged, but part of the suite was deselected: see below."
        else:
            why = "Rules that apply were not judged: see below."
        # What stopped the run and what was left unjudged (the results pipeline's summary lines).
        errors = [f"interrupted: {s.interrupted}"] if getattr(s, "interrupted", None) else []
        errors += list(getattr(s, "errors", None) or [])
        notes = [f"deselected: {d}" for d in getattr(s, "deselected", None) or []]
        notes += [f"not judged: {n}" for n in getattr(s, "not_judged", None) or []]
        notes += list(getattr(s, "notes", None) or [])
        if errors and s.verdict != "not conformant":
            why = "The run did not complete: see below."
        problems = ""
        if errors or notes:
            items = [f'<li class="run-error">{self.t(e)}</li>' for e in errors[:20]]
            items += [f'<li class="run-note">{self.t(n)}</li>' for n in notes[:20]]
            more = len(errors) + len(notes) - len(items)
            if more > 0:
                items.append(f"<li>… and {more} more (results.json: summary.errors, summary.notes)</li>")
            problems = f'<ul class="run-problems">{"".join(items)}</ul>\n'
        nav = [
            ("failing", f"Failing rules ({len(self.failing)})"),
            ("summary", "Summary"),
            ("matrix", "Compliance matrix"),
            ("capabilities", "Capabilities"),
            ("violations", f"Violations ({n_viol})"),
            ("waived", f"Waived ({s.counts.get('waived', 0)})"),
            ("warnings", f"Warnings ({s.counts.get('warning', 0)})"),
            ("notes", "Notes"),
            ("checked", "Checked rules"),
            ("catalogue", "Rule catalogue"),
        ]
        links = [f'<a href="#{k}">{self.t(v)}</a>' for k, v in nav]
        if self.pytest_html_href:
            links.append(f'<a href="{html.escape(self.pytest_html_href, quote=True)}">pytest-html log</a>')
        where = endpoint_text(tg.endpoint_host, getattr(tg, "endpoint_path", "")) or "no endpoint"
        return (
            '<header id="top">\n<div class="masthead"><h1>Conformance report</h1>'
            f'<span class="sub">{self.t(tg.api)} {self.t(tg.api_version)} · {self.t(where)}</span></div>\n'
            f'<div class="verdict {cls}" role="status"><span class="icon" aria-hidden="true">{icon}</span>'
            f'<div><div class="big">{self.t(label)}</div>'
            f'<div class="why">Profile <strong>{self.t(tg.profile)}</strong> · depth '
            f"<strong>{self.t(tg.depth)}</strong> · {self.t(why)}</div></div></div>\n"
            f"{problems}"
            f'<nav class="toc" aria-label="Sections">{" ".join(links)}</nav>\n</header>'
        )

    # -- filters --------------------------------------------------------------------------------
    def filters(self) -> str:
        """The filter bar. `hidden` until the script shows it: without scripts everything is listed."""
        counts = self.s.counts
        outcomes = [o for o in OUTCOMES if counts.get(o)] + sorted(
            {r.outcome for r in self.r.results} - set(OUTCOMES)
        )
        boxes = "".join(
            f'<label class="chk {_css_class(o)}"><input type="checkbox" name="o" value="{self.t(o)}" checked> '
            f"{self.t(_outcome_word(o))} <span class=\"muted\">{counts.get(o, 0)}</span></label>"
            for o in outcomes
        )
        fams = "".join(f'<option value="{self.t(f)}">{self.t(f)}</option>' for f in self.matrix.families)
        ops = "".join(f'<option value="{self.t(o)}">{self.t(o)}</option>' for o in self.matrix.operations)
        return (
            '<form id="filters" class="filters" role="search" aria-label="Filter the findings" hidden>'
            '<label class="search">Search <input type="search" name="q" placeholder="rule, message, path, value…" '
            'autocomplete="off"></label>'
            f'<fieldset><legend class="offscreen">Outcome</legend>{boxes}</fieldset>'
            f'<label>Family <select name="family"><option value="">all</option>{fams}</select></label>'
            f'<label>Operation <select name="op"><option value="">all</option>{ops}</select></label>'
            '<button type="reset">Show all</button>'
            '<output class="shown muted" aria-live="polite"></output></form>'
        )

    # -- failing rules --------------------------------------------------------------------------
    def failing_section(self) -> str:
        if not self.failing:
            body = '<p class="empty-note">No rule failed: no violation and no warning.</p>'
        else:
            rows = "".join(self.failing_row(row) for row in self.failing)
            body = (
                '<div class="scroll"><table class="failing"><thead><tr><th scope="col">Rule</th>'
                '<th scope="col">Statement</th><th scope="col">Operations</th>'
                '<th scope="col" class="num">Occurrences</th><th scope="col">Level</th>'
                f'<th scope="col">Simplest reproduction</th></tr></thead><tbody>{rows}</tbody></table></div>'
            )
        return (
            '<section id="failing">\n<h2>Failing rules</h2>\n'
            '<p class="muted small">Each rule that failed, worst first: where it failed, how often, and the '
            "simplest request that shows it. The rule leads to its details.</p>\n"
            f"{body}\n</section>"
        )

    def failing_row(self, row: FailingRule) -> str:
        first = self.card_ids[id(row.results[0])]
        ops = ", ".join(
            f'<a href="#{self.card_ids[id(r)]}">{self.t(operation_name(r))}</a>' for r in row.results[:12]
        )
        if len(row.results) > 12:
            ops += f" <span class=\"muted\">and {len(row.results) - 12} more</span>"
        repro = '<span class="muted">no exchange recorded</span>'
        if row.example is not None:
            repro = self.reproduction(row.example.get("exchange"))
        return (
            f'<tr{self.filter_attrs(row.outcome, row.family, row.operations)}>'
            f'<td class="rid"><a href="#{first}"><code>{self.t(row.rule_id)}</code></a>'
            f"<br>{self.badge(row.outcome)}</td>"
            f"<td>{self.t(self.rules.statement(row.rule_id), 400)}</td>"
            f'<td data-label="Operations">{ops}</td>'
            f'<td class="num" data-label="Occurrences">{row.occurrences}</td>'
            f'<td class="lvl" data-label="Level">{self.t(row.level or "–")}</td>'
            f'<td class="repro" data-label="Simplest reproduction">{repro}</td></tr>'
        )

    def reproduction(self, ref: Any) -> str:
        """A one-line request summary with its curl line behind a copy button."""
        ex = self.lookup(ref)
        if ex is None:
            return '<span class="muted">no exchange recorded</span>'
        line = f"<code>{self.request_summary(ex)}</code>"
        if not ex.get("curl"):
            return line
        if len(str(ex["curl"])) > TABLE_CURL_LIMIT:
            return f'{line}<br><span class="muted small">curl line: in the details (too long for this table)</span>'
        cid = self.next_id("curl")
        return (
            f'{line} <button type="button" class="copy inline" data-copy="{cid}" hidden>Copy curl</button>'
            f'<details class="curl-box"><summary>curl line</summary>'
            f'<pre id="{cid}">{self.t(ex["curl"], BODY_LIMIT)}</pre></details>'
        )

    def request_summary(self, ex: dict[str, Any]) -> str:
        """`METHOD /short/url → status`, escaped: how a finding's request is named in one line."""
        req = ex.get("request") if isinstance(ex.get("request"), dict) else {}
        resp = ex.get("response") if isinstance(ex.get("response"), dict) else None
        status = self.t(resp.get("status")) if resp else "no response"
        label = f"{req.get('method', '')} {_short_url(req.get('url'))}"
        return f"{self.t(label, 300)} → {status}"

    def lookup(self, ref: Any) -> dict[str, Any] | None:
        if isinstance(ref, dict):
            return ref
        if isinstance(ref, str) and isinstance(self.r.exchanges.get(ref), dict):
            return self.r.exchanges[ref]
        return None

    # -- summary --------------------------------------------------------------------------------
    def summary(self) -> str:
        s = self.s
        chips = []
        for outcome, word, target in _COUNT_CHIPS:
            n = s.counts.get(outcome, 0)
            zero = " zero" if n == 0 else ""
            chips.append(
                f'<a class="count {_css_class(outcome)}{zero}" href="#{target}">'
                f'<span class="n">{n}</span><span class="what">{self.t(word)}</span></a>'
            )
        tok = s.tokens or {}
        run_rows = [
            ("Spec file", s.spec_file),
            ("Spec sha256", s.spec_sha256),
            ("Suite version", s.suite_version),
            ("Started", s.started),
            ("Duration", _duration(s.duration_s)),
            ("Requests sent", f"{s.requests} ({s.retries} retries)"),
            (
                "Tokens",
                f"{tok.get('prompt', 0)} prompt · {tok.get('completion', 0)} completion · {tok.get('total', 0)} total",
            ),
            ("Seed", "–" if s.seed is None else s.seed),
        ]
        chart = render_chart(self.matrix, self.t, _css_class)
        picture = ""
        if chart:
            legend = " ".join(self.badge(o) for o in OUTCOMES if any(
                r.outcome == o for r in self.r.results
            ))
            picture = (
                '<figure class="picture"><figcaption>Outcomes per rule family '
                '<span class="muted">(rule × operation, the numbers of the matrix)</span></figcaption>'
                f'{chart}<div class="legend">{legend}</div></figure>'
            )
        return (
            '<section id="summary">\n<h2>Summary</h2>\n'
            f'<div class="counts">{"".join(chips)}</div>\n{picture}\n<div class="facts">'
            f'<section class="target"><h3>Target</h3>{self.kv(self.target_rows())}</section>'
            f"<section><h3>Run</h3>{self.kv(run_rows)}</section></div>\n"
            f"{self.stale_waivers()}</section>"
        )

    def target_rows(self) -> list[tuple[str, Any]]:
        """What was tested: never a secret (no userinfo, no query string)."""
        tg = self.s.target
        endpoint = endpoint_text(tg.endpoint_host, getattr(tg, "endpoint_path", "")) or "–"
        if tg.reference:
            endpoint += " (embedded reference deployment)"
        claimed = self.r.capabilities.get("claimed") if isinstance(self.r.capabilities, dict) else None
        claimed = claimed if isinstance(claimed, dict) else {}
        versions = claimed.get("api_versions")
        version_text = str(tg.api_version)
        if isinstance(versions, list) and versions:
            version_text += f" (claimed: {', '.join(map(str, versions))})"
        models = getattr(tg, "models", None) or {}
        label = "Deployments" if tg.api == "azure-openai" else "Models"
        rows: list[tuple[str, Any]] = [
            ("Endpoint", endpoint),
            ("API", tg.api),
            ("api-version", version_text),
        ]
        if isinstance(models, dict) and models:
            rows.append((label, " · ".join(f"{k}: {v}" for k, v in models.items())))
        rows += [("Profile", tg.profile), ("Depth", tg.depth)]
        rows.append(("Claimed capabilities", self.claimed_text(claimed)))
        rows.append(("Budget", self.budget_text(self.s.budget)))
        return rows

    @staticmethod
    def claimed_text(claimed: dict[str, Any]) -> str:
        """`streaming, tools · unsupported: audio · embedding_dimensions [256, 1024]`."""
        yes = [str(k) for k, v in claimed.items() if v is True]
        no = [str(k) for k, v in claimed.items() if v is False]
        other = [
            f"{k} {json.dumps(v, ensure_ascii=False, default=str)}"
            for k, v in claimed.items()
            if not isinstance(v, bool) and k != "api_versions"
        ]
        parts = []
        if yes:
            parts.append(", ".join(yes))
        if no:
            parts.append("unsupported: " + ", ".join(no))
        parts += other
        return " · ".join(parts) or "none claimed (discovered during the run)"

    def kv(self, rows: Iterable[tuple[str, Any]]) -> str:
        items = "".join(f"<dt>{self.t(k)}</dt><dd>{self.t(v)}</dd>" for k, v in rows)
        return f'<dl class="kv">{items}</dl>'

    @staticmethod
    def budget_text(budget: dict[str, Any]) -> str:
        """Render the plugin's budget dict: "57 of 200 requests used · max_tokens: 50000"."""
        if not budget:
            return "no limit"
        limit = budget.get("limit", budget.get("max_requests"))
        parts = [f"{budget.get('used', '?')} of {'unlimited' if limit is None else limit} requests used"]
        parts += [
            f"{k}: {'no limit' if v is None else v}"
            for k, v in budget.items()
            if k not in ("used", "limit", "max_requests")
        ]
        return " · ".join(parts)

    def stale_waivers(self) -> str:
        stale = [w for w in self.s.stale_waivers if isinstance(w, dict)]
        if not stale:
            return ""
        rows = "".join(
            f"<tr><td>{self.t(w.get('kind'))}</td><td>{self.rule_link(str(w.get('rule', '')))}</td>"
            f"<td>{self.t(w.get('operation', '*'))}</td><td>{self.t(w.get('reason'))}</td>"
            f"<td>{self.t(w.get('expires') or '–')}</td></tr>"
            for w in stale
        )
        return (
            f'<h3>Stale waivers ({len(stale)})</h3><p class="muted small">Expired waivers no longer apply; '
            "unmatched ones match no violation of this run. Review and remove them.</p>"
            f'<div class="scroll"><table><thead><tr><th>Kind</th><th>Rule</th><th>Operation</th><th>Reason</th>'
            f"<th>Expires</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )

    # -- matrices -------------------------------------------------------------------------------
    def matrix_section(self) -> str:
        m = self.matrix
        if not m.operations:
            return '<section id="matrix"><h2>Compliance matrix</h2><p class="empty-note">No rule was judged.</p></section>'
        head = "".join(f'<th scope="col">{self.t(f)}</th>' for f in m.families)
        rows = []
        for op in m.operations:
            cells = []
            for fam in m.families:
                cell = m.cell(op, fam)
                if cell is None:
                    cells.append('<td class="empty">–</td>')
                    continue
                worst = cell.worst
                mark = self.t(_OUTCOME_TEXT.get(worst, worst).split(" ")[0])
                items = [count_text(o, n) for o, n in cell.counts.items()]
                words = " ".join(
                    f'<span class="w">{(mark + " ") if i == 0 else ""}{self.t(text)}'
                    f'{"" if i == len(items) - 1 else "<span class=sep> ·</span>"}</span>'
                    for i, text in enumerate(items)
                )
                cells.append(f'<td class="{_css_class(worst)}"><a href="#{cell.anchor}">{words}</a></td>')
            rows.append(f'<tr><th scope="row" class="op">{self.t(op)}</th>{"".join(cells)}</tr>')
        legend = " ".join(self.badge(o) for o in OUTCOMES)
        return (
            '<section id="matrix">\n<h2>Compliance matrix</h2>\n'
            '<p class="muted small">Operations by rule family. Each cell shows its worst outcome first and '
            "links to the rules behind it.</p>\n"
            f'<div class="legend">{legend}</div>\n'
            f'<div class="scroll matrix-box"><table class="matrix"><thead><tr><th scope="col">Operation</th>{head}'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>\n</section>"
        )

    def capabilities(self) -> str:
        rows = capability_rows(self.r.capabilities or {})
        contradictions = self.r.capabilities.get("contradictions") if self.r.capabilities else None
        parts = ['<section id="capabilities">\n<h2>Capabilities</h2>']
        if not rows and not contradictions:
            parts.append('<p class="empty-note">No capability was claimed or discovered.</p>')
        if rows:
            status_cls = {"contradiction": "o-violation", "consistent": "o-pass"}
            body = "".join(
                f'<tr><th scope="row">{self.t(c.name)}</th><td>{self.t(c.claimed or "–")}</td>'
                f"<td>{self.t(c.discovered or '–')}</td>"
                f'<td class="{status_cls.get(c.status, "o-not_applicable")}">{self.t(c.status)}</td></tr>'
                for c in rows
            )
            parts.append(
                '<div class="scroll"><table><thead><tr><th>Capability</th><th>Claimed</th><th>Discovered</th>'
                f"<th>Status</th></tr></thead><tbody>{body}</tbody></table></div>"
            )
        if isinstance(contradictions, list) and contradictions:
            items = "".join(f"<li>{self.t(c)}</li>" for c in contradictions)
            parts.append(f"<h3>Contradictions</h3><ul>{items}</ul>")
        parts.append("</section>")
        return "\n".join(parts)

    def clients(self) -> str:
        cards = {(r.rule_id, r.operation_id): self.card_ids[id(r)] for r in self.r.results if r.findings}

        def link(entry: dict[str, Any]) -> str | None:
            card = cards.get((entry.get("rule"), entry.get("operation")))
            return f"#{card}" if card else None

        return clients_section(self.r.clients, self.t, link)

    # -- findings -------------------------------------------------------------------------------
    def card_order(self, r: RuleResult) -> tuple[int, str, str]:
        families = self.matrix.families
        fam = self.family(r)
        return (families.index(fam) if fam in families else len(families), r.rule_id, operation_name(r))

    def findings_sections(self) -> str:
        ordered = sorted(self.r.results, key=self.card_order)
        out = []
        for section, outcome, title, empty in _SECTIONS:
            chosen = [r for r in ordered if r.outcome == outcome]
            if outcome == "violation":  # foreign outcomes are shown with the violations, never dropped
                chosen += [r for r in ordered if r.outcome not in OUTCOMES]
            cards = "\n".join(self.card(r) for r in chosen) or f'<p class="empty-note">{empty}</p>'
            extra = "" if outcome == "violation" else ' class="noprint"'
            out.append(
                f'<section id="{section}"{extra}>\n<h2>{title} ({len(chosen)})</h2>\n{cards}\n</section>'
            )
        return "\n".join(out)

    def card(self, r: RuleResult) -> str:
        rule = self.rules.get(r.rule_id)
        findings = counted_findings(r)
        errata = sorted({str(f["erratum"]) for f in findings if f.get("erratum")})
        meta: list[tuple[str, Any]] = [
            ("Source", rule.source if rule else UNKNOWN),
            ("Family", self.family(r)),
            ("Level", r.level or (rule.level.value if rule else "")),
        ]
        meta += [("Erratum", e) for e in errata]
        if r.reason:
            meta.append(("Waived because" if r.outcome == "waived" else "Reason", r.reason))
        groups = group_findings(findings, self.r.exchanges)
        shown = []
        for g in groups[:GROUPS_PER_CARD]:
            item = self.group(g) if self.left > 0 else ""
            if not item:
                break
            self.left -= len(item.encode("utf-8"))
            shown.append(item)
        items = "\n".join(shown)
        if len(shown) < len(groups):
            rest = groups[len(shown):]
            why = "in results.json" if len(shown) == GROUPS_PER_CARD else (
                f"in results.json (left out here to keep this page under {PAGE_LIMIT // 1_000_000} MB)"
            )
            if len(shown) < GROUPS_PER_CARD:
                self.cut += len(rest)
            items += (
                f'<li class="cut">{len(rest)} more distinct finding{"" if len(rest) == 1 else "s"} '
                f"({sum(g.count for g in rest)} occurrences) {why}</li>"
            )
        listed = f'<ol class="findings">{items}</ol>' if items else ""
        counted = (
            f' <span class="muted">· {len(findings)} occurrence{"" if len(findings) == 1 else "s"}'
            f'{f" in {len(groups)} groups" if len(groups) > 1 else ""}</span>'
            if findings
            else ""
        )
        tests = ""
        if r.tests:
            listed_tests = "".join(f"<li><code>{self.t(t, 300)}</code></li>" for t in r.tests[:30])
            more = f"<li>… {len(r.tests) - 30} more</li>" if len(r.tests) > 30 else ""
            n = len(r.tests)
            tests = (
                f'<details class="tests"><summary>Judged by {n} test{"" if n == 1 else "s"}</summary>'
                f"<ul>{listed_tests}{more}</ul></details>"
            )
        return (
            f'<article class="card {_css_class(r.outcome)}" id="{self.card_ids[id(r)]}"'
            f"{self.filter_attrs(r.outcome, self.family(r), [operation_name(r)])}>\n"
            f"<header>{self.badge(r.outcome)} {self.rule_link(r.rule_id)} "
            f'<span class="muted">on</span> <strong>{self.t(operation_name(r))}</strong>{counted}</header>\n'
            f'<p class="statement">{self.t(rule.statement if rule else UNKNOWN)}</p>\n'
            f"{self.kv(meta)}{tests}\n{listed}\n</article>"
        )

    def finding_rows(self, f: dict[str, Any]) -> list[tuple[str, Any]]:
        rows: list[tuple[str, Any]] = []
        if f.get("path"):
            rows.append(("At", f["path"]))
        if f.get("value") is not None:
            rows.append(("Value", f["value"]))
        for key, label in (
            ("pointer", "Schema"),
            ("keyword", "Keyword"),
            ("variant", "Variant"),
            ("erratum", "Erratum"),
            ("waived", "Waived"),
        ):
            if f.get(key):
                rows.append((label, f[key]))
        return rows

    def group(self, g: FindingGroup) -> str:
        """One distinct finding: its simplest example in full, the other occurrences on demand."""
        f = g.example
        rows = self.finding_rows(f)
        times = f' <span class="times" title="identical findings">× {g.count}</span>' if g.count > 1 else ""
        ex = self.lookup(f.get("exchange"))
        why = ""
        if g.count > 1 and ex is not None:
            kind = "a generated request" if is_generated(ex) else "a hand-written request"
            why = f'<p class="small muted">Shown: the smallest exchange with this finding ({kind}).</p>'
        return (
            f'<li class="finding">{self.badge(g.level)} <span class="msg">{self.t(f.get("message", ""))}</span>'
            f"{times}{self.kv(rows) if rows else ''}{why}{self.exchange(f.get('exchange'))}"
            f"{self.occurrences(g)}</li>"
        )

    def occurrences(self, g: FindingGroup) -> str:
        others = g.others
        if not others:
            return ""
        items = []
        for f in others[:OCCURRENCES_LISTED]:
            where = f" <span class=\"muted\">at</span> <code>{self.t(f['path'], 300)}</code>" if f.get("path") else ""
            value = f" = <code>{self.t(f['value'], 300)}</code>" if f.get("value") is not None else ""
            items.append(f"<li>{self.t(f.get('message', ''), 600)}{where}{value}{self.request_line(f.get('exchange'))}</li>")
        if len(others) > OCCURRENCES_LISTED:
            items.append(f"<li>… and {len(others) - OCCURRENCES_LISTED} more in results.json</li>")
        n = len(others)
        return (
            f'<details class="more"><summary>{n} more occurrence{"" if n == 1 else "s"} of this finding</summary>'
            f'<ul class="occurrences">{"".join(items)}</ul></details>'
        )

    def request_line(self, ref: Any) -> str:
        ex = self.lookup(ref)
        if ex is None:
            return ""
        text = f'<br><code class="req">{self.request_summary(ex)}</code>'
        if ex.get("purpose"):
            text += f' <span class="muted">({self.t(ex["purpose"], 200)})</span>'
        if isinstance(ref, str) and ref in self.shown_exchanges:
            text += f' <a href="#{anchor("ex", ref)}">full exchange</a>'
        elif isinstance(ref, str):
            text += f' <span class="muted">exchange <code>{self.t(ref, 60)}</code> in results.json</span>'
        return text

    def notes(self) -> str:
        ordered = sorted(self.r.results, key=lambda r: (operation_name(r), r.rule_id))
        notes = [
            (r, f) for r in ordered for f in r.findings if isinstance(f, dict) and f.get("level") == "note"
        ]
        if not notes:
            body = '<p class="empty-note">No notes.</p>'
        else:
            items = "".join(
                f"<li>{self.rule_link(r.rule_id)} on <strong>{self.t(operation_name(r))}</strong>: "
                f"{self.t(f.get('message', ''), 400)}"
                + (
                    f" <span class='muted'>at</span> <code>{self.t(f['path'], 200)}</code>"
                    if f.get("path")
                    else ""
                )
                + (f" = <code>{self.t(f['value'], 200)}</code>" if f.get("value") is not None else "")
                + "</li>"
                for r, f in notes[:NOTES_LISTED]
            )
            more = (
                f'<p class="muted small">{len(notes) - NOTES_LISTED} more in results.json</p>'
                if len(notes) > NOTES_LISTED
                else ""
            )
            body = (
                f'<details class="section"><summary>{len(notes)} informational notes (never fail anything)'
                f"</summary><ul>{items}</ul>{more}</details>"
            )
        return f'<section id="notes" class="noprint">\n<h2>Notes</h2>\n{body}\n</section>'

    # -- exchanges ------------------------------------------------------------------------------
    def exchange(self, ref: Any) -> str:
        if isinstance(ref, dict):  # an inline exchange instead of a reference
            key, ex = self.next_id("inline"), ref
        elif isinstance(ref, str) and isinstance(self.r.exchanges.get(ref), dict):
            key, ex = ref, self.r.exchanges[ref]
        else:
            return f'<p class="muted small">Exchange {self.t(ref)} not recorded.</p>' if ref else ""
        req = ex.get("request") if isinstance(ex.get("request"), dict) else {}
        resp = ex.get("response") if isinstance(ex.get("response"), dict) else None
        status = (
            f"→ {self.t(resp.get('status'))}" if resp else f"→ {self.t(ex.get('error') or 'no response')}"
        )
        purpose = f' <span class="muted">({self.t(ex["purpose"])})</span>' if ex.get("purpose") else ""
        line = (
            f'<p class="reqline"><code>{self.t(req.get("method", ""))} {self.t(mask_url(req.get("url")))}</code> '
            f"<strong>{status}</strong>{purpose}</p>"
        )
        curl = ""
        if ex.get("curl"):
            cid = self.next_id("curl")
            curl = (
                f'<div class="curl"><pre id="{cid}">{self.t(ex["curl"], BODY_LIMIT)}</pre>'
                f'<button type="button" class="copy" data-copy="{cid}" hidden>Copy curl</button></div>'
            )
        ex_id = anchor("ex", key)
        if key in self.shown_exchanges:
            full = f'<p class="small"><a href="#{ex_id}">Full exchange shown above</a></p>'
        else:
            self.shown_exchanges.add(key)
            detail = self.exchange_detail(ex, req, resp, key)
            full = f'<details id="{ex_id}"><summary>Full exchange</summary>{detail}</details>'
        return f'<div class="exchange">{line}{curl}{full}</div>'

    def body_text(self, text: str, key: str) -> str:
        where = f"exchange {key} in results.json"
        return self.t(_cut_middle(text, BODY_SHOWN, where), BODY_SHOWN + 400)

    def exchange_detail(
        self, ex: dict[str, Any], req: dict[str, Any], resp: dict[str, Any] | None, key: str = ""
    ) -> str:
        parts = [
            "<h4>Request</h4>",
            f"<pre>{self.t(str(req.get('method', '')) + ' ' + mask_url(req.get('url')))}\n"
            f"{self.headers(req.get('headers'))}</pre>",
        ]
        if req.get("body"):
            parts.append(f"<pre>{self.body_text(_pretty_body(str(req['body'])), key)}</pre>")
        if ex.get("source"):
            parts.append(f'<p class="small muted">Recorded in {self.t(ex["source"])}</p>')
        if resp is None:
            parts.append(
                f"<h4>No response</h4><pre>{self.t(ex.get('error') or 'no response recorded')}</pre>"
            )
            return "".join(parts)
        headers = mask_headers(resp.get("headers"))
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        stream = "text/event-stream" in ctype.lower() or ex.get("stream") is not None
        extra = []
        if resp.get("elapsed") is not None:
            extra.append(f"{resp['elapsed']} s")
        if resp.get("truncated"):
            extra.append("body truncated by the client's size limit")
        parts.append(f"<h4>Response {self.t(' · '.join([str(resp.get('status')), *extra]))}</h4>")
        parts.append(f"<pre>{self.headers(headers)}</pre>")
        body = resp.get("body")
        if body:
            label = "Stream transcript (raw event stream)" if stream else "Body"
            text = str(body) if stream else _pretty_body(str(body))
            parts.append(f'<p class="small muted">{label}</p><pre>{self.body_text(text, key)}</pre>')
        if ex.get("stream") is not None:
            rendered = json.dumps(ex["stream"], indent=2, ensure_ascii=False, default=str)
            parts.append(f'<p class="small muted">Parsed events</p><pre>{self.body_text(rendered, key)}</pre>')
        if ex.get("error"):
            parts.append(f"<h4>Transport error</h4><pre>{self.t(ex['error'])}</pre>")
        return "".join(parts)

    def headers(self, headers: Any) -> str:
        items = list(mask_headers(headers).items())
        lines = [f"{k}: {v}" for k, v in items[:HEADER_LIMIT]]
        if len(items) > HEADER_LIMIT:
            lines.append(f"… {len(items) - HEADER_LIMIT} more headers")
        return self.t("\n".join(lines), BODY_LIMIT)

    # -- what was checked -----------------------------------------------------------------------
    def checked(self) -> str:
        m = self.matrix
        blocks = []
        for op in m.operations:
            fams = []
            for fam in m.families:
                cell = m.cell(op, fam)
                if cell is None:
                    continue
                items = "".join(self.checked_item(r) for r in sorted(cell.results, key=self.check_order))
                fams.append(
                    f'<div class="fam" id="{cell.anchor}" data-group><h4>{self.t(fam)} '
                    f'<span class="muted">· {self.t(cell.label)}</span></h4>'
                    f'<ul class="checked">{items}</ul></div>'
                )
            blocks.append(
                f'<div class="op-block" id="{anchor("op", op)}" data-group><h3>{self.t(op)}</h3>{"".join(fams)}</div>'
            )
        body = "".join(blocks) or '<p class="empty-note">No rule was judged.</p>'
        return (
            '<section id="checked" class="noprint">\n<h2>Checked rules</h2>\n'
            '<p class="muted small">Every rule judged, per operation and family, so you can see what was '
            f'checked. Failing entries link to their details.</p>\n<div class="ops">{body}</div>\n</section>'
        )

    @staticmethod
    def check_order(r: RuleResult) -> tuple[int, str]:
        return (outcome_rank(r.outcome), r.rule_id)

    def checked_item(self, r: RuleResult) -> str:
        word = _OUTCOME_TEXT.get(r.outcome, r.outcome)
        if r.outcome in ("pass", "not_applicable", "not_judged"):
            state = f'<span class="{_css_class(r.outcome)}">{self.t(word)}</span>'
        else:
            state = f'<a class="{_css_class(r.outcome)}" href="#{self.card_ids[id(r)]}">{self.t(word)}</a>'
        reason = f' <span class="muted">({self.t(r.reason, 200)})</span>' if r.reason else ""
        return (
            f'<li title="{self.t(self.rules.statement(r.rule_id), 300)}"'
            f"{self.filter_attrs(r.outcome, self.family(r), [operation_name(r)])}>"
            f"{self.rule_link(r.rule_id)}: {state}{reason}</li>"
        )

    def catalogue(self) -> str:
        rules = self.rules.ordered()
        unknown = sorted({r.rule_id for r in self.r.results} - set(self.rules.rules))
        unknown += sorted(
            {str(w.get("rule", "")) for w in self.s.stale_waivers if isinstance(w, dict)}
            - set(self.rules.rules)
            - set(unknown)
        )
        rows = [
            f'<tr id="{anchor("rule", rule.id)}"><td><code>{self.t(rule.id)}</code></td><td>{self.t(rule.family)}</td>'
            f"<td>{self.t(rule.level.value)}</td><td>{self.t(rule.statement)}</td>"
            f'<td class="small">{self.t(rule.source)}</td></tr>'
            for rule in rules
        ]
        rows += [
            f'<tr id="{anchor("rule", rid)}"><td><code>{self.t(rid)}</code></td><td>–</td><td>–</td>'
            f"<td>{UNKNOWN}</td><td>–</td></tr>"
            for rid in unknown
        ]
        note = ""
        if self.rules.error:
            note = f'<p class="muted small">The rule catalogue could not be fully loaded: {self.t(self.rules.error)}</p>'
        return (
            '<section id="catalogue" class="noprint">\n<h2>Rule catalogue</h2>\n'
            f'<p class="muted small">Every rule this suite knows ({len(rules)}), with its source.</p>{note}\n'
            '<div class="scroll"><table class="catalogue"><thead><tr><th>Rule</th><th>Family</th><th>Level</th><th>Statement</th>'
            f"<th>Source</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>\n</section>"
        )

    def footer(self) -> str:
        return (
            f"<footer>Generated by the conformance suite {self.t(self.s.suite_version)} · "
            f"results format {self.t(self.r.format_version)} · machine-readable results in results.json · "
            '<a href="#top">back to top</a></footer>'
        )


def render_html(results: RunResults, *, pytest_html_href: str | None = None) -> str:
    """The self-contained compliance report (inline CSS/JS, no external requests)."""
    page = _Page(results, pytest_html_href)
    return page.scrub(page.render())  # belt and braces: a secret that slipped into our own text
