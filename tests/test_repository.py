"""The repository describes the project, not one machine: no absolute path of this machine in any
committed file (every path is relative to the package or the checkout)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

#: Roots that only exist on some machine: home directories, the root user's home, work areas.
GENERIC = re.compile(r"(?<![\w.$~-])/(?:home|Users|root|work)/[\w.-]+")


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, check=True, timeout=30).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the file list comes from git")
    return [REPO / name for name in out.decode().split("\0") if name]


def _machine_paths() -> list[str]:
    """Absolute paths of this very machine that must never be written into the tree."""
    home = Path.home()
    candidates = {str(REPO), str(REPO.parent), sys.prefix, sys.base_prefix, str(home), os.environ.get("VIRTUAL_ENV", "")}
    # "/" or "/usr" alone would match every URL path; only distinctive prefixes are looked for.
    return sorted(p for p in candidates if p and p.count("/") >= 2 and p not in ("/usr/local", "/opt/conda"))


def test_no_absolute_path_of_this_machine_in_the_tree() -> None:
    machine = _machine_paths()
    offenders = []
    for path in _tracked_files():
        if not path.is_file() or path.suffix in (".png", ".jpg", ".gz", ".whl"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            found = [p for p in machine if p in line] or GENERIC.findall(line)
            if found:
                offenders.append(f"{path.relative_to(REPO)}:{number}: {found[0]}")
    assert not offenders, "absolute machine paths in the tree:\n" + "\n".join(offenders[:40])


def test_the_pattern_finds_machine_paths_and_spares_urls() -> None:
    r = "/"  # the examples are assembled so that this file passes its own check
    assert GENERIC.search(f"see {r}home/alice/corpus") and GENERIC.search(f"CORPUS = Path('{r}work/shared/corpus')")
    assert GENERIC.search(f"{r}root/.cache/pip")
    assert not GENERIC.search(f"https://example.com{r}home/page") and not GENERIC.search(f"~{r}work/notes")
    assert not GENERIC.search(f"$HOME{r}work/x") and not GENERIC.search("path: ../shared/corpus")


#: Documents that name the project's own files.
DOCUMENTS = ["README.md", "bench/README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_project_file_a_document_names_exists(document: str) -> None:
    text = (REPO / document).read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:conformance|tests|bench)/[\w/.-]+\.py)`", text))
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert not missing, f"{document} names files that do not exist: {missing}"
