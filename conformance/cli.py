"""The `conformance` command: run, serve, rules, target, diff, validate-traffic.

`conformance run` runs the packaged suite with pytest (in this process) and passes any further
arguments through to pytest (`--junitxml`, `-n 4`, `-k ...`). Exit codes:
0 all rules hold (warnings allowed), 1 violations found, 2 usage or configuration error,
3 target unreachable or unauthenticated before any test could run.

Each subcommand imports what it needs inside its own function, so `conformance --help`,
`conformance rules` or `conformance diff` do not pay for pytest, schemathesis and the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from conformance.constants import APIS, MODEL_INFERENCE

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

RUN_EPILOG = """\
Settings precedence: command line > --target file > environment (CONFORMANCE_ENDPOINT,
CONFORMANCE_API_KEY, CONFORMANCE_API, CONFORMANCE_API_VERSION, CONFORMANCE_PROFILE,
CONFORMANCE_DEPTH) > defaults. The credential comes from CONFORMANCE_API_KEY (or --api-key;
prefer the variable: command lines end up in shell history and CI logs).
Without --endpoint (and no endpoint in the target file or environment) the embedded reference
deployment is started on a free loopback port and tested.

Any argument this command does not know is passed to pytest, e.g. `-k chat` or `-v` (the details
of every failure on the console); everything after `--` goes to pytest untouched
(`conformance run --depth smoke -- --junitxml out.xml`). Against an endpoint other than the
embedded reference the run uses several worker processes (pytest-xdist, sharing the request
budget and 429 back-off); `--workers 0` runs in one process. Within a process a test has up to
--max-in-flight (default 4) of its independent requests on their way at once; 1 sends them one
after another.

Several --target files run as a fleet: one process per target (at most --parallel-targets at a
time), reports in <report-dir>/<target file name>/, then <report-dir>/fleet.html and fleet.json.
The fleet's exit code is the worst (highest) of its targets' exit codes.

Exit codes: 0 conformant (warnings allowed), 1 violations or an incomplete run, 2 usage or
configuration error, 3 target unreachable or unauthenticated before any test could run.

Each subcommand imports what it needs inside its own function, so `conformance --help`,
`conformance rules` or `conformance diff` do not pay for pytest, schemathesis and the reference.
"""


def _suite_dir() -> Path:
    return Path(__file__).resolve().parent / "runner" / "suite"


def _run_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from conformance.runner.options import add_cli_options

    p = sub.add_parser("run", help="run the conformance suite against a target (default: the embedded reference)",
                       usage="conformance run [options] [-- pytest arguments]",
                       epilog=RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_cli_options(p)
    return p


def _split_passthrough(argv: list[str]) -> tuple[list[str], list[str]]:
    """Everything after the first `--` belongs to pytest, untouched."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


#: pytest arguments that already choose how many processes run (ours then stay out of the way).
_XDIST_FLAGS = ("-n", "--numprocesses", "--dist", "-d", "--tx")


def _chooses_workers(passthrough: list[str]) -> bool:
    for i, a in enumerate(passthrough):
        if a.startswith(_XDIST_FLAGS) or a in ("no:xdist", "no:xdist.plugin"):
            return True
        if a == "-p" and i + 1 < len(passthrough) and passthrough[i + 1].startswith("no:xdist"):
            return True
    return False


def _is_verbose(passthrough: list[str]) -> bool:
    return any(a == "--verbose" or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in passthrough)


def _targets_reference(args: argparse.Namespace) -> bool:
    """Whether this run tests the embedded reference (no endpoint on the command line, target file or env)."""
    from conformance.config import ConfigError, resolve_config

    if args.conformance_endpoint:
        return False
    if args.conformance_fault:
        return True
    target = args.conformance_target
    if isinstance(target, list):  # as parsed: several target files are a fleet, each run decides for itself
        target = target[0] if len(target) == 1 else None
    try:
        cfg = resolve_config({}, Path(target) if target else None, os.environ)
    except (ConfigError, OSError, ValueError):
        return True  # the plugin reports the problem; no workers for a run that cannot start
    return not cfg.endpoint


