"""A recorded request as one copy-pasteable POSIX shell line.

Every failure message ends with this line so a developer can replay the request by hand. The
credential is never in it: credential headers refer to `$CONFORMANCE_API_KEY` (or, for Entra ID,
an `az account get-access-token` call) inside double quotes so the shell expands it. Everything else goes through `shlex.quote`. Bodies that cannot
sit on one line as they are (line breaks, control bytes, invalid UTF-8) are piped in through
`printf '%b'` with escapes, so the line stays single and the bytes stay exact.
"""

from __future__ import annotations

import shlex

from conformance.constants import ENTRA_SCOPE
from conformance.transport import redact
from conformance.transport.exchange import RecordedRequest

#: Hop-by-hop or transport-managed headers that curl sets itself.
_SKIP = frozenset({"content-length", "host", "accept-encoding", "connection", "transfer-encoding"})
_KEY_HEADERS = frozenset({"api-key", "x-api-key", "ocp-apim-subscription-key"})
_KEY_REF = "$CONFORMANCE_API_KEY"
#: An Entra ID token expires within the hour: the line fetches a fresh one for the same scope.
_ENTRA_REF = f"$(az account get-access-token --scope {ENTRA_SCOPE} --query accessToken -o tsv)"


def to_curl(request: RecordedRequest) -> str:
    """`curl -sS -X METHOD 'url' -H ... --data-raw 'body'` for `request`.

    The configured credential appears as `$CONFORMANCE_API_KEY`, an Entra ID token as an `az` call
    that fetches a fresh one; a deliberately wrong one as the literal dummy that was sent (so the
    line gets the 401 that was judged); none when none was sent.
    """
    dummy = request.dummy_credential if request.credential == "dummy" else None
    parts = ["curl", "-sS", "-X", shlex.quote(request.method.upper()), shlex.quote(request.url)]
    for name, value in request.headers.items():
        lname = name.lower()
        if lname in _SKIP:
            continue
        if lname in _KEY_HEADERS:
            parts += ["-H", shlex.quote(f"{name}: {dummy}") if dummy else f'"{name}: {_KEY_REF}"']
        elif lname == "authorization":
            ref = _ENTRA_REF if request.credential == "entra" else _KEY_REF
            parts += ["-H", shlex.quote(f"{name}: Bearer {dummy}") if dummy else f'"Authorization: Bearer {ref}"']
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if _wants_stream(request):
        parts.append("-N")
    body = request.body
    if body:
        text = _plain_text(body)
        if text is not None:
            parts += ["--data-raw", shlex.quote(text)]
        else:
            parts += ["--data-binary", "@-"]
            parts = ["printf", "'%b'", shlex.quote(_printf_escape(body)), "|", *parts]
    # Last line of defence: a secret that slipped into a URL, a header or the body.
    return redact.scrub(" ".join(parts))


def _wants_stream(request: RecordedRequest) -> bool:
    doc = request.json
    return isinstance(doc, dict) and doc.get("stream") is True


def _plain_text(body: bytes) -> str | None:
    """The body as text when it can be passed verbatim on one line, else None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return None
    return text


def _printf_escape(body: bytes) -> str:
    """Escape for printf %b: backslashes, control bytes and (if not UTF-8) high bytes as \\0ooo."""
    try:
        body.decode("utf-8")
        high_ok = True
    except UnicodeDecodeError:
        high_ok = False
    out: list[str] = []
    for b in body:
        if b == 0x5C:
            out.append("\\\\")
        elif b < 0x20 or b == 0x7F or (b >= 0x80 and not high_ok):
            out.append(f"\\0{b:03o}")
        else:
            out.append(chr(b))
    text = "".join(out)
    if high_ok:  # keep multibyte characters readable: re-decode the ASCII-escaped text as UTF-8
        text = text.encode("latin-1").decode("utf-8")
    return text
