"""A data file missing from an installation is an error that says so, never a silent change of
behaviour (no errata would quietly turn the `azure` profile into `strict`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.rules import profiles
from conformance.spec import loader
from conformance.spec.files import MissingDataError, data_file


def test_a_missing_data_file_raises() -> None:
    with pytest.raises(MissingDataError, match="no-such-file.yaml is missing from this installation"):
        data_file("no-such-file.yaml")


def test_missing_errata_is_an_error_not_the_strict_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(profiles, "data_file", lambda *parts: data_file("no-such-errata.yaml"))
    profiles.load_errata.cache_clear()
    try:
        with pytest.raises(MissingDataError):
            profiles.load_errata()
    finally:
        profiles.load_errata.cache_clear()


def test_missing_specs_are_an_installation_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(loader, "SPECS_DIR", tmp_path)
    with pytest.raises(MissingDataError, match="no vendored model-inference spec is installed"):
        loader.load_spec("model-inference")
