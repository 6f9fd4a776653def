"""Redaction (secrets in any form never reach output) and the curl reproduction line."""

from __future__ import annotations

import base64
import json
import secrets
import shlex
import subprocess
from urllib.parse import quote

from conformance.transport import redact
from conformance.transport.curl import to_curl
from conformance.transport.exchange import RecordedRequest


def _new_secret() -> str:
    key = "k/+" + secrets.token_urlsafe(30)  # '/' and '+' make the encoded forms differ
    redact.register_secret(key)
    return key


def test_scrub_text_and_bytes():
    key = _new_secret()
    text = f"key={key}; again {key}"
    assert redact.scrub(text) == "key=***REDACTED***; again ***REDACTED***"
    assert redact.scrub_bytes(text.encode()) == b"key=***REDACTED***; again ***REDACTED***"
    assert redact.secrets_present(text) and redact.secrets_present(text.encode())
    assert not redact.secrets_present(redact.scrub(text))


def test_encoded_forms_are_scrubbed():
    key = _new_secret()
    forms = {
        "base64": base64.b64encode(key.encode()).decode(),
        "base64url-nopad": base64.urlsafe_b64encode(key.encode()).decode().rstrip("="),
        "url": quote(key, safe=""),
        "json": json.dumps(key)[1:-1],
        "bearer": f"Bearer {key}",
    }
    for name, form in forms.items():
        out = redact.scrub(f"<{form}>")
        assert key not in out and form not in out, name
        assert "***REDACTED***" in out, name


def test_base64_inside_a_longer_blob_at_any_alignment():
    key = _new_secret()
    for prefix in ("", "u", "us", "user:"):
        blob = base64.b64encode(f"{prefix}{key}".encode()).decode()
        assert redact.secrets_present(blob), prefix
        assert "***REDACTED***" in redact.scrub(f"Basic {blob}")


def test_short_values_are_not_registered():
    redact.register_secret("abc")
    redact.register_secret("")
    redact.register_secret(None)
    assert redact.scrub("abc abc") == "abc abc"


def test_redact_headers_masks_credentials_and_scrubs_values():
    key = _new_secret()
    headers = [
        ("api-key", "anything"),
        ("Authorization", "Bearer xyz"),
        ("Set-Cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("Ocp-Apim-Subscription-Key", "k"),
        ("x-echo", f"you sent {key}"),
        ("Content-Type", "application/json"),
    ]
    out = redact.redact_headers(headers)
    assert out["api-key"] == out["Authorization"] == out["Ocp-Apim-Subscription-Key"] == "***REDACTED***"
    assert out["Set-Cookie"] == "***REDACTED***, ***REDACTED***"
    assert out["x-echo"] == "you sent ***REDACTED***"
    assert out["Content-Type"] == "application/json"
    assert key not in json.dumps(out)


def _request(body: bytes | None, headers: dict[str, str] | None = None) -> RecordedRequest:
    return RecordedRequest(
        method="POST",
        url="https://example.services.ai.azure.com/models/chat/completions?api-version=2025-04-01",
        headers=headers
        or {
            "api-key": "***REDACTED***",
            "Content-Type": "application/json",
            "Content-Length": "10",
            "Host": "example",
            "Accept-Encoding": "identity",
            "Connection": "close",
        },
        body=body,
        json=json.loads(body) if body and body.startswith(b"{") else None,
    )


def test_curl_uses_env_var_and_never_the_key():
    key = _new_secret()
    body = json.dumps({"messages": [{"role": "user", "content": f"it's $HOME `id` {key}"}]}).encode()
    line = to_curl(_request(body))
    assert '-H "api-key: $CONFORMANCE_API_KEY"' in line
    assert key not in line
    assert "\n" not in line
    for hop in ("Content-Length", "Host:", "Accept-Encoding", "Connection"):
        assert hop not in line
    args = shlex.split(line)
    assert args[:5] == ["curl", "-sS", "-X", "POST", _request(None).url]
    sent = args[args.index("--data-raw") + 1]
    assert json.loads(sent)["messages"][0]["content"] == "it's $HOME `id` ***REDACTED***"


def test_curl_bearer_header_and_stream_flag():
    body = b'{"stream": true, "messages": []}'
    line = to_curl(_request(body, {"Authorization": "***REDACTED***", "extra-parameters": "pass-through"}))
    assert '-H "Authorization: Bearer $CONFORMANCE_API_KEY"' in line
    assert "-N" in shlex.split(line)
    assert "-H 'extra-parameters: pass-through'" in line


def test_curl_sends_a_deliberately_wrong_credential_literally():
    request = _request(b"{}", {"Authorization": "***REDACTED***"})
    request.credential, request.dummy_credential = "dummy", "0000deadbeef"
    assert "-H 'Authorization: Bearer 0000deadbeef'" in to_curl(request)
    assert "CONFORMANCE_API_KEY" not in to_curl(request)
    request.credential = "configured"  # the dummy value is only used for a dummy credential
    assert '-H "Authorization: Bearer $CONFORMANCE_API_KEY"' in to_curl(request)


def test_curl_body_is_shell_safe_and_exact():
    nasty = "'; rm -rf / #\"$(x)`y`\\ @file é😀"
    body = json.dumps({"content": nasty}, ensure_ascii=False).encode()
    args = shlex.split(to_curl(_request(body)))
    assert args[args.index("--data-raw") + 1].encode() == body
    assert len(to_curl(_request(b'{"x":"' + b"a" * 10000 + b'"}'))) > 10000  # long bodies stay in


def test_curl_binary_or_multiline_body_through_printf():
    for body in (b'{\n  "a": "b\\\\n"\n}\r\n', b"\x00\x01\xff\xfe raw \\ '", "é\n€".encode()):
        line = to_curl(_request(body))
        assert "\n" not in line
        args = shlex.split(line)
        assert args[0] == "printf" and args[1] == "%b" and args[3] == "|"
        assert "--data-binary" in args and args[args.index("--data-binary") + 1] == "@-"
        # The printf part reproduces the exact bytes in a POSIX shell.
        out = subprocess.run(["sh", "-c", " ".join(line.split(" | ")[0:1])], capture_output=True, check=True)
        assert out.stdout == body
