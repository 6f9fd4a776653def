"""Per-request context: which API and version, the fault switches, the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.reference.settings import MODEL_INFERENCE, ReferenceSettings


@dataclass
class RequestContext:
    api: str
    faults: frozenset[str]
    settings: ReferenceSettings
    version: str | None = None
    #: The credential the caller presented (only used by the `echo-credential` fault).
    presented_key: str | None = None
    #: Filled as the request is understood, for error bodies.
    extras: dict[str, Any] = field(default_factory=dict)
    #: Conformant personas switched on (conformance/reference/personas.py).
    personas: frozenset[str] = frozenset()

    def faulted(self, name: str) -> bool:
        """The one place a fault switch is read."""
        return name in self.faults

    def persona(self, name: str) -> bool:
        """The one place a persona switch is read."""
        return name in self.personas

    @property
    def is_mi(self) -> bool:
        return self.api == MODEL_INFERENCE

    def model_name(self, kind: str) -> str:
        """The `model` reported in bodies (the echo-credential fault leaks the key there)."""
        if self.faulted("echo-credential") and self.presented_key:
            return self.presented_key
        return self.settings.models[kind]
