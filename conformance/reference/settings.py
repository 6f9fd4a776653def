"""What the reference deployment claims and refuses: models, key, unsupported capabilities."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

MODEL_INFERENCE = "model-inference"
AZURE_OPENAI = "azure-openai"

#: api-versions served, per API (exactly the vendored specs).
VERSIONS: dict[str, tuple[str, ...]] = {
    MODEL_INFERENCE: ("2024-05-01-preview", "2025-04-01", "2025-05-01"),
    AZURE_OPENAI: ("2024-04-01-preview", "2024-10-21"),
}
DEFAULT_VERSION = {MODEL_INFERENCE: "2025-05-01", AZURE_OPENAI: "2024-04-01-preview"}


def _default_models() -> dict[str, str]:
    return {
        "chat": "reference-chat",
        "embeddings": "reference-embed",
        "image_embeddings": "reference-image-embed",
        "completions": "reference-instruct",
    }


@dataclass(frozen=True)
class Unsupported:
    """Capabilities the reference model refuses with 422 (REST reference: "Models with disparate
    set of capabilities"). Kept configurable so the suite can prove both sides of UNSUPPORTED-422."""

    audio: bool = True
    encoding_formats: frozenset[str] = frozenset({"int8", "uint8", "binary", "ubinary"})


@dataclass
class ReferenceSettings:
    api_key: str = field(default_factory=lambda: secrets.token_hex(16))
    models: dict[str, str] = field(default_factory=_default_models)
    unsupported: Unsupported = field(default_factory=Unsupported)
    content_filter_trigger: str = "CONFORMANCE-CONTENT-FILTER-TRIGGER"
    pass_through_parameters: frozenset[str] = frozenset({"safe_prompt"})
    #: Embedding size when the request names no `dimensions`.
    default_dimensions: int = 256
    #: Longest embeddings input (in the fake model's tokens, i.e. words), as Azure OpenAI's 8192.
    max_input_tokens: int = 8192
    max_dimensions: int = 4096
    #: Largest request body accepted (bytes); larger ones get 413.
    max_body_bytes: int = 4 * 1024 * 1024
    #: Delay between SSE chunks (seconds); 0 streams as fast as possible.
    stream_delay: float = 0.0

    def __repr__(self) -> str:  # never print the key
        return f"ReferenceSettings(models={self.models!r}, api_key=<hidden>)"
