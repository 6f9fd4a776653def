"""The pytest plugin: options, the suite session, and the results/report hooks.

Thin on purpose (like pytest-html): the work lives in `session`, `results`, `rules`, `report`.
The suite's own `conftest.py` (conformance/runner/suite/) calls `start_session`, so the project's
other test trees are unaffected by the options this plugin adds.

Installed as a `pytest11` entry point, this module is imported by every pytest session of the
environment, including other projects'. So the hooks import the suite's heavier wings (spec,
schemathesis, rules, report) inside the functions that need them, and only when the suite runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import pytest

from conformance.constants import KEY_SCHEMES
from conformance.results.collect import ResultCollector, now_iso
from conformance.runner.console import verdict_line
from conformance.runner.options import pytest_value as option

#: The packaged suite, as a directory and as the name `pytest --pyargs` takes.
SUITE_DIR = Path(__file__).resolve().parent / "suite"
SUITE_MODULE = "conformance.runner.suite"

SESSION_KEY = pytest.StashKey["Any"]()
STATE_KEY = pytest.StashKey["dict"]()

PRECEDENCE_HELP = "Precedence: command line > --target file > environment (CONFORMANCE_*) > defaults."


def pytest_addoption(parser: pytest.Parser) -> None:
    from conformance.runner.options import add_pytest_options

    group = parser.getgroup("conformance", "Azure inference API conformance suite (`pytest --pyargs "
                            f"{SUITE_MODULE}`). " + PRECEDENCE_HELP)
    add_pytest_options(group)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """When pytest runs the packaged suite, write the same files as `conformance run` by default.

    Runs before the JUnit and pytest-html plugins configure themselves; other pytest sessions in
    the same environment are left exactly as they are.
    """
    if _is_worker(config) or not runs_the_suite(config):
        return
    report_dir = _report_dir(config)
    if report_dir is None:
        return  # a configuration error: start_session reports it
    if not config.option.xmlpath:
        config.option.xmlpath = str(report_dir / "junit.xml")
    if hasattr(config.option, "htmlpath") and not config.option.htmlpath:
        config.option.htmlpath = str(report_dir / "pytest-details.html")
        config.option.self_contained_html = True
    if config.getoption("htmlpath", default=None) and isinstance(getattr(config.option, "css", None), list):
        # pytest-html reads its extra stylesheets in its own pytest_configure: ours goes in before.
        from importlib import resources

        css = resources.files("conformance.report").joinpath("pytest_html.css")
        config.option.css.append(str(css))


def runs_the_suite(config: pytest.Config) -> bool:
    """Whether this pytest session collects the packaged suite (by path or by `--pyargs` name)."""
    invoked = Path(config.invocation_params.dir)
    for arg in config.args:
        base = str(arg).split("::", 1)[0]
        if base == SUITE_MODULE or base.startswith(SUITE_MODULE + "."):
            return True
        with contextlib.suppress(OSError, ValueError):
            path = (invoked / base).resolve()
            if path == SUITE_DIR or SUITE_DIR in path.parents:
                return True
    return False


def _report_dir(config: pytest.Config) -> Path | None:
    from conformance.config import ConfigError, resolve_config

    target_file = option(config, "target")
    try:
        cfg = resolve_config(_cli_options(config), Path(target_file) if target_file else None, os.environ)
    except (ConfigError, OSError, ValueError):
        return None
    return Path(cfg.report_dir)


def _cli_options(config: pytest.Config) -> dict[str, Any]:
    names = ["endpoint", "api", "api-version", "profile", "depth", "report-dir", "auth", "api-key", "insecure"]
    out = {n.replace("-", "_"): option(config, n) for n in names}
    limits = {name.replace("-", "_"): option(config, name) for name in ("max-duration", "max-in-flight")}
    if any(v is not None for v in limits.values()):
        out["limits"] = {k: v for k, v in limits.items() if v is not None}
    return {k: v for k, v in out.items() if v is not None}


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def start_session(config: pytest.Config) -> None:
    """Resolve the target, start the reference if needed, probe it, build the SuiteSession."""
    if config.stash.get(SESSION_KEY, None) is not None:
        return
    from conformance.config import ConfigError, resolve_config
    from conformance.spec import load_spec
    from conformance.spec.files import MissingDataError
    from conformance.transport.budget import RequestBudget
    from conformance.transport.client import TargetClient

    state: dict[str, Any] = {"started": time.time(), "started_iso": now_iso(), "stack": contextlib.ExitStack()}
    config.stash[STATE_KEY] = state
    cli = _cli_options(config)
    target_file = option(config, "target")
    worker = getattr(config, "workerinput", None)
    if worker is not None and worker.get("conformance_endpoint"):
        cli["endpoint"] = worker["conformance_endpoint"]
        cli["api_key"] = worker["conformance_api_key"]
    try:
        cfg = resolve_config(cli, Path(target_file) if target_file else None, os.environ)
    except ConfigError as exc:
        raise pytest.UsageError(f"conformance: {exc}") from exc

    reference = None
    if not cfg.endpoint:
        from conformance.reference import running_reference

        faults = option(config, "fault") or []
        personas = option(config, "persona") or []
        reference = state["stack"].enter_context(running_reference(faults=faults, personas=personas))
        from conformance.spec import default_version

        published = reference.target(cfg.api, cfg.api_version or default_version(cfg.api))
        merged = dict(published)
        if target_file:
            # A target file without endpoint still narrows operations/budget etc.; the reference supplies the rest.
            from conformance.config import load_target_file

            merged.update({k: v for k, v in load_target_file(Path(target_file)).items() if k != "endpoint"})
        cli2 = dict(cli, endpoint=reference.endpoint(cfg.api), api_key=reference.api_key)
        cfg = _config_from_dict(merged, cli2)
        state["reference"] = reference
    if worker is not None and worker.get("conformance_target"):
        cfg = _config_from_dict(worker["conformance_target"], cli)
    if option(config, "max-requests"):
        cfg.budget.max_requests = int(option(config, "max-requests"))
    if reference is None:
        _check_credential(cfg)

    try:
        spec = load_spec(cfg.api, cfg.api_version)
        if cfg.profile == "azure":
            from conformance.rules.profiles import load_errata

            load_errata()  # checked now: judging without the errata would silently be `strict`
    except (ValueError, MissingDataError) as exc:
        raise pytest.UsageError(f"conformance: {exc}") from exc
    cfg.api_version = spec.version

    report_dir = Path(cfg.report_dir)
    _check_report_dir(report_dir)
    budget_file = Path(worker["conformance_budget_file"]) if worker else report_dir / ".budget.json"
    if not worker and budget_file.exists():
        budget_file.unlink()
    budget = RequestBudget(cfg.budget.max_requests, budget_file)

    seed = option(config, "seed")
    if seed is None:
        seed = worker.get("conformance_seed") if worker else None
    if seed is None:
        seed = cfg.seed if cfg.seed is not None else random.randrange(1, 2**31)
    traffic_log = option(config, "save-traffic")
    recorder = None
    if traffic_log:
        path = Path(traffic_log)
        if worker:
            path = path.with_name(f"{path.stem}.{worker.get('workerid', 'w')}{path.suffix}")
        fh = state["stack"].enter_context(path.open("w", encoding="utf-8"))

        def recorder(ex: Any) -> None:
            from conformance.traffic import dump_exchange

            fh.write(json.dumps(dump_exchange(ex)) + "\n")

    client = TargetClient(cfg, recorder=recorder, budget=budget)
    state["stack"].callback(client.close)
    from conformance.runner.session import SuiteSession

    collector = ResultCollector(prefix=f"{worker.get('workerid', 'w')}-x" if worker else "x")
    session = SuiteSession(config=cfg, spec=spec, client=client, budget=budget, collector=collector, reference=reference, seed=seed)
    session.acceptance = _acceptance(config)
    collector.offered = [op for op in spec.operations if session.offers(op)]
    started_wall = worker.get("conformance_started") if worker else None
    session.deadline = (started_wall or time.time()) + cfg.limits.max_duration
    client.deadline = time.monotonic() + (session.deadline - time.time())
    config.stash[SESSION_KEY] = session
    if not worker:
        from conformance.runner.console import ConsolePlugin

        config.pluginmanager.register(ConsolePlugin(config, session, lambda: config.stash[STATE_KEY]), "conformance-console")

    if not worker:
        _stop_on_sigterm(state)
        from conformance.runner.progress import WaitWatcher

        WaitWatcher(session, config).start()
        try:
            problem = client.probe()
            if problem:
                _exit_unreachable(session, config, f"target unreachable or unauthenticated before any test could run: {problem}")
            from conformance.runner.preflight import all_not_found_hint, preflight

            preflight(session)
        except KeyboardInterrupt:
            _exit_interrupted(session, config)
        hint = all_not_found_hint(session)
        if hint:
            _exit_unreachable(session, config, hint)
    elif worker.get("conformance_unserved"):
        session.unserved = {op: (why, bool(claimed)) for op, (why, claimed) in worker["conformance_unserved"].items()}
    session.collector.unserved = {op: [why, claimed] for op, (why, claimed) in session.unserved.items()}


def _exit_unreachable(session: Any, config: pytest.Config, message: str) -> None:
    """Exit 3 (nothing could be judged) after writing a report that says why; the verdict line last."""
    results = _write_unreachable_report(session, config, message)
    config.stash[STATE_KEY]["stack"].close()
    last = f"\n{verdict_line(results.summary)}" if results is not None else ""
    pytest.exit(f"conformance: {message}{last}", returncode=3)


def _exit_interrupted(session: Any, config: pytest.Config) -> None:
    """Ctrl-C or SIGTERM before the tests started: an incomplete report all the same, exit 1."""
    from conformance.report import write_reports
    from conformance.results.verdict import RunEnd

    state = config.stash[STATE_KEY]
    results = build_results(session, config, RunEnd(interrupted=state.get("signal", "SIGINT"),
                                                    errors=list(session.collector.errors)))
    write_reports(results, Path(session.config.report_dir), pytest_html_name=None)
    state["stack"].close()
    pytest.exit(f"conformance: interrupted ({results.summary.interrupted}) before the tests started\n"
                f"{verdict_line(results.summary)}", returncode=results.summary.exit_code)


def _check_credential(cfg: Any) -> None:
    """A user error, said in one line before anything is sent: no key, or Entra ID without its package."""
    import importlib.util

    schemes = {cfg.auth, *(cfg.auth_schemes or [])}
    if schemes & set(KEY_SCHEMES) and not (cfg.api_key or "").strip():
        variable = getattr(cfg, "api_key_env", None) or "CONFORMANCE_API_KEY"
        raise pytest.UsageError(f"conformance: no API key: set the {variable} environment variable (it is empty or unset)")
    if "entra" in schemes and importlib.util.find_spec("azure.identity") is None:
        raise pytest.UsageError(
            "conformance: --auth entra needs the azure-identity package: pip install 'azure-inference-conformance[azure]'"
        )


def _check_report_dir(report_dir: Path) -> None:
    """The report folder must be a writable directory: a user error (exit 2) otherwise, never a traceback."""
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        probe = report_dir / ".write-test"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        why = "it is a file" if report_dir.exists() and not report_dir.is_dir() else (exc.strerror or str(exc))
        raise pytest.UsageError(f"conformance: cannot write reports to {report_dir}: {why}") from None


def _stop_on_sigterm(state: dict[str, Any]) -> None:
    """SIGTERM ends the run like Ctrl-C: the report is written, with verdict incomplete."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, frame: Any) -> None:
        state["signal"] = "SIGTERM"
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    state["stack"].callback(signal.signal, signal.SIGTERM, previous)


