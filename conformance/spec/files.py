"""Where the vendored specs and errata are read from.

In a wheel they ship inside the package (`conformance/spec/vendored/`, mapped from the repository's
top-level `specs/` by pyproject.toml); in an editable install or a checkout they are read from
`specs/` itself. A missing file is an error, never a silent change of behaviour.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "vendored"
_CHECKOUT = Path(__file__).resolve().parents[2] / "specs"


class MissingDataError(RuntimeError):
    """A data file the suite needs at run time is not installed."""


def _specs_dir() -> Path:
    for candidate in (_PACKAGED, _CHECKOUT):
        if (candidate / "errata.yaml").is_file():
            return candidate
    return _PACKAGED


SPECS_DIR = _specs_dir()


def data_file(*parts: str) -> Path:
    """The path of a vendored data file; raises MissingDataError when it is not installed."""
    path = SPECS_DIR.joinpath(*parts)
    if not path.is_file():
        raise MissingDataError(
            f"data file {'/'.join(parts)} is missing from this installation (looked in {SPECS_DIR}); "
            "reinstall the package"
        )
    return path
