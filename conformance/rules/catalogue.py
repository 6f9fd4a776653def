"""Imports every rule family module, which registers its rules and checks."""

from conformance.rules import (  # noqa: F401
    behaviour,
    chat,
    embeddings,
    errors,
    schema_rules,
    streaming,
    transport,
)
