"""Target configuration: precedence, the key's only sources, validation messages, the file format."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conformance.config import Budget, ConfigError, Limits, TargetConfig, load_target_file, resolve_config

EXAMPLE = """\
endpoint: https://example.services.ai.azure.com/models
api: model-inference
api_version: "2025-04-01"
auth: api-key
models: {chat: my-chat-model, embeddings: my-embedding-model, image_embeddings: my-image-model}
capabilities:            # true = claimed; false = claimed unsupported; absent = discovered
  streaming: true
  tools: true
  json_object: true
  json_schema: false
  audio: false
  image_embeddings: true
  embedding_dimensions: [256, 1024]
  encoding_formats: [float, base64]
  pass_through_parameters: {safe_prompt: true}
content_filter:
  trigger_prompt: "..."
budget: {max_requests: 400, max_tokens: 16}
operations: ["*"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "target.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_documented_example_parses(tmp_path):
    cfg = resolve_config({}, _write(tmp_path, EXAMPLE), environ={"CONFORMANCE_API_KEY": "sekrit-123"})
    assert cfg.endpoint == "https://example.services.ai.azure.com/models"
    assert cfg.api_version == "2025-04-01"
    assert cfg.models["image_embeddings"] == "my-image-model"
    assert cfg.capabilities["json_schema"] is False
    assert cfg.capabilities["embedding_dimensions"] == [256, 1024]
    assert cfg.capabilities["pass_through_parameters"] == {"safe_prompt": True}
    assert cfg.content_filter == {"trigger_prompt": "..."}
    assert cfg.budget == Budget(400, 16)
    assert cfg.auth_schemes == ["api-key"]
    assert cfg.api_key == "sekrit-123"
    assert cfg.limits == Limits()


def test_precedence_cli_over_file_over_env(tmp_path):
    path = _write(tmp_path, "endpoint: https://file.example/models\nprofile: strict\n")
    env = {
        "CONFORMANCE_ENDPOINT": "https://env.example/models",
        "CONFORMANCE_PROFILE": "azure",
        "CONFORMANCE_DEPTH": "deep",
        "CONFORMANCE_API_VERSION": "2024-05-01-preview",
        "CONFORMANCE_API_KEY": "from-env-key",
    }
    cfg = resolve_config({"endpoint": "https://cli.example/models", "depth": None}, path, env)
    assert cfg.endpoint == "https://cli.example/models"  # cli beats file and env
    assert cfg.profile == "strict"  # file beats env
    assert cfg.depth == "deep"  # env beats default (cli None = not given)
    assert cfg.api_version == "2024-05-01-preview"
    assert cfg.api_key == "from-env-key"
    assert resolve_config({"api_key": "cli-key"}, None, env).api_key == "cli-key"
    assert resolve_config({"max_requests": 7}, path, env).budget.max_requests == 7


def test_unquoted_date_api_version_becomes_a_string(tmp_path):
    cfg = resolve_config({}, _write(tmp_path, "api_version: 2025-04-01\n"), {})
    assert cfg.api_version == "2025-04-01"


@pytest.mark.parametrize("key", ["api_key", "api-key", "token"])
def test_key_in_target_file_refused(tmp_path, key):
    path = _write(tmp_path, f"endpoint: https://x.example\n{key}: abcdef123456\n")
    with pytest.raises(ConfigError, match="CONFORMANCE_API_KEY") as info:
        load_target_file(path)
    assert "abcdef123456" not in str(info.value)


@pytest.mark.parametrize(
    ("cli", "file_text", "needle"),
    [
        ({"api": "openai"}, "", "api must be one of"),
        ({"profile": "lenient"}, "", "profile must be one of"),
        ({"depth": "huge"}, "", "depth must be one of"),
        ({"auth": "basic"}, "", "auth must be one of"),
        ({"endpoint": "ftp://x.example"}, "", "endpoint must be an http(s) URL"),
        ({"endpoint": "example.com/models"}, "", "endpoint must be an http(s) URL"),
        ({}, "budget: {max_requests: 0}", "budget.max_requests must be > 0"),
        ({}, "budget: {max_requests: many}", "budget.max_requests must be an integer"),
        ({}, "budget: {max_tokens: 1.5}", "budget.max_tokens must be an integer"),
        ({}, "budget: {max_request: 3}", "budget: unknown key 'max_request' (did you mean 'max_requests'?)"),
        ({}, "models: [a, b]", "'models' must be a dict"),
        ({}, "models: {chat: 3}", "'models' values must be strings"),
        ({}, "models: {vision: x}", "models: unknown key 'vision'"),
        ({}, "models: {chats: x}", "models: unknown key 'chats' (did you mean 'chat'?)"),
        ({}, "operations: [1, 2]", "'operations' must be a list of strings"),
        ({}, "auth_schemes: [api-key, oauth]", "auth_schemes must be one of"),
        ({}, "limits: {read_timeout: -1}", "limits.read_timeout must be > 0"),
        ({}, "insecure: maybe", "'insecure' must be a bool"),
        ({"colour": "red"}, "", "unknown configuration option(s): colour"),
    ],
)
def test_bad_values_name_the_key(tmp_path, cli, file_text, needle):
    path = _write(tmp_path, file_text) if file_text else None
    with pytest.raises(ConfigError) as info:
        resolve_config(cli, path, {})
    assert needle in str(info.value)


def test_endpoint_with_credentials_refused_without_echo():
    with pytest.raises(ConfigError, match="must not contain credentials") as info:
        resolve_config({"endpoint": "https://user:hunter22@x.example/models"}, None, {})
    assert "hunter22" not in str(info.value)


def test_bad_yaml_and_bad_types_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"not valid YAML at line 3"):
        load_target_file(_write(tmp_path, "endpoint: https://x\nmodels: {chat: [\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_target_file(_write(tmp_path, "endpoint: !!python/object:os.system x\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_target_file(_write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="cannot read target file"):
        load_target_file(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("future_knob: 3\n", "unknown key 'future_knob' (known keys: endpoint, "),
        ("endpiont: https://x\n", "unknown key 'endpiont' (did you mean 'endpoint'?)"),
        ("capabilities: {streming: true}\n", "capabilities: unknown key 'streming' (did you mean 'streaming'?)"),
        ("content_filter: {trigger: x}\n", "content_filter: unknown key 'trigger' (did you mean 'trigger_prompt'?)"),
        ("limits: {max_duraton: 5}\n", "limits: unknown key 'max_duraton' (did you mean 'max_duration'?)"),
    ],
)
def test_unknown_keys_at_any_level_are_refused_with_a_suggestion(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        resolve_config({}, _write(tmp_path, text), {})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_repr_and_public_dict_hide_the_key():
    cfg = TargetConfig(endpoint="https://x.example", api_key="super-secret-key-123")
    assert "super-secret-key-123" not in repr(cfg)
    assert "super-secret-key-123" not in str(cfg)
    public = cfg.to_public_dict()
    assert "super-secret-key-123" not in repr(public)
    assert public["api_key_set"] is True and "api_key" not in public


def test_offers_globs():
    cfg = TargetConfig(endpoint="https://x.example", operations=["getChat*", "getModelInfo"])
    assert cfg.offers("getChatCompletions")
    assert cfg.offers("getModelInfo")
    assert not cfg.offers("getEmbeddings")
    assert TargetConfig(endpoint=None).offers("anything")


def test_auth_schemes_default_and_explicit(tmp_path):
    assert resolve_config({"auth": "bearer"}, None, {}).auth_schemes == ["bearer"]
    cfg = resolve_config({}, _write(tmp_path, "auth_schemes: [api-key, bearer]\n"), {})
    assert cfg.auth_schemes == ["api-key", "bearer"]


def test_fractional_limits_are_accepted_where_the_field_is_a_float(tmp_path):
    path = _write(tmp_path, "limits: {read_timeout: 2.5, max_stream_seconds: 0.5, max_retry_wait: 1}\n")
    limits = resolve_config({}, path, {}).limits
    assert (limits.read_timeout, limits.max_stream_seconds, limits.max_retry_wait) == (2.5, 0.5, 1)
    # Counts stay integers: the annotation decides, not the default's Python type.
    with pytest.raises(ConfigError, match="limits.max_retries must be an integer"):
        resolve_config({}, _write(tmp_path, "limits: {max_retries: 1.5}\n"), {})
    with pytest.raises(ConfigError, match="limits.max_body_bytes must be an integer"):
        resolve_config({}, _write(tmp_path, "limits: {max_body_bytes: 10.0}\n"), {})


def test_api_key_env_names_the_variable_that_holds_this_targets_key(tmp_path):
    target = tmp_path / "staging.yaml"
    target.write_text("endpoint: https://staging.example/models\napi_key_env: STAGING_KEY\n", encoding="utf-8")
    env = {"STAGING_KEY": "k-staging", "CONFORMANCE_API_KEY": "k-default"}
    cfg = resolve_config({}, target, env)
    assert cfg.api_key == "k-staging" and cfg.api_key_env == "STAGING_KEY"
    assert cfg.to_public_dict()["api_key_env"] == "STAGING_KEY" and "k-staging" not in repr(cfg)
    assert resolve_config({"api_key": "k-cli"}, target, env).api_key == "k-cli"  # command line still wins
    # Unset: an error naming the variable, never the fall-back to CONFORMANCE_API_KEY (another deployment's key).
    with pytest.raises(ConfigError, match="STAGING_KEY.*not set"):
        resolve_config({}, target, {"CONFORMANCE_API_KEY": "k-default"})
    # Entra ID needs no key.
    assert resolve_config({"auth": "entra"}, target, {}).api_key is None
    target.write_text("api_key_env: 'not a name'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="api_key_env must name an environment variable"):
        resolve_config({}, target, env)


def test_operations_default_per_api(tmp_path):
    aoai = resolve_config({"api": "azure-openai"}, None, {})
    assert aoai.operations == ["ChatCompletions_Create", "Completions_Create", "embeddings_create"]
    assert not aoai.offers("Create_Assistant") and aoai.offers("embeddings_create")
    assert resolve_config({}, None, {}).operations == ["*"]
    only_chat = resolve_config({"api": "azure-openai"}, None, {}, file_data={"models": {"chat": "gpt-4o"}})
    assert only_chat.operations == ["ChatCompletions_Create"]
    target = tmp_path / "t.yaml"
    target.write_text("api: azure-openai\noperations: ['*']\n", encoding="utf-8")
    assert resolve_config({}, target, {}).operations == ["*"]