def _write_unreachable_report(suite: Any, config: pytest.Config, message: str) -> Any:
    """Exit code 3 still leaves a report that says why nothing was judged."""
    from conformance.report import write_reports
    from conformance.transport.redact import scrub

    try:
        from conformance.results.verdict import RunEnd

        results = build_results(suite, config, RunEnd(errors=[scrub(message)], unreachable=True))
        write_reports(results, Path(suite.config.report_dir), pytest_html_name=None)
        return results
    except Exception as exc:  # the exit code and message matter more than the file
        print(f"conformance: could not write the report: {type(exc).__name__}: {exc}")
        return None


def _config_from_dict(data: dict[str, Any], cli: dict[str, Any]) -> Any:
    """A TargetConfig from a target-file dict (the reference's published one) plus the command line."""
    from conformance.config import resolve_config

    return resolve_config(cli, None, os.environ, file_data={k: v for k, v in data.items() if k != "api_key"})


def _acceptance(config: pytest.Config) -> Any:
    """Waivers and baseline, read strictly (a malformed file or an unknown rule id is a usage error)."""
    from conformance.report.json_out import read_results_json
    from conformance.results.waivers import Acceptance, load_waivers
    from conformance.rules.catalogue import all_rules

    waivers, baseline = [], None
    path = option(config, "waivers")
    if path:
        try:
            waivers = load_waivers(Path(path), known_rules=[r.id for r in all_rules()])
        except (OSError, ValueError) as exc:
            raise pytest.UsageError(f"conformance: --waivers: {exc}") from None
    path = option(config, "baseline")
    if path:
        try:
            baseline = read_results_json(Path(path))
        except (OSError, ValueError) as exc:
            raise pytest.UsageError(f"conformance: --baseline: {exc}") from None
    return Acceptance.build(waivers, baseline)


