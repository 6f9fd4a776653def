"""The report in a real headless Chromium: what a reader sees, that nothing hostile runs, that the JS works.

Served from a loopback HTTP server (a secure context, so the clipboard API is the one exercised).
Chromium is Debian's `chromium` package driven by playwright; without it the test skips locally and
fails in CI (CI=true), so the check cannot silently disappear from the pipeline.
"""

from __future__ import annotations

import functools
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
    assert row.locator("td").first.inner_text() == "✗ 1 violation · 1 pass"
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


LIVE_SCREENSHOT = REPORTS / "screenshot-live-run.png"


def test_report_of_a_real_faulted_run_in_chromium(browser, tmp_path: Path) -> None:
    """A real `conformance run` against the reference with one fault on, as a reader opens it."""
    import subprocess
    import sys

    out = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--report-dir", str(out), "--depth", "smoke",
         "--fault", "chat-missing-id", "-k", "info or streamed or max_tokens or wrong_credential"],
        capture_output=True, text=True, timeout=240, env={k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")},
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto((out / "report.html").as_uri())
    assert page.locator(".verdict .big").inner_text() == "Not conformant"
    row = page.locator("table.matrix tr", has_text="getChatCompletions")
    schema_cell = row.locator("td").first
    assert "violation" in schema_cell.inner_text()
    violations = page.locator("#violations").inner_text()
    assert "SCHEMA-RESPONSE" in violations and "getChatCompletions" in violations
    assert "$CONFORMANCE_API_KEY" in violations  # the curl line, credential as a variable
    LIVE_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(LIVE_SCREENSHOT), full_page=False)
    page.close()