def workers_for(args: argparse.Namespace, passthrough: list[str]) -> int:
    """Worker processes: `--workers`, else several against a real endpoint and none against the reference."""
    from conformance.runner.options import DEFAULT_WORKERS

    if _chooses_workers(passthrough):
        return 0  # the pytest arguments decide
    if args.conformance_workers is not None:
        return max(0, int(args.conformance_workers))
    return 0 if _targets_reference(args) else DEFAULT_WORKERS


def cmd_run(args: argparse.Namespace, passthrough: list[str], argv: list[str] | None = None) -> int:
    targets = list(args.conformance_target or [])
    if len(targets) > 1:
        return cmd_fleet(args, list(argv or [])[1:])
    args.conformance_target = targets[0] if targets else None
    import pytest

    from conformance.config import ConfigError
    from conformance.runner.options import to_pytest_args

    if args.conformance_fault:
        from conformance.reference.faults import FAULTS

        unknown = [f for f in args.conformance_fault if f not in FAULTS]
        if unknown:
            print(f"conformance: unknown fault(s) {', '.join(unknown)}; see `conformance faults`", file=sys.stderr)
            return EXIT_USAGE
    unknown_personas = _unknown_personas(args.conformance_persona or [])
    if unknown_personas:
        print(f"conformance: unknown persona(s) {', '.join(unknown_personas)}; see `conformance personas`",
              file=sys.stderr)
        return EXIT_USAGE
    pargs = [str(_suite_dir()), "-p", "no:cacheprovider", *to_pytest_args(args)]
    if _is_verbose(passthrough):
        pargs += ["--tb=short", "-rfE"]
    else:
        # The console stays short: one line per failing rule, the failing rules and the verdict at the
        # end; every detail is in the report (and on the console with -v).
        pargs += ["-q", "--tb=no", "-rN"]
    workers = workers_for(args, passthrough)
    if workers:
        pargs += ["-n", str(workers), "--dist", "worksteal"]
    pargs += ["-o", "junit_family=xunit2", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if not any(a.startswith("--assert") for a in passthrough):
        # The packaged suite uses no bare asserts; rewriting every plugin module costs seconds per run.
        pargs.append("--assert=plain")
    pargs += passthrough
    # Hypothesis keeps a cache beside the working directory; a user cache dir keeps checkouts clean and fast.
    os.environ.setdefault(
        "HYPOTHESIS_STORAGE_DIRECTORY",
        str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "azure-inference-conformance" / "hypothesis"),
    )
    try:
        code = pytest.main(pargs)
    except ConfigError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return EXIT_USAGE
    code = int(code)
    if code == 3:
        return EXIT_UNREACHABLE
    if code in (0, 1):
        return code
    if code == 5:
        print("conformance: pytest collected no tests (check -k / --target operations)", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_USAGE


def cmd_fleet(args: argparse.Namespace, run_argv: list[str]) -> int:
    """Several --target files: one `conformance run` process each (conformance.runner.fleet)."""
    from conformance.runner.fleet import forwarded_arguments, refused_options, run_fleet

    refused = refused_options(run_argv)
    if refused:
        print(f"conformance: {', '.join(refused)} names one deployment; with several --target put it in each "
              "target file", file=sys.stderr)
        return EXIT_USAGE
    parallel = args.conformance_parallel_targets if args.conformance_parallel_targets is not None else min(4, len(args.conformance_target))
    if parallel < 1:
        print("conformance: --parallel-targets must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    _, code = run_fleet([Path(t) for t in args.conformance_target], report_root=Path(args.conformance_report_dir or "reports"),
                        parallel=parallel, forwarded=forwarded_arguments(run_argv))
    return code


def cmd_merge(args: argparse.Namespace) -> int:
    from conformance.report.fleet_html import merge

    missing = [p for p in args.results if not Path(p).exists()]
    if missing:
        print(f"conformance merge: not found: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    fleet, paths = merge([Path(p) for p in args.results], Path(args.output_dir))
    if not fleet.deployments and not fleet.not_run:
        print("conformance merge: no results.json found", file=sys.stderr)
        return EXIT_USAGE
    for n in fleet.not_run:
        print(f"conformance merge: skipped {n.source}: {n.reason}", file=sys.stderr)
    print(f"{len(fleet.deployments)} deployments: {paths['html']} {paths['json']}")
    return fleet.exit_code


def cmd_trend(args: argparse.Namespace) -> int:
    from conformance.report.trend_html import trend

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"conformance trend: {folder} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    result, paths = trend(folder, Path(args.output_dir))
    for u in result.unreadable:
        print(f"conformance trend: skipped {u['file']}: {u['reason']}", file=sys.stderr)
    if not result.deployments:
        print(f"conformance trend: no results.json under {folder}", file=sys.stderr)
        return EXIT_USAGE
    nights = sum(len(d.nights) for d in result.deployments)
    print(f"{len(result.deployments)} deployments, {nights} nights: {paths['html']} {paths['json']}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from conformance.reference import serve
    from conformance.reference.faults import FAULTS

    unknown = [f for f in args.fault if f not in FAULTS]
    if unknown:
        print(f"conformance: unknown fault(s) {', '.join(unknown)}; see `conformance faults`", file=sys.stderr)
        return EXIT_USAGE
    unknown_personas = _unknown_personas(args.persona)
    if unknown_personas:
        print(f"conformance: unknown persona(s) {', '.join(unknown_personas)}; see `conformance personas`",
              file=sys.stderr)
        return EXIT_USAGE
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"conformance: serving on {args.host} (not loopback): the reference accepts a known key", file=sys.stderr)
    import secrets

    from conformance.reference import ReferenceSettings

    key = os.environ.get("CONFORMANCE_API_KEY")
    settings = ReferenceSettings(api_key=key) if key else ReferenceSettings(api_key=secrets.token_hex(16))
    shown = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{shown}:{args.port}"
    lines = [
        "conformance reference deployment",
        f"  model inference: {base}/models   (api-version 2024-05-01-preview, 2025-04-01, 2025-05-01)",
        f"  Azure OpenAI:    {base}/openai   (api-version 2024-04-01-preview, 2024-10-21)",
        f"  faults: {', '.join(args.fault) or 'none'}",
        f"  personas: {', '.join(args.persona) or 'none'}",
    ]
    if key:
        lines.append("  credential: the value of CONFORMANCE_API_KEY (api-key header or Authorization: Bearer)")
    else:
        # A throwaway key for a local server, shown so that it can be used; set CONFORMANCE_API_KEY to choose one.
        lines.append(f"  credential: export CONFORMANCE_API_KEY={settings.api_key}")
    lines.append(f"  run the suite: conformance target --endpoint {base}/models > ref.yaml && conformance run --target ref.yaml")
    print("\n".join(lines), flush=True)
    serve(host=args.host, port=args.port, faults=args.fault, settings=settings, personas=args.persona)
    return EXIT_OK


#: How `conformance rules` shows which API's contract a rule belongs to.
_API_SHOWN = {"any": "both APIs", **{api: api for api in APIS}}


def cmd_rules(args: argparse.Namespace) -> int:
    from conformance.rules.catalogue import all_rules

    rules = all_rules()
    if args.json:
        print(json.dumps([{"id": r.id, "family": r.family, "level": r.level.value, "scope": r.scope, "api": r.api,
                           "statement": r.statement, "source": r.source} for r in rules], indent=2))
        return EXIT_OK
    family = None
    for r in rules:
        if r.family != family:
            family = r.family
            print(f"\n== {family} ==")
        print(f"{r.id:28} {r.level.value:9} {_API_SHOWN[r.api]:17} {r.statement}")
        print(f"{'':28} source: {r.source}")
    print(f"\n{len(rules)} rules. Profiles: strict (as written), azure (default; errata in specs/errata.yaml are warnings).")
    return EXIT_OK


def cmd_faults(args: argparse.Namespace) -> int:
    from conformance.reference.faults import FAULTS

    for name, fault in sorted(FAULTS.items()):
        print(f"{name:34} [{fault.api}] {fault.description}  -> {', '.join(fault.rules)}")
    return EXIT_OK


def _unknown_personas(names: list[str]) -> list[str]:
    from conformance.reference.personas import PERSONAS

    return [n for n in names if n not in PERSONAS]


def cmd_personas(args: argparse.Namespace) -> int:
    from conformance.reference.personas import PERSONAS

    for name, persona in sorted(PERSONAS.items()):
        print(f"{name:22} {persona.description}\n{'':22} (as {persona.source})")
    return EXIT_OK


def cmd_target(args: argparse.Namespace) -> int:
    """Print the reference deployment's published capabilities as a target file."""
    import yaml

    from conformance.reference import reference_target

    endpoint = args.endpoint or ("http://127.0.0.1:8000/models" if args.api == "model-inference" else "http://127.0.0.1:8000/openai")
    print(yaml.safe_dump(reference_target(args.api, endpoint), sort_keys=False), end="")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from conformance.report.diff import diff_results, render_diff
    from conformance.report.json_out import read_results_json

    try:
        old = read_results_json(Path(args.old))
        new = read_results_json(Path(args.new))
    except (OSError, ValueError) as exc:
        print(f"conformance diff: cannot read results: {exc}", file=sys.stderr)
        return EXIT_USAGE
    d = diff_results(old, new)
    print(render_diff(d), end="")
    return EXIT_VIOLATIONS if d.new_violations else EXIT_OK


def build_parser() -> tuple[argparse.ArgumentParser, Any]:
    """The command line: the parser, and the validate-traffic module (None when it cannot load)."""
    parser = argparse.ArgumentParser(
        prog="conformance",
        description="Conformance suite for the Azure AI Model Inference and Azure OpenAI inference REST APIs.",
        epilog="Exit codes: 0 conformant, 1 violations, 2 usage/configuration error, 3 target unreachable.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _run_parser(sub)
    sp = sub.add_parser("serve", help="run the embedded reference deployment in the foreground")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8000)
    sp.add_argument("--api", choices=[*APIS, "both"], default="both",
                    help="both APIs are always served (model inference under /models, Azure OpenAI under /openai)")
    sp.add_argument("--fault", action="append", default=[], help="switch on a named deviation (repeatable)")
    sp.add_argument("--persona", action="append", default=[],
                    help="switch on a conformant persona: other legitimate choices of real services (repeatable)")
    rp = sub.add_parser("rules", help="print the rule catalogue")
    rp.add_argument("--json", action="store_true")
    sub.add_parser("faults", help="list the reference deployment's named faults")
    sub.add_parser("personas", help="list the reference deployment's conformant personas")
    tp = sub.add_parser("target", help="print the reference deployment's capabilities as a target file")
    tp.add_argument("--api", choices=APIS, default=MODEL_INFERENCE)
    tp.add_argument("--endpoint")
    dp = sub.add_parser("diff", help="compare two results.json files (new violations, fixed, changed warnings)")
    dp.add_argument("old")
    dp.add_argument("new")
    mp = sub.add_parser("merge", help="fleet.html and fleet.json from many results.json files (files or folders)")
    mp.add_argument("results", nargs="+", metavar="RESULTS", help="results.json files, or folders searched for them")
    mp.add_argument("-o", "--output-dir", default="reports", help="where fleet.html and fleet.json go (default reports/)")
    trp = sub.add_parser("trend", help="violations and warnings per night from a folder of dated results.json files")
    trp.add_argument("folder", metavar="DIR")
    trp.add_argument("-o", "--output-dir", default="reports", help="where trend.html and trend.json go (default reports/)")
    try:
        from conformance.runner import offline

        vp = sub.add_parser("validate-traffic", help="judge recorded traffic (HAR, JSON lines, test-proxy recordings, vcrpy cassettes) with the suite's rules")
        offline.add_arguments(vp)
    except ImportError:  # pragma: no cover
        offline = None  # type: ignore[assignment]
    return parser, offline


def parse_run(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """`conformance run ...` -> (our options, pytest's arguments: unknown ones and all after `--`)."""
    parser, _ = build_parser()
    ours, after_dashes = _split_passthrough(argv)
    args, passthrough = parser.parse_known_args(ours)
    return args, passthrough + after_dashes


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, offline = build_parser()
    if argv and argv[0] == "run":
        args, passthrough = parse_run(argv)
    else:
        args = parser.parse_args(argv)
        passthrough = []
    try:
        if args.command == "run":
            return cmd_run(args, passthrough, argv)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "rules":
            return cmd_rules(args)
        if args.command == "faults":
            return cmd_faults(args)
        if args.command == "personas":
            return cmd_personas(args)
        if args.command == "target":
            return cmd_target(args)
        if args.command == "diff":
            return cmd_diff(args)
        if args.command == "merge":
            return cmd_merge(args)
        if args.command == "trend":
            return cmd_trend(args)
        if args.command == "validate-traffic" and offline is not None:
            return offline.main(args)
    except KeyboardInterrupt:
        return EXIT_USAGE
    parser.print_help()
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