def get_session(config: pytest.Config) -> Any:
    return config.stash.get(SESSION_KEY, None)


# -- pytest-xdist: share the target, budget file and seed with workers --------------------------
@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    session = get_session(node.config)
    if session is None:
        return
    node.workerinput["conformance_endpoint"] = session.config.endpoint
    node.workerinput["conformance_api_key"] = session.config.api_key
    node.workerinput["conformance_budget_file"] = str(session.budget.state_file)
    node.workerinput["conformance_seed"] = session.seed
    node.workerinput["conformance_started"] = session.deadline - session.config.limits.max_duration if session.deadline else None
    node.workerinput["conformance_unserved"] = {op: list(v) for op, v in session.unserved.items()}
    if session.reference is not None:
        node.workerinput["conformance_target"] = session.reference.target(session.config.api, session.config.api_version)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """The target, API, api-version, profile, depth and seed in pytest-html's environment table."""
    suite = get_session(session.config)
    if suite is None or _is_worker(session.config):
        return
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return
    metadata = session.config.stash.get(metadata_key, None)
    if metadata is None:
        return
    from conformance.report._safe import endpoint_text

    cfg = suite.config
    target = endpoint_text(_host(cfg.endpoint), _path(cfg.endpoint))
    ours = {
        "Target": f"{target} (embedded reference deployment)" if suite.reference else target,
        "API": cfg.api,
        "api-version": suite.api_version,
        "Profile": cfg.profile,
        "Depth": cfg.depth,
        "Seed": f"{suite.seed} (reproduce with --conformance-seed {suite.seed})",
    }
    rest = {k: v for k, v in metadata.items() if k not in ours}
    metadata.clear()
    metadata.update({**ours, **rest})  # ours first: the table is read top-down


