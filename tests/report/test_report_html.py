"""report.html: hostile server text stays inert, credentials never show, anchors resolve, cells read right."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conformance.report import render_html, write_reports
from conformance.results import RuleResult, RunResults, Summary, Target
from conformance.results.pipeline import summarise
from conformance.transport import redact
from tests.report.sample import FAKE_SECRET, SCRIPT, sample_results


class _Scan(HTMLParser):
    """Collects ids, in-page links, script tags and the compliance matrix as text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.scripts = 0
        self.matrix: dict[tuple[str, str], str] = {}
        self._in_matrix = False
        self._header: list[str] = []
        self._row: list[str] = []
        self._cell: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if "href" in a:
            self.hrefs.append(a["href"])
        if "src" in a:
            self.srcs.append(a["src"])
        if tag == "script":
            self.scripts += 1
        if tag == "table" and "matrix" in (a.get("class") or ""):
            self._in_matrix = True
        if self._in_matrix:
            if tag == "thead":
                self._in_head = True
            elif tag == "tr":
                self._row = []
            elif tag in ("td", "th"):
                self._cell = []

    def handle_endtag(self, tag):
        if not self._in_matrix:
            return
        if tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            (self._header if self._in_head else self._row).append(text)
            self._cell = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "tr" and self._row:
            for fam, text in zip(self._header[1:], self._row[1:], strict=True):
                self.matrix[(self._row[0], fam)] = text
        elif tag == "table":
            self._in_matrix = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def page() -> str:
    redact.register_secret(FAKE_SECRET)
    return render_html(sample_results(), pytest_html_href="pytest-html.html")


@pytest.fixture(scope="module")
def scan(page: str) -> _Scan:
    s = _Scan()
    s.feed(page)
    return s


def test_server_markup_is_escaped_never_raw(page: str, scan: _Scan) -> None:
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert scan.scripts == 1  # ours, at the end of the body
    assert page.count("<script>") == 1 and page.rstrip().endswith("</script>\n</body>\n</html>")


def test_terminal_and_bidi_controls_are_made_visible(page: str) -> None:
    assert "\x1b" not in page and "\u202e" not in page
    assert "\\x1b[31m" in page  # the stream transcript and the finding message show it as text
    assert "red\\u202eevil" in page
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", page)


def test_registered_credential_never_appears(page: str) -> None:
    assert FAKE_SECRET not in page
    assert base64.b64encode(FAKE_SECRET.encode()).decode().rstrip("=") not in page
    assert redact.REDACTED in page  # the echo is still visible as redacted, not silently dropped


def test_credential_headers_masked_without_the_registry() -> None:
    results = sample_results(failing=True)
    ex = results.exchanges["x1"]
    ex["request"]["headers"]["Authorization"] = "Bearer unregistered-token-4242"
    ex["request"]["url"] += "&api-key=unregistered-key-4242"
    page = render_html(results)
    assert "unregistered-token-4242" not in page and "unregistered-key-4242" not in page
    assert "Authorization: [redacted]" in page


def test_verdict_counts_and_target(page: str) -> None:
    assert '<div class="big">Not conformant</div>' in page
    assert "Profile <strong>azure</strong>" in page
    for text in (
        "contoso-ai.services.ai.azure.com",
        "2025-05-01",
        "57 (2 retries)",
        "1 min 23 s",
        "1830 prompt · 412 completion · 2242 total",
        "57 of 200 requests used",
        "20250602",
        "3f1c9a7e0b6d4c2a8e5f7b9d1c3a5e7f9b1d3c5a7e9f1b3d5c7a9e1f3b5d7c9a",
    ):
        assert text in page, text
    assert '<span class="n">3</span><span class="what">violations</span>' in page
    assert "Stale waivers (1)" in page and "fixed in May release" in page


def test_matrix_cells_show_worst_outcome_with_counts(scan: _Scan) -> None:
    m = scan.matrix
    assert m[("getChatCompletions", "schema")] == "✗ 1 violation · 1 pass"
    assert m[("getEmbeddings", "extra-parameters")] == "⊘ 1 waived"
    assert m[("getEmbeddings", "errors")] == "! 1 warning"
    assert m[("getEmbeddings", "unsupported-parameters")] == "– 1 n/a"
    assert m[("getEmbeddings", "streaming")] == "–"  # empty cell
    # FAMILIES order; never-used families hidden; an unregistered rule's family is "other", last.
    header = [fam for (op, fam) in m if op == "getChatCompletions"]
    assert header == [
        "schema",
        "streaming",
        "errors",
        "auth",
        "extra-parameters",
        "unsupported-parameters",
        "semantics",
        "other",
    ]


