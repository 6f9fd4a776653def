"""The fixed vocabularies of the suite, typed once: APIs, profiles, depths, auth schemes, model kinds."""

from __future__ import annotations

MODEL_INFERENCE = "model-inference"
AZURE_OPENAI = "azure-openai"
APIS = (MODEL_INFERENCE, AZURE_OPENAI)

#: `strict`: the spec and the REST reference as written; `azure`: documented errata are warnings.
PROFILES = ("strict", "azure")
DEFAULT_PROFILE = "azure"

#: Generated requests per operation, about 3 / 15 / 150 each way.
DEPTHS = ("smoke", "standard", "deep")
DEFAULT_DEPTH = "standard"

AUTH_SCHEMES = ("api-key", "bearer", "entra")
#: The schemes that present the configured key (`entra` presents a token azure-identity fetches).
KEY_SCHEMES = ("api-key", "bearer")

#: The token scope of `auth: entra` (Azure AI services, both APIs).
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"

#: The kinds of model a target names under `models:` (operation kinds of the suite).
MODEL_KINDS = ("chat", "embeddings", "image_embeddings", "completions")
