"""Target configuration: what to test, how hard, and with which credential.

Values come from the command line, a target file (YAML, meant to be committed), the environment
and defaults, in that order of precedence. The API key comes only from `--api-key` or
`CONFORMANCE_API_KEY`: a key found in a target file is refused, because target files get
committed. The key is kept out of `repr`, `str` and `to_public_dict`.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import fnmatch
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

import yaml

from conformance.constants import (
    APIS,
    AUTH_SCHEMES,
    AZURE_OPENAI,
    DEPTHS,
    MODEL_INFERENCE,
    MODEL_KINDS,
    PROFILES,
)

ENV_VARS = {
    "endpoint": "CONFORMANCE_ENDPOINT",
    "api_key": "CONFORMANCE_API_KEY",
    "api": "CONFORMANCE_API",
    "api_version": "CONFORMANCE_API_VERSION",
    "profile": "CONFORMANCE_PROFILE",
    "depth": "CONFORMANCE_DEPTH",
}
#: Target-file keys that would hold a credential: refused outright.
_KEY_LIKE = frozenset({"api_key", "api-key", "apikey", "key", "token", "bearer_token", "password", "secret"})


class ConfigError(Exception):
    """A usage or configuration error (the command line exits with code 2)."""


@dataclass
class Budget:
    max_requests: int = 400
    max_tokens: int = 16


@dataclass
class Limits:
    """Bounds that keep a hostile or broken target from hanging or flooding the run."""

    connect_timeout: float = 10
    read_timeout: float = 30
    total_timeout: float = 60
    max_body_bytes: int = 8 * 1024 * 1024
    max_stream_events: int = 5000
    max_stream_seconds: float = 60
    stream_idle_timeout: float = 20
    max_retries: int = 3
    max_retry_wait: float = 30
    #: Requests one test may have in flight at once (its independent ones: generated cases, hand-written
    #: negatives, parameters probed one at a time); per worker process. 1 sends one after another.
    max_in_flight: int = 4
    #: Bound on the whole run (seconds): past it nothing more is sent and the verdict is incomplete.
    max_duration: float = 1800


@dataclass
class TargetConfig:
    endpoint: str | None = None
    api: str = "model-inference"
    #: None means the default version of the vendored spec for `api`.
    api_version: str | None = None
    auth: str = "api-key"
    api_key: str | None = field(default=None, repr=False)
    #: Name of the environment variable holding the key (target file `api_key_env`); None: CONFORMANCE_API_KEY.
    api_key_env: str | None = None
    #: Model names per kind (chat, embeddings, image_embeddings, completions); deployment ids for AOAI.
    models: dict[str, str] = field(default_factory=dict)
    #: Claimed capabilities: True claimed, False claimed unsupported, absent = discovered.
    capabilities: dict[str, Any] = field(default_factory=dict)
    content_filter: dict[str, Any] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)
    #: Globs of operationIds the target offers.
    operations: list[str] = field(default_factory=lambda: ["*"])
    #: Credential schemes the target claims to accept (default: just `auth`).
    auth_schemes: list[str] = field(default_factory=list)
    profile: str = "azure"
    depth: str = "standard"
    report_dir: Path = Path("reports")
    insecure: bool = False
    seed: int | None = None
    limits: Limits = field(default_factory=Limits)
    #: Unknown target-file keys, kept for forward compatibility.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.auth_schemes:
            self.auth_schemes = [self.auth]

    def offers(self, operation_id: str) -> bool:
        """Whether the target claims `operation_id` (fnmatch against `operations`)."""
        return any(fnmatch.fnmatchcase(operation_id, pattern) for pattern in self.operations)

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    def to_public_dict(self) -> dict[str, Any]:
        """What a report may show: everything but the credential."""
        return {
            "endpoint": self.endpoint,
            "api": self.api,
            "api_version": self.api_version,
            "auth": self.auth,
            "auth_schemes": list(self.auth_schemes),
            "api_key_set": self.has_key,
            "api_key_env": self.api_key_env,
            "models": dict(self.models),
            "capabilities": dict(self.capabilities),
            "content_filter": dict(self.content_filter),
            "budget": {"max_requests": self.budget.max_requests, "max_tokens": self.budget.max_tokens},
            "operations": list(self.operations),
            "profile": self.profile,
            "depth": self.depth,
            "report_dir": str(self.report_dir),
            "insecure": self.insecure,
            "seed": self.seed,
            "limits": {f.name: getattr(self.limits, f.name) for f in fields(Limits)},
            "extra": dict(self.extra),
        }


# -- target file -------------------------------------------------------------------------------

_FILE_KEYS = {
    "endpoint": str,
    "api": str,
    "api_version": str,
    "auth": str,
    "auth_schemes": list,
    "models": dict,
    "capabilities": dict,
    "content_filter": dict,
    "budget": dict,
    "operations": list,
    "profile": str,
    "depth": str,
    "report_dir": str,
    "insecure": bool,
    "seed": int,
    "limits": dict,
    "api_key_env": str,
}
#: What an `api_key_env` value must look like: a portable environment variable name.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def load_target_file(path: Path) -> dict[str, Any]:
    """Read a target file into a dict of known keys (unknown ones under "extra")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read target file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"target file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"target file {path} is not valid YAML{where}: {problem}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"target file {path} must be a mapping of keys, not a {type(raw).__name__}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        key = str(key)
        if key.lower() in _KEY_LIKE:
            raise ConfigError(
                f"target file {path} contains a credential ({key!r}); target files get committed, so the "
                "key is only read from --api-key, the CONFORMANCE_API_KEY environment variable, or the "
                "environment variable the file names in api_key_env"
            )
        _known(f"target file {path}", key, _FILE_KEYS)
        out[key] = _check_type(path, key, value, _FILE_KEYS[key])
    for section, known in _SECTION_KEYS.items():
        for key in out.get(section) or {}:
            _known(f"target file {path}: {section}", str(key), known)
    return out