def test_every_in_page_link_resolves_and_ids_are_unique(scan: _Scan) -> None:
    assert len(scan.ids) == len(set(scan.ids))
    local = [h[1:] for h in scan.hrefs if h.startswith("#")]
    assert local and set(local) <= set(scan.ids)
    # No external requests: nothing loads from anywhere, links leave only to the pytest-html page.
    assert scan.srcs == []
    assert [h for h in scan.hrefs if not h.startswith("#")] == ["pytest-html.html"]


def test_csp_allows_only_our_inline_script_and_style(page: str) -> None:
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    script = re.search(r"<script>(.*)</script>", page, re.S).group(1)
    style = re.search(r"<style>(.*)</style>", page, re.S).group(1)
    for text, directive in ((script, "script-src"), (style, "style-src")):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp


def test_details_name_rule_path_value_source_and_reproduction(page: str) -> None:
    assert "A successful JSON response body validates" in page  # statement from the catalogue
    assert "$.choices[0].finish_reason" in page and "&quot;exploded&quot;" in page
    assert "2025-05-01#/components/schemas/CompletionsFinishReason" in page
    assert "E-ERROR-DETAIL: serverless models" in page  # erratum cited on the warning
    assert "known on serverless until 2025-09 (ticket 4711)" in page  # waiver reason
    assert 'data-copy="curl-' in page and "$CONFORMANCE_API_KEY" in page
    assert "Stream transcript (raw event stream)" in page
    assert "Full exchange shown above" in page  # x1 is referenced twice, rendered once


def test_unknown_rule_and_missing_exchange_do_not_break_the_report(page: str) -> None:
    assert "X-RETIRED-RULE" in page and "unknown rule" in page
    assert "Exchange x404 not recorded." in page


def test_sections_in_order_violations_first(page: str) -> None:
    order = [
        page.index(f'id="{s}"')
        for s in (
            "summary",
            "matrix",
            "capabilities",
            "violations",
            "waived",
            "warnings",
            "notes",
            "checked",
            "catalogue",
        )
    ]
    assert order == sorted(order)
    assert '<details class="section"><summary>1 informational notes' in page  # notes collapsed
    assert "tools: claimed true, but tool_choice=required returned no tool call" in page
    assert 'class="o-violation">contradiction</td>' in page


def test_conformant_and_incomplete_verdicts() -> None:
    page = render_html(sample_results(failing=False))
    assert '<div class="big">Conformant</div>' in page
    assert "Every rule that applies was judged" in page


def test_a_conformant_run_with_unjudged_warning_rules_says_so() -> None:
    results = sample_results(failing=False)
    results.results.append(RuleResult("CLIENT-CALL", "getChatCompletions", "not_judged", family="interop",
                                      level="warning", reason="the official client is not installed"))
    summarise(results)
    assert results.summary.verdict == "conformant"
    page = render_html(results)
    assert "Every rule that applies was judged" not in page
    assert "Every rule that can fail the run was judged, and none was violated; 1 not judged" in page
    empty = RunResults(
        Summary(
            "",
            {},
            Target("h", "model-inference", "2025-05-01", "strict", "quick", reference=True),
            "",
            "",
            "0.1.0",
            "",
            0.0,
        )
    )
    page = render_html(summarise(empty))
    assert '<div class="big">Incomplete</div>' in page and "embedded reference deployment" in page
    assert "No rule was judged." in page


def test_hostile_results_file_shapes_do_not_crash(tmp_path: Path) -> None:
    results = sample_results()
    results.exchanges["x9"] = {"request": "not a dict", "response": {"headers": ["x"], "body": "\ud800 lone"}}
    results.results.append(
        RuleResult(
            "SCHEMA-RESPONSE",
            '<b onmouseover="x">op</b>',
            "exploded-outcome",
            family="brand-new",
            findings=[{"level": "violation", "exchange": "x9", "message": "a" * 100_000}, "junk"],
        )
    )
    results.capabilities = {"claimed": ["not", "a", "dict"], "contradictions": "nope"}
    written = write_reports(results, tmp_path)
    text = written["html"].read_text(encoding="utf-8")
    assert "&lt;b onmouseover=&quot;x&quot;&gt;op&lt;/b&gt;" in text and "<b onmouseover" not in text
    assert "\\ud800 lone" in text
    assert "more characters]" in text  # the 100 kB message was clipped
    assert written["json"].exists()


