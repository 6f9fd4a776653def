"""The report in a real headless Chromium: what a reader sees, that nothing hostile runs, that the JS works.

Served from a loopback HTTP server (a secure context, so the clipboard API is the one exercised).
Chromium is Debian's `chromium` package driven by playwright; without it the test skips locally and
fails in CI (CI=true), so the check cannot silently disappear from the pipeline.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conformance.report import write_reports
from conformance.transport import redact
from tests.paths import REPORTS
from tests.report.sample import FAKE_SECRET, sample_results

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = REPORTS / "screenshot-report.png"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        _unavailable("Chromium not installed (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=30_000)
        yield b
        b.close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[str]:
    redact.register_secret(FAKE_SECRET)
    write_reports(sample_results(), tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_failing_report_as_a_reader_sees_it(browser, served: str) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served)
    page = context.new_page()
    page.set_default_timeout(10_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

    page.goto(f"{served}/report.html")

    assert page.locator(".verdict .big").inner_text() == "Not conformant"
    assert "Profile azure" in page.locator(".verdict .why").inner_text()
    row = page.locator("table.matrix tr", has=page.locator("th", has_text="getChatCompletions"))
    assert row.locator("td").first.inner_text() == "✗ 1 violation\n1 pass"  # one count per line
    # Hostile text is visible as text, and nothing of it ran.
    assert "<script>alert(1)</script>" in page.locator("#violations").text_content()
    assert dialogs == []
    scripts = page.evaluate("Array.from(document.querySelectorAll('script')).map(s => s.textContent)")
    assert len(scripts) == 1 and scripts[0].startswith("/* Conformance report behaviour")
    assert (
        page.evaluate(
            "document.querySelectorAll('img, iframe, object, embed, [onerror], [onmouseover]').length"
        )
        == 0
    )
    assert FAKE_SECRET not in page.content()
    assert requests == [f"{served}/report.html"]  # self-contained: no other request of any kind
    assert csp_errors == []  # our own style and script match the policy's hashes

    # A matrix cell leads to the rules behind it.
    row.locator("td a").first.click()
    assert page.evaluate("location.hash").startswith("#cell-getChatCompletions-schema")
    assert page.locator(":target").inner_text().startswith("schema")

    # "Full exchange shown above" opens the collapsed exchange it points to.
    link = page.locator("a", has_text="Full exchange shown above").first
    target_id = link.get_attribute("href")[1:]
    assert page.locator(f"[id='{target_id}']").get_attribute("open") is None
    link.click()
    # The page opens the target on hashchange: wait for it (a loaded CI machine is slow), then check.
    # (playwright's expect polls from its own isolated world, which the report's CSP does not block)
    expect(page.locator(f"[id='{target_id}']")).to_have_attribute("open", "", timeout=10_000)
    assert page.locator(f"[id='{target_id}']").get_attribute("open") == ""
    assert page.locator(f"[id='{target_id}'] pre").first.is_visible()

    # The copy button copies the curl line, read as text.
    page.locator("#violations button.copy").first.click()
    expect(page.locator("#violations button.copy").first).to_have_text("Copied", timeout=10_000)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("curl -sS -X POST") and "$CONFORMANCE_API_KEY" in copied

    # No sideways scrolling even with long URLs and bodies.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.goto(f"{served}/report.html")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
    context.close()


def test_print_layout_keeps_summary_matrix_and_violations(browser, served: str) -> None:
    page = browser.new_page()
    page.goto(f"{served}/report.html")
    page.emulate_media(media="print")
    visible = {
        s: page.locator(f"#{s}").is_visible()
        for s in ("summary", "matrix", "violations", "checked", "catalogue")
    }
    assert visible == {
        "summary": True,
        "matrix": True,
        "violations": True,
        "checked": False,
        "catalogue": False,
    }
    assert not page.locator("button.copy").first.is_visible()
    pdf = page.pdf()  # fires beforeprint/afterprint through the real print path
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    page.close()


#: Finds words a layout broke across lines (hyphens and the "·" separator are allowed breaks).
BROKEN_WORDS_JS = """
(selector) => {
  const broken = [];
  for (const cell of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      const re = /[^\\s\\-·]+/g;
      let m;
      while ((m = re.exec(node.data))) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
        if (lines.size > 1) { broken.push(m[0]); }
      }
    }
  }
  return broken;
}
"""


def _failing_rules(report_dir: Path) -> set[str]:
    data = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    return {r["rule_id"] for r in data["results"] if r["outcome"] in ("violation", "warning")}


def _shoot(page: object, name: str, selector: str | None = None) -> Path:
    path = REPORTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if selector:
        page.locator(selector).first.scroll_into_view_if_needed()
        page.evaluate("s => document.querySelector(s).scrollIntoView()", selector)
    else:
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    return path


@pytest.mark.parametrize("width", [1400, 800])
def test_faulted_run_reads_at_desktop_and_narrow_widths(browser, faulted: dict[str, Path], width: int) -> None:
    """A deep faulted run: every failing rule listed first, no word broken in the matrix, the matrix
    fitting at 1400 px and scrolling in its own box at 800 px, never the page sideways."""
    report = faulted["deep"]
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.goto((report / "report.html").as_uri())
    assert page.locator(".verdict .big").inner_text() == "Not conformant"
    listed = page.locator("table.failing td.rid code").all_inner_texts()
    assert len(listed) == len(set(listed)) and set(listed) == _failing_rules(report)
    for link in page.locator("table.failing td.rid a").all():  # each leads to its details
        assert page.locator(f"[id='{link.get_attribute('href')[1:]}']").count() == 1
    assert page.evaluate(BROKEN_WORDS_JS, "table.matrix th, table.matrix td") == []
    assert page.evaluate(BROKEN_WORDS_JS, "table.failing td.rid, table.failing td.lvl, .badge") == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = page.evaluate(
        "(() => { const b = document.querySelector('.matrix-box'); return [b.scrollWidth, b.clientWidth]; })()"
    )
    if width >= 1400:
        assert box[0] <= box[1], box  # fits
    else:
        assert box[0] > box[1], box  # scrolls in its own box
    # The wrong-credential reproduction sends a literal dummy, never the variable or the real key.
    wrong = page.locator("table.failing tr", has=page.locator("td.rid code", has_text="AUTH-WRONG"))
    curl = wrong.locator("pre").first.text_content()
    assert "api-key: " in curl and "CONFORMANCE_API_KEY" not in curl
    _shoot(page, f"screenshot-faulted-{width}-top.png")
    _shoot(page, f"screenshot-faulted-{width}-matrix.png", "#matrix")
    _shoot(page, f"screenshot-faulted-{width}-findings.png", "#violations")
    page.close()


def test_azure_openai_matrix_fits_at_1400(browser, faulted: dict[str, Path]) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto((faulted["aoai"] / "report.html").as_uri())
    assert page.evaluate(BROKEN_WORDS_JS, "table.matrix th, table.matrix td") == []
    box = page.evaluate(
        "(() => { const b = document.querySelector('.matrix-box'); return [b.scrollWidth, b.clientWidth]; })()"
    )
    assert box[0] <= box[1], box
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert set(page.locator("table.failing td.rid code").all_inner_texts()) == _failing_rules(faulted["aoai"])
    _shoot(page, "screenshot-aoai-1400-matrix.png", "#matrix")
    page.close()


def test_filters_hide_and_show_rows(browser, faulted: dict[str, Path]) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto((faulted["deep"] / "report.html").as_uri())
    rows = page.locator("table.failing tbody tr")
    cards = page.locator("#violations article.card")
    total_rows, total_cards = rows.count(), cards.count()
    assert total_rows > 3 and total_cards > 3

    def visible(locator: object) -> int:
        return sum(1 for el in locator.all() if el.is_visible())

    assert page.locator("#filters").is_visible()
    page.fill("#filters input[name=q]", "chat-usage-sum")  # text search, case-insensitive
    assert visible(rows) == 1 and "CHAT-USAGE-SUM" in rows.filter(visible=True).first.inner_text()
    assert 0 < visible(cards) < total_cards
    assert "Showing" in page.locator("#filters output").inner_text()
    page.fill("#filters input[name=q]", "")
    assert visible(rows) == total_rows

    page.select_option("#filters select[name=family]", "auth")
    assert 0 < visible(rows) < total_rows
    assert all("AUTH" in t for t in rows.filter(visible=True).all_inner_texts())
    page.select_option("#filters select[name=family]", "")

    page.select_option("#filters select[name=op]", "getEmbeddings")
    shown = cards.filter(visible=True).all_inner_texts()
    assert shown and all("getEmbeddings" in t for t in shown)
    page.select_option("#filters select[name=op]", "")

    page.uncheck("#filters input[name=o][value=violation]")  # outcome
    if page.locator("#filters input[name=o][value=warning]").count():  # e.g. the official clients' warnings
        page.uncheck("#filters input[name=o][value=warning]")
    assert visible(cards) == 0 and visible(rows) == 0
    assert page.locator("#checked li[data-o=pass]").first.is_visible()
    page.click("#filters button[type=reset]")
    # (expect polls from playwright's isolated world: the report's CSP forbids evaluating strings)
    expect(page.locator("#violations article.card[hidden]")).to_have_count(0, timeout=10_000)
    assert visible(rows) == total_rows and visible(cards) == total_cards
    page.close()


def test_without_scripts_everything_is_shown(browser, faulted: dict[str, Path]) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto((faulted["deep"] / "report.html").as_uri())
    assert not page.locator("#filters").is_visible()  # a filter bar that cannot work is not shown
    assert not page.locator("button.copy").first.is_visible()
    assert page.locator("table.failing tbody tr").count() == len(_failing_rules(faulted["deep"]))
    assert all(el.is_visible() for el in page.locator("#violations article.card").all())
    context.close()


def test_pytest_html_page_keeps_long_curl_lines_inside(browser, faulted: dict[str, Path]) -> None:
    """pytest-details.html of the faulted run: the run's identity on top, no log running off the page."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto((faulted["deep"] / "pytest-details.html").as_uri())
    page.locator("#environment").wait_for()
    environment = page.locator("#environment").inner_text()
    for key in ("Target", "API", "api-version", "Profile", "Depth", "Seed"):
        assert key in environment, key
    logs = page.locator(".logwrapper .log")
    assert logs.count() > 0 and "reproduce: curl" in logs.first.inner_text()
    widths = page.evaluate(
        "Array.from(document.querySelectorAll('.logwrapper .log')).map(l => l.scrollWidth - l.clientWidth)"
    )
    assert max(widths) <= 1, widths
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    _shoot(page, "screenshot-pytest-details-1400.png")
    page.close()