#: The keys each section of the target file takes; anything else is a typo, refused with a suggestion.
CAPABILITY_KEYS = (
    "api_versions", "streaming", "tools", "json_object", "json_schema", "audio", "image_embeddings",
    "embedding_dimensions", "encoding_formats", "input_type", "image_input", "image_text_input",
    "pass_through_parameters", "seed", "stop", "presence_penalty", "frequency_penalty", "top_p",
    "logit_bias", "logprobs", "n", "user",
)
_SECTION_KEYS: dict[str, Any] = {
    "capabilities": CAPABILITY_KEYS,
    "content_filter": ("trigger_prompt",),
}


def _known(where: str, key: str, known: Any) -> None:
    """Refuse an unknown key with a "did you mean" (a typo would otherwise be silently ignored)."""
    if key in known:
        return
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    raise ConfigError(f"{where}: unknown key {key!r} ({hint})")


def _check_type(path: Path, key: str, value: Any, expected: type) -> Any:
    if key == "api_version" and isinstance(value, _dt.date):  # unquoted 2025-04-01 parses as a date
        return value.isoformat()
    if key == "operations" and isinstance(value, str):
        value = [value]
    if key == "seed" and value is None:
        return None
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(
            f"target file {path}: {key!r} must be a {expected.__name__}, got {type(value).__name__} {value!r}"
        )
    if key in ("operations", "auth_schemes") and not all(isinstance(v, str) for v in value):
        raise ConfigError(f"target file {path}: {key!r} must be a list of strings, got {value!r}")
    if key == "models":
        bad = {k: v for k, v in value.items() if not isinstance(v, str)}
        if bad:
            raise ConfigError(f"target file {path}: 'models' values must be strings, got {bad!r}")
    return value


# -- resolution --------------------------------------------------------------------------------

#: The Azure OpenAI inference operations, by the kind of deployment (`models:` key) that serves them.
AOAI_INFERENCE = {"chat": "ChatCompletions_Create", "completions": "Completions_Create", "embeddings": "embeddings_create"}


def default_operations(api: str, models: Mapping[str, str] | None = None) -> list[str]:
    """What a target offers when its file lists no `operations:`.

    An Azure OpenAI resource is tested on the inference operations of the deployments it names (all
    three when it names none): the spec's Assistants, Threads, audio and image operations need their
    own deployments and claims, and a chat deployment cannot serve legacy completions, so those count
    as not claimed rather than as broken."""
    if api != AZURE_OPENAI:
        return ["*"]
    named = [op for kind, op in AOAI_INFERENCE.items() if (models or {}).get(kind)]
    return named or list(AOAI_INFERENCE.values())


#: Command-line values by TargetConfig field name; the budget comes as max_requests / max_tokens.
_CLI_KEYS = frozenset(
    {f.name for f in fields(TargetConfig)} - {"extra", "budget"} | {"max_requests", "max_tokens"}
)


