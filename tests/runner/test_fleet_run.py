"""A fleet as users run one: three reference deployments (one conformant, two with different faults) on
their own ports, each with its own key variable, run by one `conformance run --target … --target …`,
merged, and read in headless Chromium. A fourth target that cannot start does not stop the others."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml

from conformance.reference import running_reference
from conformance.runner.fleet import forwarded_arguments, refused_options, target_names
from tests.paths import REPORTS
from tests.report.test_report_browser import browser  # noqa: F401  (the shared headless Chromium fixture)

SCREENSHOT = REPORTS / "screenshot-fleet.png"
FLEET = {  # target name -> faults of its reference instance
    "good": (),
    "schema-broken": ("chat-missing-id",),
    "stream-broken": ("stream-no-done",),
}


def test_target_names_and_forwarded_arguments() -> None:
    assert target_names([Path("a.yaml"), Path("x/a.yaml"), Path("prod eu.yml")]) == ["a", "a-2", "prod-eu"]
    argv = ["--target", "a.yaml", "--target=b.yaml", "--depth", "smoke", "--report-dir", "r",
            "--parallel-targets=2", "-k", "chat"]
    assert forwarded_arguments(argv) == ["--depth", "smoke", "-k", "chat"]
    assert forwarded_arguments(["--target", "a", "--", "--target", "x"]) == ["--", "--target", "x"]
    assert refused_options(["--endpoint=https://x", "--baseline", "b.json"]) == ["--endpoint", "--baseline"]


def test_fleet_usage_errors_exit_2_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conformance.cli import main

    two = ["run", "--target", "a.yaml", "--target", "b.yaml", "--report-dir", str(tmp_path)]
    assert main([*two, "--endpoint", "https://x.example/models"]) == 2
    assert "--endpoint names one deployment" in capsys.readouterr().err
    assert main([*two, "--parallel-targets", "0"]) == 2
    assert list(tmp_path.iterdir()) == []  # nothing was started or written


@pytest.fixture(scope="module")
def fleet_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    root = tmp_path_factory.mktemp("fleet")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    with ExitStack() as stack:
        args = [sys.executable, "-m", "conformance.cli", "run", "--depth", "smoke", "--parallel-targets", "2",
                "--workers", "0",  # forwarded to every target: one process each on a 2-core CI machine
                "--report-dir", str(root / "reports")]
        for name, faults in FLEET.items():
            server = stack.enter_context(running_reference(faults=faults))
            variable = name.upper().replace("-", "_") + "_KEY"
            target = dict(server.target("model-inference"), api_key_env=variable)
            env[variable] = server.api_key  # each target reads its own key; none is in a file
            path = root / f"{name}.yaml"
            path.write_text(yaml.safe_dump(target), encoding="utf-8")
            args += ["--target", str(path)]
        broken = root / "unstartable.yaml"
        broken.write_text("endpoint: http://127.0.0.1:9/models\napi_key_env: FLEET_TEST_UNSET_KEY\n", encoding="utf-8")
        args += ["--target", str(broken)]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, cwd=root)
    return proc, root / "reports"


def test_fleet_run_writes_every_report_and_the_worst_exit_code(fleet_run) -> None:
    proc, reports = fleet_run
    # Worst of the targets: two with violations (1), one that could not start (2).
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-2000:]
    for name in FLEET:
        data = json.loads((reports / name / "results.json").read_text(encoding="utf-8"))
        assert data["summary"]["verdict"] == ("conformant" if name == "good" else "not conformant"), name
        assert (reports / name / "report.html").is_file()
    fleet = json.loads((reports / "fleet.json").read_text(encoding="utf-8"))
    assert [d["name"] for d in fleet["deployments"]][-1] == "good"
    assert {d["name"]: d["failing_rules"] for d in fleet["deployments"]} == {
        "good": [], "schema-broken": ["SCHEMA-RESPONSE"], "stream-broken": ["STREAM-DONE"]
    }
    (not_run,) = fleet["not_run"]
    assert not_run["name"] == "unstartable" and not_run["exit_code"] == 2
    assert "FLEET_TEST_UNSET_KEY" in not_run["reason"]
    assert fleet["summary"]["exit_code"] == 2
    assert proc.stdout.strip().splitlines()[-1].endswith("-> exit 2")


def test_merging_the_fleet_again_gives_the_same_rows(fleet_run, tmp_path: Path) -> None:
    from conformance.cli import main

    _, reports = fleet_run
    assert main(["merge", str(reports), "-o", str(tmp_path)]) == 1  # the unstartable target left no file
    merged = json.loads((tmp_path / "fleet.json").read_text(encoding="utf-8"))
    assert sorted(d["name"] for d in merged["deployments"]) == sorted(FLEET)
    assert {d["name"]: d["report"] for d in merged["deployments"]}["good"].endswith("/good/report.html")


@pytest.mark.browser
def test_fleet_page_in_chromium(fleet_run, browser) -> None:  # noqa: F811 (the imported fixture)
    _, reports = fleet_run
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto((reports / "fleet.html").as_uri())
    rows = page.locator("table.fleet tbody tr")
    assert rows.count() == 3
    verdicts = {
        rows.nth(i).locator("th").locator("a").inner_text(): rows.nth(i).get_attribute("data-verdict")
        for i in range(3)
    }
    assert verdicts == {"schema-broken": "not conformant", "stream-broken": "not conformant", "good": "conformant"}
    families = page.locator("table.fleet thead th.fam").all_inner_texts()
    assert families[:2] == ["schema", "streaming"]  # the families that fail somewhere come first

    def cell(row_name: str, family: str) -> str:
        row = page.locator("table.fleet tbody tr", has=page.locator("th a", has_text=row_name))
        return row.locator("td.fam-cell").nth(families.index(family)).get_attribute("class")

    assert "o-violation" in cell("schema-broken", "schema") and "o-pass" in cell("schema-broken", "streaming")
    assert "o-violation" in cell("stream-broken", "streaming") and "o-pass" in cell("stream-broken", "schema")
    assert "o-violation" not in " ".join(
        page.locator("table.fleet tbody tr", has=page.locator("th a", has_text="good"))
        .locator("td.fam-cell").evaluate_all("cells => cells.map(c => c.className)")
    )
    assert "unstartable" in page.locator("#not-run").inner_text()
    good = page.locator("table.fleet tbody tr", has=page.locator("th a", has_text="good"))
    assert "/models" in good.locator("th .endpoint").inner_text()  # host and path
    assert "reference-chat" in good.locator("td.models").inner_text()  # model or deployment names
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    # Each row links to its own report, relatively, and the link opens it.
    page.locator("table.fleet tbody tr th a", has_text="stream-broken").click()
    assert page.url.endswith("/stream-broken/report.html")
    assert page.title().startswith("Conformance report")
    assert csp_errors == []
    assert all(u.startswith("file://") for u in requests)
    page.close()
