"""Paths the self-tests read, relative to the checkout (never to a particular machine)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
REPORTS = REPO / "reports"
#: The project's shared material (specs, seeds, research, recorded corpus) lives beside the checkout;
#: CONFORMANCE_SHARED_DIR points elsewhere (a git worktree, for instance).
SHARED = Path(os.environ.get("CONFORMANCE_SHARED_DIR") or REPO.parent / "shared")


def shared(*parts: str) -> Path:
    """A path under ../shared; skips (or, in CI, fails) with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"needs ../shared/{'/'.join(parts)} beside the checkout"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI=true: the shared material must be present)")
        pytest.skip(reason)
    return path