# -- the console (conformance.runner.console) ----------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    """Carry the test's violations on its report (plain JSON: it crosses from xdist workers)."""
    report = yield
    judge = getattr(item, "funcargs", {}).get("judge") if call.when == "call" else None
    if judge is not None and get_session(item.config) is not None:
        from conformance.runner.console import violations_of

        found = violations_of(judge.findings)
        if found:
            report.conformance_violations = found[:50]
    return report


def _host(url: str | None) -> str:
    from urllib.parse import urlsplit

    if not url:
        return ""
    parts = urlsplit(url)
    return parts.netloc.split("@")[-1]


def _path(url: str | None) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path.rstrip("/") if url else ""


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    suite = get_session(session.config)
    if suite is None:
        return
    config = session.config
    report_dir = Path(suite.config.report_dir)
    parts = report_dir / ".parts"
    if _is_worker(config):
        suite.budget.flush()  # token/retry tallies wait in memory; the controller's report reads the file
        suite.collector.dump(parts / f"{config.workerinput.get('workerid', 'w')}.json")
        return
    collector = suite.collector
    if parts.exists():
        for part in sorted(parts.glob("*.json")):
            with contextlib.suppress(ValueError, OSError):
                collector.merge_json(json.loads(part.read_text(encoding="utf-8")))
            part.unlink()
        with contextlib.suppress(OSError):
            parts.rmdir()
    results = build_results(suite, config, _run_end(suite, config, exitstatus))
    from conformance.report import write_reports

    html = config.getoption("htmlpath", default=None)
    pytest_html = Path(html).name if html and Path(html).resolve().parent == report_dir.resolve() else None
    written = write_reports(results, report_dir, pytest_html_name=pytest_html)
    config.stash[STATE_KEY]["written"] = written
    config.stash[STATE_KEY]["results"] = results
    # The results pipeline decided the exit code; pytest's own (tests failed, interrupted) gives way,
    # except for its usage and internal errors.
    if int(exitstatus) in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED):
        session.exitstatus = results.summary.exit_code


