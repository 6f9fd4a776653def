"""Entra ID auth: the token comes from azure-identity's DefaultAzureCredential for the documented scope.

azure-identity itself is a third-party boundary that would call a real token service, so a stand-in
`azure.identity` module is placed in sys.modules; everything of ours (client, headers, redaction,
recording) runs for real against a loopback server.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import types

import pytest

from conformance.config import ConfigError, TargetConfig
from conformance.transport import redact
from conformance.transport.client import TargetClient
from conformance.transport.curl import to_curl
from tests.servers import RawRequest, json_response, serve_raw

TOKEN = "eyJ0eXAiOiJKV1QifQ.entra-conformance-token.sig"


class _Token:
    def __init__(self, token: str, expires_on: float) -> None:
        self.token, self.expires_on = token, expires_on


@pytest.fixture
def fake_identity(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    scopes: list[str] = []

    class DefaultAzureCredential:
        def get_token(self, scope: str) -> _Token:
            scopes.append(scope)
            return _Token(TOKEN, time.time() + 3600)

    azure = types.ModuleType("azure")
    identity = types.ModuleType("azure.identity")
    identity.DefaultAzureCredential = DefaultAzureCredential  # type: ignore[attr-defined]
    azure.identity = identity  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure", azure)
    monkeypatch.setitem(sys.modules, "azure.identity", identity)
    return scopes


def _echo_auth(sock: socket.socket, req: RawRequest) -> None:
    json_response(sock, 200, {"authorization": req.headers.get("authorization", "")})


def test_entra_token_is_sent_as_bearer_for_the_cognitive_services_scope(fake_identity: list[str]) -> None:
    with serve_raw(_echo_auth) as server:
        cfg = TargetConfig(endpoint=server.url, auth="entra")
        with TargetClient(cfg) as client:
            first = client.request("GET", "/info")
            second = client.request("GET", "/info")
    assert fake_identity == ["https://cognitiveservices.azure.com/.default"]  # fetched once, then cached
    seen = [r.headers.get("authorization") for r in server.requests]
    assert seen == [f"Bearer {TOKEN}", f"Bearer {TOKEN}"]
    # The token is a credential: never in a recorded exchange, even when the server echoes it back.
    for ex in (first, second):
        assert TOKEN not in json.dumps(ex.to_dict())
        assert ex.credential_echo
        # The reproduction fetches a fresh token for the same scope, never the key variable.
        assert ex.request.credential == "entra"
        assert ('"Authorization: Bearer $(az account get-access-token --scope '
                'https://cognitiveservices.azure.com/.default --query accessToken -o tsv)"') in to_curl(ex.request)
        assert "CONFORMANCE_API_KEY" not in to_curl(ex.request)
    assert redact.secrets_present(f"x {TOKEN} y")


def test_entra_failure_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class DefaultAzureCredential:
        def get_token(self, scope: str) -> _Token:
            raise RuntimeError("no credential in this environment")

    identity = types.ModuleType("azure.identity")
    identity.DefaultAzureCredential = DefaultAzureCredential  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.identity", identity)
    with TargetClient(TargetConfig(endpoint="http://127.0.0.1:9", auth="entra")) as client, pytest.raises(
        ConfigError, match="could not get a Microsoft Entra token"
    ):
        client.request("GET", "/info")
