"""report.html: the compliance report a customer reads, written from RunResults with the stdlib only.

Safety model: every value that came from the target or from a results file goes through `_Page.t`
(scrub registered secrets -> make control characters visible -> `html.escape`); element ids are
derived from hashes (`_safe.anchor`), never copied from data; the only script is our own static
file, and a Content-Security-Policy with the hashes of our inline style and script stops anything
else from running even if an escaping mistake slipped through.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable
from typing import Any

from conformance.report._page import csp_hash, outcome_class, static
from conformance.report._rules import UNKNOWN, RuleBook
from conformance.report._safe import anchor, clip, host_only, mask_headers, mask_url, neutralise, scrubber
from conformance.report.matrix import (
    Matrix,
    capability_rows,
    compliance_matrix,
    count_text,
    operation_name,
    outcome_rank,
)
from conformance.results import OUTCOMES, RuleResult, RunResults

#: Bounds on what one hostile value can add to the page (bodies are already capped by Exchange.to_dict).
BODY_LIMIT = 65536
VALUE_LIMIT = 2000
HEADER_LIMIT = 100
FINDINGS_PER_CARD = 50

_VERDICTS = {
    "conformant": ("Conformant", "v-conformant", "✓"),
    "not conformant": ("Not conformant", "v-not-conformant", "✗"),
    "incomplete": ("Incomplete", "v-incomplete", "?"),
}
_OUTCOME_TEXT = {
    "violation": "✗ violation",
    "waived": "⊘ waived",
    "warning": "! warning",
    "pass": "✓ pass",
    "not_applicable": "– not applicable",
    "skipped": "↷ skipped",
    "note": "i note",
}
_COUNT_CHIPS = (
    ("violation", "violations", "violations"),
    ("waived", "waived", "waived"),
    ("warning", "warnings", "warnings"),
    ("pass", "passes", "checked"),
    ("not_applicable", "not applicable", "checked"),
    ("skipped", "skipped", "checked"),
)


# The page shell and outcome classes are shared with the fleet and trend pages (report/_page.py).
_static, _csp_hash, _css_class = static, csp_hash, outcome_class


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
        self.counter = 0
        self.card_ids = {
            id(r): anchor("r", r.rule_id, r.operation_id, i) for i, r in enumerate(results.results)
        }

    # -- escaping -------------------------------------------------------------------------------
    def t(self, value: Any, limit: int = VALUE_LIMIT) -> str:
        """Server-controlled text -> safe HTML text."""
        text = value if isinstance(value, str) else ("" if value is None else str(value))
        return html.escape(neutralise(clip(self.scrub(text), limit)), quote=True)

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def rule_link(self, rule_id: str) -> str:
        return f'<a class="rule" href="#{anchor("rule", rule_id)}"><code>{self.t(rule_id)}</code></a>'

    def badge(self, outcome: str) -> str:
        text = _OUTCOME_TEXT.get(outcome, outcome)
        return f'<span class="badge {_css_class(outcome)}">{self.t(text)}</span>'

    # -- page -----------------------------------------------------------------------------------
    def render(self) -> str:
        css, js = _static("report.css"), _static("report.js")
        csp = (
            f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
            "img-src data:; base-uri 'none'; form-action 'none'"
        )
        label = _VERDICTS.get(self.s.verdict, (self.s.verdict or "unknown",))[0]
        host = host_only(self.s.target.endpoint_host)
        title = f"Conformance report: {label} ({host or 'no target'})"
        body = "\n".join(
            [
                self.masthead(),
                "<main>",
                self.summary(),
                self.matrix_section(),
                self.capabilities(),
                self.findings_sections(),
                self.checked(),
                self.catalogue(),
                "</main>",
                self.footer(),
            ]
        )
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
        if s.verdict == "not conformant":
            why = f"{count_text('violation', n_viol)} (rule × operation) must be fixed or waived."
        elif s.verdict == "conformant":
            why = "No violation among the rules checked."
        else:
            why = "Too little was checked to conclude."
        errors = list(getattr(s, "errors", None) or [])
        notes = list(getattr(s, "notes", None) or [])
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
        where = host_only(tg.endpoint_host) or "no endpoint"
        return (
            '<header id="top">\n<div class="masthead"><h1>Conformance report</h1>'
            f'<span class="sub">{self.t(tg.api)} {self.t(tg.api_version)} · {self.t(where)}</span></div>\n'
            f'<div class="verdict {cls}" role="status"><span class="icon" aria-hidden="true">{icon}</span>'
            f'<div><div class="big">{self.t(label)}</div>'
            f'<div class="why">Profile <strong>{self.t(tg.profile)}</strong> · {self.t(why)}</div></div></div>\n'
            f"{problems}"
            f'<nav class="toc" aria-label="Sections">{" ".join(links)}</nav>\n</header>'
        )

    def summary(self) -> str:
        s, tg = self.s, self.s.target
        chips = []
        for outcome, word, target in _COUNT_CHIPS:
            n = s.counts.get(outcome, 0)
            zero = " zero" if n == 0 else ""
            chips.append(
                f'<a class="count {_css_class(outcome)}{zero}" href="#{target}">'
                f'<span class="n">{n}</span><span class="what">{self.t(word)}</span></a>'
            )
        target_rows = [
            ("Endpoint host", host_only(tg.endpoint_host) or "–"),
            ("API", tg.api),
            ("api-version", tg.api_version),
            ("Profile", tg.profile),
            ("Depth", tg.depth),
        ]
        if tg.reference:
            target_rows.append(("Deployment", "embedded reference deployment"))
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
            ("Budget", self.budget_text(s.budget)),
            ("Seed", "–" if s.seed is None else s.seed),
        ]
        return (
            '<section id="summary">\n<h2>Summary</h2>\n'
            f'<div class="counts">{"".join(chips)}</div>\n<div class="facts">'
            f"<section><h3>Target</h3>{self.kv(target_rows)}</section>"
            f"<section><h3>Run</h3>{self.kv(run_rows)}</section></div>\n"
            f"{self.stale_waivers()}</section>"
        )

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
                cells.append(
                    f'<td class="{_css_class(worst)}"><a href="#{cell.anchor}">'
                    f"{self.t(_OUTCOME_TEXT.get(worst, worst).split(' ')[0])} {self.t(cell.label)}</a></td>"
                )
            rows.append(f'<tr><th scope="row" class="op">{self.t(op)}</th>{"".join(cells)}</tr>')
        legend = " ".join(self.badge(o) for o in OUTCOMES)
        return (
            '<section id="matrix">\n<h2>Compliance matrix</h2>\n'
            '<p class="muted small">Operations by rule family. Each cell shows its worst outcome first and '
            "links to the rules behind it.</p>\n"
            f'<div class="legend">{legend}</div>\n'
            f'<div class="scroll"><table class="matrix"><thead><tr><th scope="col">Operation</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>\n</section>"
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

    # -- findings -------------------------------------------------------------------------------
    def findings_sections(self) -> str:
        ordered = sorted(self.r.results, key=lambda r: (operation_name(r), r.rule_id))
        out = []
        for section, outcome, title, empty in (
            ("violations", "violation", "Violations", "No violations."),
            ("waived", "waived", "Waived", "Nothing was waived."),
            ("warnings", "warning", "Warnings", "No warnings."),
        ):
            chosen = [r for r in ordered if r.outcome == outcome]
            if outcome == "violation":  # foreign outcomes are shown with the violations, never dropped
                chosen += [r for r in ordered if r.outcome not in OUTCOMES]
            cards = "\n".join(self.card(r) for r in chosen) or f'<p class="empty-note">{empty}</p>'
            extra = "" if outcome == "violation" else ' class="noprint"'
            out.append(
                f'<section id="{section}"{extra}>\n<h2>{title} ({len(chosen)})</h2>\n{cards}\n</section>'
            )
        out.append(self.notes(ordered))
        return "\n".join(out)

    def card(self, r: RuleResult) -> str:
        rule = self.rules.get(r.rule_id)
        findings = [f for f in r.findings if isinstance(f, dict) and f.get("level") != "note"]
        errata = sorted({str(f["erratum"]) for f in findings if f.get("erratum")})
        meta: list[tuple[str, Any]] = [
            ("Source", rule.source if rule else UNKNOWN),
            ("Family", self.rules.family(r.rule_id, r.family)),
            ("Level", r.level or (rule.level.value if rule else "")),
        ]
        meta += [("Erratum", e) for e in errata]
        if r.reason:
            meta.append(("Waived because" if r.outcome == "waived" else "Reason", r.reason))
        if r.tests:
            meta.append(("Judged by", ", ".join(r.tests[:10]) + (" …" if len(r.tests) > 10 else "")))
        items = "\n".join(self.finding(f) for f in findings[:FINDINGS_PER_CARD])
        if len(findings) > FINDINGS_PER_CARD:
            items += f"<li>{len(findings) - FINDINGS_PER_CARD} more findings in results.json</li>"
        listed = f'<ol class="findings">{items}</ol>' if items else ""
        return (
            f'<article class="card {_css_class(r.outcome)}" id="{self.card_ids[id(r)]}">\n'
            f"<header>{self.badge(r.outcome)} {self.rule_link(r.rule_id)} "
            f'<span class="muted">on</span> <strong>{self.t(operation_name(r))}</strong></header>\n'
            f'<p class="statement">{self.t(rule.statement if rule else UNKNOWN)}</p>\n'
            f"{self.kv(meta)}\n{listed}\n</article>"
        )

    def finding(self, f: dict[str, Any]) -> str:
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
        level = str(f.get("level") or "violation")
        return (
            f'<li class="finding">{self.badge(level)} <span class="msg">{self.t(f.get("message", ""))}</span>'
            f"{self.kv(rows) if rows else ''}{self.exchange(f.get('exchange'))}</li>"
        )

    def notes(self, ordered: list[RuleResult]) -> str:
        notes = [
            (r, f) for r in ordered for f in r.findings if isinstance(f, dict) and f.get("level") == "note"
        ]
        if not notes:
            body = '<p class="empty-note">No notes.</p>'
        else:
            items = "".join(
                f"<li>{self.rule_link(r.rule_id)} on <strong>{self.t(operation_name(r))}</strong>: "
                f"{self.t(f.get('message', ''))}"
                + (
                    f" <span class='muted'>at</span> <code>{self.t(f['path'])}</code>"
                    if f.get("path")
                    else ""
                )
                + (f" = <code>{self.t(f['value'])}</code>" if f.get("value") is not None else "")
                + "</li>"
                for r, f in notes[:1000]
            )
            body = (
                f'<details class="section"><summary>{len(notes)} informational notes (never fail anything)'
                f"</summary><ul>{items}</ul></details>"
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
                f'<button type="button" class="copy" data-copy="{cid}">Copy curl</button></div>'
            )
        ex_id = anchor("ex", key)
        if key in self.shown_exchanges:
            full = f'<p class="small"><a href="#{ex_id}">Full exchange shown above</a></p>'
        else:
            self.shown_exchanges.add(key)
            full = (
                f'<details id="{ex_id}"><summary>Full exchange</summary>'
                f"{self.exchange_detail(ex, req, resp)}</details>"
            )
        return f'<div class="exchange">{line}{curl}{full}</div>'

    def exchange_detail(self, ex: dict[str, Any], req: dict[str, Any], resp: dict[str, Any] | None) -> str:
        parts = [
            "<h4>Request</h4>",
            f"<pre>{self.t(str(req.get('method', '')) + ' ' + mask_url(req.get('url')))}\n"
            f"{self.headers(req.get('headers'))}</pre>",
        ]
        if req.get("body"):
            parts.append(f"<pre>{self.t(_pretty_body(str(req['body'])), BODY_LIMIT)}</pre>")
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
            parts.append(f'<p class="small muted">{label}</p><pre>{self.t(text, BODY_LIMIT)}</pre>')
        if ex.get("stream") is not None:
            rendered = json.dumps(ex["stream"], indent=2, ensure_ascii=False, default=str)
            parts.append(f'<p class="small muted">Parsed events</p><pre>{self.t(rendered, BODY_LIMIT)}</pre>')
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
                    f'<div class="fam" id="{cell.anchor}"><h4>{self.t(fam)} <span class="muted">· {self.t(cell.label)}</span></h4>'
                    f'<ul class="checked">{items}</ul></div>'
                )
            blocks.append(
                f'<div class="op-block" id="{anchor("op", op)}"><h3>{self.t(op)}</h3>{"".join(fams)}</div>'
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
        if r.outcome in ("pass", "not_applicable", "skipped"):
            state = f'<span class="{_css_class(r.outcome)}">{self.t(word)}</span>'
        else:
            state = f'<a class="{_css_class(r.outcome)}" href="#{self.card_ids[id(r)]}">{self.t(word)}</a>'
        reason = f' <span class="muted">({self.t(r.reason, 200)})</span>' if r.reason else ""
        return f'<li title="{self.t(self.rules.statement(r.rule_id), 300)}">{self.rule_link(r.rule_id)}: {state}{reason}</li>'

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