def resolve_config(
    cli: Mapping[str, Any] | None = None,
    target_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    file_data: Mapping[str, Any] | None = None,
) -> TargetConfig:
    """Merge command line > target file > environment > defaults into a validated TargetConfig.

    `cli` holds option values by TargetConfig field name (None = not given), plus `max_requests`
    and `max_tokens` for the budget. `file_data` stands in for a target file already in memory
    (the reference deployment's published capabilities).
    """
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    unknown = set(cli) - _CLI_KEYS
    if unknown:
        raise ConfigError(f"unknown configuration option(s): {', '.join(sorted(unknown))}")
    environ = os.environ if environ is None else environ
    file = dict(file_data) if file_data is not None else load_target_file(target_file) if target_file is not None else {}

    merged: dict[str, Any] = {}
    for key, var in ENV_VARS.items():
        if key != "api_key" and environ.get(var):
            merged[key] = environ[var]
    merged.update({k: v for k, v in file.items() if k not in ("budget", "limits")})
    merged.update(
        {k: v for k, v in cli.items() if k not in ("max_requests", "max_tokens", "limits", "api_key")}
    )

    budget = dict(file.get("budget") or {})
    budget.update({k: cli[k] for k in ("max_requests", "max_tokens") if k in cli})
    limits = dict(file.get("limits") or {})
    limits.update(cli.get("limits") or {})
    api_key_env = merged.get("api_key_env")
    api_key = cli.get("api_key") or _key_from_env(api_key_env, merged.get("auth", "api-key"), environ)

    config = TargetConfig(
        endpoint=merged.get("endpoint"),
        api=merged.get("api", "model-inference"),
        api_version=_opt_str(merged.get("api_version")),
        auth=merged.get("auth", "api-key"),
        api_key=api_key,
        api_key_env=api_key_env,
        models=dict(merged.get("models") or {}),
        capabilities=dict(merged.get("capabilities") or {}),
        content_filter=dict(merged.get("content_filter") or {}),
        budget=_build(Budget, budget, "budget"),
        operations=list(merged.get("operations") or default_operations(merged.get("api", MODEL_INFERENCE), merged.get("models"))),
        auth_schemes=list(merged.get("auth_schemes") or []),
        profile=merged.get("profile", "azure"),
        depth=merged.get("depth", "standard"),
        report_dir=Path(merged.get("report_dir", "reports")),
        insecure=bool(merged.get("insecure", False)),
        seed=merged.get("seed"),
        limits=_build(Limits, limits, "limits"),
        extra=dict(merged.get("extra") or {}),
    )
    validate(config)
    return config


def _key_from_env(name: str | None, auth: str, environ: Mapping[str, str]) -> str | None:
    """The key from the variable the target file names, else from CONFORMANCE_API_KEY.

    A named variable that is unset is an error, never a fall-back to CONFORMANCE_API_KEY: in a
    fleet that would send one deployment's key to another deployment.
    """
    if name is None:
        return environ.get(ENV_VARS["api_key"]) or None
    if not _ENV_NAME.fullmatch(name):
        raise ConfigError(f"api_key_env must name an environment variable (letters, digits, _), got {name!r}")
    value = environ.get(name) or None
    if value is None and auth != "entra":
        raise ConfigError(f"the target file names api_key_env {name}, but the environment variable {name} is not set")
    return value


def _opt_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat() if isinstance(value, _dt.date) else str(value)


def _build(cls: type, values: Mapping[str, Any], section: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    # Judge by the annotation, not the default's type: `read_timeout: float = 30` takes 2.5.
    hints = get_type_hints(cls)
    for key in sorted(set(values) - set(known)):
        _known(section, str(key), known)
    out = {}
    for name, value in values.items():
        integral = hints[name] is int
        numeric_ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric_ok or (integral and not isinstance(value, int)):
            kind = "an integer" if integral else "a number"
            raise ConfigError(f"{section}.{name} must be {kind} > 0, got {value!r}")
        if value <= 0 and not (name == "max_retries" and value == 0):
            raise ConfigError(f"{section}.{name} must be > 0, got {value!r}")
        out[name] = value
    return cls(**out)


def validate(config: TargetConfig) -> None:
    """Raise ConfigError naming the first bad value."""
    _one_of("api", config.api, APIS)
    _one_of("profile", config.profile, PROFILES)
    _one_of("depth", config.depth, DEPTHS)
    _one_of("auth", config.auth, AUTH_SCHEMES)
    for scheme in config.auth_schemes:
        _one_of("auth_schemes", scheme, AUTH_SCHEMES)
    if config.endpoint is not None:
        _check_endpoint(config.endpoint)
    if config.seed is not None and (not isinstance(config.seed, int) or isinstance(config.seed, bool)):
        raise ConfigError(f"seed must be an integer, got {config.seed!r}")
    for kind in sorted(set(config.models) - set(MODEL_KINDS)):
        _known("models", kind, MODEL_KINDS)
    unknown_models = set(config.models) - set(MODEL_KINDS)
    if unknown_models:
        raise ConfigError(
            f"models: unknown kind(s) {', '.join(sorted(unknown_models))} (known: {', '.join(MODEL_KINDS)})"
        )
    if not config.operations:
        raise ConfigError("operations must list at least one operationId glob (use ['*'] for all)")


def _one_of(key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key} must be one of {', '.join(allowed)}; got {value!r}")


def _check_endpoint(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"endpoint must be an http(s) URL such as https://<resource>.services.ai.azure.com/models; "
            f"got {endpoint!r}"
        )
    if parts.username or parts.password:
        raise ConfigError("endpoint must not contain credentials (user:password@); use CONFORMANCE_API_KEY")
    if parts.fragment:
        raise ConfigError(f"endpoint must not contain a fragment; got {endpoint!r}")
