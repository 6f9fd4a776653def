"""The spec wing: the vendored OpenAPI documents, their operations, and the one validator."""

from conformance.spec.loader import (
    Operation,
    Parameter,
    Spec,
    available_versions,
    default_version,
    load_spec,
)
from conformance.spec.schema import SchemaIssue

__all__ = ["Operation", "Parameter", "SchemaIssue", "Spec", "available_versions", "default_version", "load_spec"]
