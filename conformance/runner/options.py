"""The run options, declared once: `conformance run --NAME` and pytest's `--conformance-NAME` come from here.

The pytest plugin is loaded by every pytest session of an environment where the suite is installed,
so its options are namespaced (`--conformance-profile`, never `--profile`, which pytest-profiling
owns). `conformance run` keeps the short names and translates them with `to_pytest_args`.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conformance.constants import APIS, AUTH_SCHEMES, DEPTHS, PROFILES

PYTEST_PREFIX = "--conformance-"
#: Workers `conformance run` starts against an endpoint other than the embedded reference: the run is
#: latency-bound there, and the request budget and 429 back-off are shared by all of them.
DEFAULT_WORKERS = 4


@dataclass(frozen=True)
class Option:
    """One run option. `name` is the short name (`--name` on `conformance run`)."""

    name: str
    help: str
    choices: tuple[str, ...] | None = None
    type: type = str
    #: None (takes a value), "store_true" or "append".
    action: str | None = None
    metavar: str | None = None
    #: Accepted but not listed in --help (the credential: prefer the environment).
    hidden: bool = False
    #: False: `conformance run` only (it decides how pytest is invoked).
    pytest: bool = True
    #: `conformance run` repeats it (several --target files run as a fleet); pytest takes one.
    cli_repeats: bool = False

    @property
    def cli_flag(self) -> str:
        return f"--{self.name}"

    @property
    def pytest_flag(self) -> str:
        return f"{PYTEST_PREFIX}{self.name}"

    @property
    def dest(self) -> str:
        """The attribute name, the same on both sides (`config.getoption(dest)`, `args.<dest>`)."""
        return "conformance_" + self.name.replace("-", "_")

    def _kwargs(self, *, cli: bool = False) -> dict[str, Any]:
        kw: dict[str, Any] = {"dest": self.dest, "help": argparse.SUPPRESS if self.hidden else self.help}
        if cli and self.cli_repeats:
            kw.update(action="append", metavar=self.metavar)
        elif self.action == "store_true":
            kw.update(action="store_true", default=None)
        elif self.action == "append":
            kw.update(action="append", default=[], metavar=self.metavar)
        else:
            kw.update(default=None, metavar=self.metavar)
            if self.type is not str:
                kw["type"] = self.type
        if self.choices:
            kw["choices"] = list(self.choices)
        return kw


OPTIONS: tuple[Option, ...] = (
    Option("endpoint", "target endpoint URL, e.g. https://<resource>.services.ai.azure.com/models "
           "(env CONFORMANCE_ENDPOINT); absent: the embedded reference deployment", metavar="URL"),
    Option("api", "which API the target implements (env CONFORMANCE_API; default model-inference)", choices=APIS),
    Option("api-version", "api-version to test (env CONFORMANCE_API_VERSION; default 2025-04-01 / "
           "2024-04-01-preview)", metavar="V"),
    Option("profile", "strict: the spec as written; azure (default): documented errata are warnings "
           "(env CONFORMANCE_PROFILE)", choices=PROFILES),
    Option("depth", "generated requests per operation, about 3 / 15 / 150 each way (env CONFORMANCE_DEPTH; "
           "default standard)", choices=DEPTHS),
    Option("auth", "credential scheme (default api-key; entra needs the azure extra)", choices=AUTH_SCHEMES),
    Option("api-key", "credential (prefer the environment variable CONFORMANCE_API_KEY)", hidden=True),
    Option("target", "target file (YAML): endpoint, models, capabilities, budget; see the README (on `conformance "
           "run`, repeat it to run several targets as a fleet)", metavar="FILE", cli_repeats=True),
    Option("report-dir", "where report.html, results.json, junit.xml and pytest-details.html go "
           "(default reports/)", metavar="DIR"),
    Option("insecure", "do not verify TLS certificates (warns)", action="store_true"),
    Option("waivers", "YAML file of accepted deviations (rule, operation, reason, expires)", metavar="FILE"),
    Option("baseline", "results.json of an earlier run: fail only on violations not in it", metavar="FILE"),
    Option("fault", "start the embedded reference with this named fault (repeatable; see `conformance faults`)",
           action="append", metavar="NAME"),
    Option("persona", "start the embedded reference as this conformant persona (repeatable; see "
           "`conformance personas`)", action="append", metavar="NAME"),
    Option("max-requests", "override the budget's max_requests", type=int, metavar="N"),
    Option("max-duration", "bound on the whole run in seconds (limits.max_duration, default 1800): past it "
           "nothing more is sent and the run is incomplete", type=float, metavar="S"),
    Option("max-in-flight", "requests one test may have in flight at once (limits.max_in_flight, default 4; "
           "1 sends them one after another)", type=int, metavar="N"),
    Option("seed", "seed for generated requests (printed in the header; default random)", type=int, metavar="N"),
    Option("save-traffic", "also write every exchange as JSON lines to this file (replay with "
           "validate-traffic)", metavar="FILE"),
    Option("workers", "parallel worker processes (pytest-xdist); default 0 against the embedded reference, "
           f"{DEFAULT_WORKERS} against any other endpoint; 0 runs in one process", type=int, metavar="N",
           pytest=False),
    Option("parallel-targets", "with several --target: how many run at once (default: min(4, targets))",
           type=int, metavar="N", pytest=False),
)

BY_NAME = {o.name: o for o in OPTIONS}


def add_pytest_options(group: Any) -> None:
    """Register the namespaced options on a pytest option group."""
    for o in OPTIONS:
        if o.pytest:
            group.addoption(o.pytest_flag, **o._kwargs())


def add_cli_options(parser: argparse.ArgumentParser) -> None:
    """Register the short names on `conformance run`."""
    for o in OPTIONS:
        parser.add_argument(o.cli_flag, **o._kwargs(cli=True))


def to_pytest_args(args: argparse.Namespace, skip: Iterable[str] = ()) -> list[str]:
    """`conformance run` arguments as the plugin's namespaced pytest arguments."""
    out: list[str] = []
    for o in OPTIONS:
        if not o.pytest or o.name in skip:
            continue
        value = getattr(args, o.dest, None)
        if o.action == "store_true":
            if value:
                out.append(o.pytest_flag)
        elif o.action == "append":
            for item in value or []:
                out += [o.pytest_flag, str(item)]
        elif value is not None:
            out += [o.pytest_flag, str(value)]
    return out


def pytest_value(config: Any, name: str) -> Any:
    """The value of option `name` in a pytest session (None when unset or not registered)."""
    return config.getoption(BY_NAME[name].dest, default=None)