def test_failing_rules_table_comes_first_and_lists_every_failing_rule(page: str) -> None:
    table = re.search(r'<section id="failing">(.*?)</section>', page, re.S).group(1)
    assert page.index('id="failing"') < page.index('id="summary"') < page.index('id="matrix"')
    listed = re.findall(r'<td class="rid"><a href="#([^"]+)"><code>([^<]+)</code>', table)
    # Violations first (in family order, an unknown rule's family last), then warnings.
    assert [rule for _, rule in listed] == ["SCHEMA-RESPONSE", "STREAM-DONE", "X-RETIRED-RULE", "ERROR-SHAPE"]
    for card_id, _ in listed:  # each rule leads to its details
        assert re.search(f'<article class="card [^"]*" id="{card_id}"', page), card_id
    assert "EXTRA-PARAMS-ERROR" not in table  # waived: not failing
    # The simplest reproduction: the hand-written request, not the generated one seen first.
    schema_row = table[table.index("SCHEMA-RESPONSE") : table.index("STREAM-DONE")]
    assert "say hello" in schema_row.lower() and "3.57e-154" not in schema_row
    assert 'data-copy="curl-' in schema_row


def test_identical_findings_are_grouped_with_a_count(page: str) -> None:
    card = re.search(r'<article class="card o-violation" id="r-SCHEMA-RESPONSE-getChat.*?</article>', page, re.S)
    text = card.group(0)
    assert text.count('<li class="finding">') == 1 and "× 2" in text
    assert "&#x27;exploded&#x27; is not one of" in text.split('<details class="more">')[0]  # example first
    assert "1 more occurrence of this finding" in text and "imploded" in text.split('<details class="more">')[1]


def test_filters_and_copy_buttons_exist_only_for_scripts(page: str) -> None:
    assert re.search(r'<form id="filters"[^>]* hidden>', page)
    copies = re.findall(r'<button type="button" class="copy[^>]*>', page)
    assert copies and all(b.endswith(" hidden>") for b in copies)
    # Everything filterable says what it is, so the script matches without parsing text.
    for tag in re.findall(r"<(?:tr|article|li)[^>]* data-o=[^>]*>", page):
        assert 'data-f="' in tag and 'data-op="' in tag


def test_target_box_shows_endpoint_path_models_capabilities_and_budget(page: str) -> None:
    target = re.search(r'<section class="target">(.*?)</section>', page, re.S).group(1)
    for text in (
        "contoso-ai.services.ai.azure.com/models",
        "chat: phi-4 · embeddings: cohere-embed-v3",
        "streaming, tools · unsupported: json_schema",
        "57 of 200 requests used",
        "standard",
    ):
        assert text in target, text


def test_target_box_never_shows_userinfo_or_query_string() -> None:
    results = sample_results()
    results.summary.target.endpoint_host = "user:hunter2@contoso.example:8443"
    results.summary.target.endpoint_path = "/models?api-key=hunter3#frag"
    page = render_html(results)
    assert "contoso.example:8443/models" in page
    assert "hunter2" not in page and "hunter3" not in page


def test_picture_has_the_matrix_numbers(page: str) -> None:
    assert '<svg class="chart"' in page and "Outcomes per rule family" in page
    assert "✗ 1  ✓ 2" in page  # schema: 1 violation and 2 passes, as in the matrix


def test_a_huge_faulted_run_stays_under_the_page_limit() -> None:
    """Thousands of distinct findings with large bodies: the page stays under PAGE_LIMIT and says
    where the rest is."""
    from conformance.report.html import PAGE_LIMIT

    results = sample_results()
    big = "x" * 60_000
    template = results.exchanges["x1"]
    results.exchanges.update(
        {
            f"big{i}": dict(template, request=dict(template["request"], body=big), response=dict(template["response"], body=big))
            for i in range(3000)
        }
    )
    for op in range(30):
        findings = [
            {"level": "violation", "message": f"`field_{op}_{i}` is wrong", "path": f"$.f{i}", "exchange": f"big{op * 100 + i}"}
            for i in range(100)
        ]
        results.results.append(RuleResult("SCHEMA-RESPONSE", f"op{op}", "violation", "schema", "violation", findings=findings))
    page = render_html(summarise(results))
    assert len(page.encode("utf-8")) < PAGE_LIMIT
    assert "to keep this page under 5 MB" in page
    assert "characters cut here; the whole text is exchange" in page  # long bodies cut in the middle


@pytest.mark.slow
def test_report_of_a_deep_faulted_run_stays_under_the_page_limit(faulted: dict[str, Path]) -> None:
    from conformance.report.html import PAGE_LIMIT

    report = faulted["deep"]
    data = json.loads((report / "results.json").read_text(encoding="utf-8"))
    assert len(data["exchanges"]) > 500  # deep and badly broken: far more than a page can show in full
    assert (report / "report.html").stat().st_size < PAGE_LIMIT
