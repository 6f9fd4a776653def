"""Repository-level pytest configuration.

The suite itself is packaged (conformance/suite, registered through the `conformance` pytest
plugin); the project's own tests live in tests/. Nothing here changes how either behaves: it only
keeps pytest from collecting scripts and examples when run from the repository root.
"""

collect_ignore = ["bench", "examples", "reports", "specs"]
