"""The report's official-client table: one row per call, hostile text inert, failures link to their card."""

from __future__ import annotations

from conformance.report import render_html
from conformance.results import RuleResult
from tests.report.sample import SCRIPT, sample_results


def test_client_table_rows_escaping_and_links() -> None:
    results = sample_results(failing=False)
    finding = {"rule": "CLIENT-CALL", "level": "warning", "message": "boom", "path": "client", "value": None,
               "operation": "getChatCompletions", "exchange": "x2"}
    results.results.append(RuleResult("CLIENT-CALL", "getChatCompletions", "warning", "interop", "warning",
                                      [finding], ["t"]))
    results.clients = [
        {"client": "azure-ai-inference", "version": "1.0.0b9", "call": "ChatCompletionsClient.complete(stream=True)",
         "operation": "getChatCompletions", "outcome": "fails", "rule": "CLIENT-CALL", "exchange": "x2",
         "why": f"the call raised ValueError: SSE event not supported (line `{SCRIPT}`)"},
        {"client": "azure-ai-inference", "version": "1.0.0b9", "call": "EmbeddingsClient.embed()",
         "operation": "getEmbeddings", "outcome": "works", "why": "", "rule": None, "exchange": "x3"},
        {"client": "openai", "version": None, "call": "chat", "operation": "ChatCompletions_Create",
         "outcome": "not judged", "why": "install the clients extra", "rule": None, "exchange": None},
    ]
    page = render_html(results)
    section = page[page.index('<section id="clients">'):]
    section = section[: section.index("</section>")]
    assert section.count("<tr>") == 4  # header + three calls
    assert SCRIPT not in page and "&lt;script&gt;" in section
    assert 'class="o-warning">fails' in section and 'class="o-pass">works' in section
    assert 'class="o-skipped">not judged' in section and "install the clients extra" in section
    href = section.split('<a href="#', 1)[1].split('"', 1)[0]
    assert f'id="{href}"' in page, "the failing call does not link to its finding card"


def test_no_client_rows_no_section() -> None:
    assert '<section id="clients">' not in render_html(sample_results(failing=False))
