"""Fixtures shared by the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.faulted import faulted_reports


@pytest.fixture(scope="session")
def faulted(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, Path]:
    return faulted_reports(tmp_path_factory, worker_id)