def _run_end(suite: Any, config: pytest.Config, exitstatus: int) -> Any:
    """How the run ended: interrupted (a signal, or the max duration), errors, deselected tests."""
    from conformance.results.verdict import RunEnd

    c = suite.collector
    interrupted = c.stopped  # the max duration (pytest then reports an interruption too)
    if not interrupted and int(exitstatus) == pytest.ExitCode.INTERRUPTED:
        interrupted = config.stash[STATE_KEY].get("signal", "SIGINT")
    deselected = [f"{len(c.deselected)} test(s) deselected (-k, -m or test ids)"] if c.deselected else []
    return RunEnd(interrupted=interrupted, errors=list(c.errors), deselected=deselected)


def build_results(suite: Any, config: pytest.Config, end: Any) -> Any:
    from conformance import __version__
    from conformance.results import Summary, Target

    state = config.stash[STATE_KEY]
    cfg = suite.config
    stats = suite.budget.snapshot() if hasattr(suite.budget, "snapshot") else {}
    summary = Summary(
        verdict="incomplete",
        counts={},
        target=Target(
            endpoint_host=_host(cfg.endpoint),
            api=cfg.api,
            api_version=suite.api_version,
            profile=cfg.profile,
            depth=cfg.depth,
            reference=suite.reference is not None,
            endpoint_path=_path(cfg.endpoint),
            models={str(k): str(v) for k, v in (cfg.models or {}).items()},
        ),
        spec_file=str(suite.spec.file.relative_to(suite.spec.file.parents[2])) if len(suite.spec.file.parents) > 2 else str(suite.spec.file),
        spec_sha256=suite.spec.sha256,
        suite_version=__version__,
        started=state["started_iso"],
        duration_s=round(time.time() - state["started"], 2),
        requests=int(stats.get("used", suite.client.stats.requests)),
        retries=int(stats.get("retries", suite.client.stats.retries)),
        tokens={
            "prompt": int(stats.get("prompt_tokens", suite.client.stats.prompt_tokens)),
            "completion": int(stats.get("completion_tokens", suite.client.stats.completion_tokens)),
            "total": int(stats.get("prompt_tokens", 0)) + int(stats.get("completion_tokens", 0)),
        },
        seed=suite.seed,
        budget={"max_requests": cfg.budget.max_requests, "max_tokens": cfg.budget.max_tokens, "used": int(stats.get("used", 0))},
    )
    discovered = dict(suite.discovered)
    if isinstance(discovered.get("encoding_formats"), dict):
        # Shown like the claim: the list of formats that worked.
        discovered["encoding_formats"] = [f for f, ok in discovered["encoding_formats"].items() if ok]
    claimed = dict(cfg.capabilities or {})
    contradictions = []
    for name, value in discovered.items():
        want = claimed.get(name)
        if isinstance(want, bool) and isinstance(value, bool) and want != value:
            contradictions.append(f"{name}: claimed {'supported' if want else 'unsupported'}, "
                                  f"behaved as {'supported' if value else 'unsupported'}")
        elif isinstance(want, list) and isinstance(value, list) and sorted(map(str, want)) != sorted(map(str, value)):
            contradictions.append(f"{name}: claimed {want}, worked {value}")
    capabilities = {"claimed": claimed, "discovered": discovered, "contradictions": contradictions}
    from conformance.results.pipeline import conclude

    return conclude(suite.collector, summary, acceptance=suite.acceptance, end=end, capabilities=capabilities)




def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if not state:
        return
    state["stack"].close()
    suite = get_session(config)
    if suite is not None and not _is_worker(config):
        # The shared budget's state file is run-time plumbing, not an output.
        with contextlib.suppress(OSError, AttributeError):
            suite.budget.close()
            Path(suite.budget.state_file).unlink()
    # Last line of defence: no credential in any file this run wrote (report, JUnit, pytest-html).
    from conformance.transport.redact import scrub

    report_dir = Path(getattr(get_session(config), "config", None).report_dir) if get_session(config) else None
    candidates = []
    if report_dir and report_dir.exists():
        candidates += [p for p in report_dir.iterdir() if p.suffix in (".html", ".xml", ".json")]
    xml = config.getoption("xmlpath", default=None)
    if xml:
        candidates.append(Path(xml))
    for path in candidates:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = path.read_text(encoding="utf-8")
            clean = scrub(text)
            if clean != text:
                path.write_text(clean, encoding="utf-8")
