"""The shell every HTML page of the suite shares: our static CSS, a CSP locked to its hash, safe text.

Server-controlled text reaches a page only through `text` (scrub registered secrets -> make control
characters visible -> bound -> `html.escape`). A page loads nothing from outside the file, and its
Content-Security-Policy allows only the exact style and script it was written with.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

from conformance.report._safe import clip, neutralise, scrubber
from conformance.results import OUTCOMES

VALUE_LIMIT = 2000


def static(name: str) -> str:
    return resources.files("conformance.report").joinpath(name).read_text(encoding="utf-8")


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


class Escaper:
    """`text(value)` for one render: the secrets scrubber is looked up once."""

    def __init__(self) -> None:
        self.scrub: Callable[[str], str] = scrubber()

    def __call__(self, value: Any, limit: int = VALUE_LIMIT) -> str:
        text = value if isinstance(value, str) else ("" if value is None else str(value))
        return html.escape(neutralise(clip(self.scrub(text), limit)), quote=True)


def page(title: str, body: str, *, styles: Sequence[str] = ("report.css",), script: str | None = None) -> str:
    """A complete, self-contained document; `title` must already be escaped."""
    css = "\n".join(static(name) for name in styles)
    js = static(script) if script else None
    script_src = csp_hash(js) if js is not None else "'none'"
    csp = (
        f"default-src 'none'; style-src {csp_hash(css)}; script-src {script_src}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    tail = f"\n<script>{js}</script>" if js is not None else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{title}</title>\n<style>{css}</style>\n</head>\n<body>\n"
        f"{body}{tail}\n</body>\n</html>\n"
    )


def outcome_class(outcome: str) -> str:
    """Outcome -> CSS class of report.css; an outcome from a foreign file gets a fixed class, not its text."""
    return f"o-{outcome}" if outcome in OUTCOMES or outcome == "note" else "o-violation"
