"""The report's client-compatibility table: official client x call -> works / fails (why) / not judged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_CLASS = {"works": "o-pass", "fails": "o-warning", "not judged": "o-skipped"}


def clients_section(entries: list[dict[str, Any]], text: Callable[[Any], str],
                    link: Callable[[dict[str, Any]], str | None]) -> str:
    """`text` escapes server-controlled text; `link` gives the href of an entry's finding (or None)."""
    if not entries:
        return ""
    rows = []
    for e in entries:
        if not isinstance(e, dict):
            continue
        outcome = str(e.get("outcome") or "")
        why = text(e.get("why") or "")
        href = link(e)
        if href and outcome == "fails":
            why = f'<a href="{href}">{why or "details"}</a>'
        rows.append(
            f'<tr><td>{text(e.get("client"))} <span class="muted">{text(e.get("version") or "")}</span></td>'
            f"<td><code>{text(e.get('call'))}</code></td><td>{text(e.get('operation') or '–')}</td>"
            f'<td class="{_CLASS.get(outcome, "o-not_applicable")}">{text(outcome)}</td><td>{why}</td></tr>'
        )
    return (
        '<section id="clients">\n<h2>Official clients</h2>\n'
        '<p class="small muted">The API\'s official client, run against the target as a user would '
        "(rules CLIENT-CALL, CLIENT-FIELDS, CLIENT-STREAM).</p>\n"
        '<div class="scroll"><table class="clients"><thead><tr><th>Client</th><th>Call</th><th>Operation</th><th>Result</th>'
        f"<th>Why</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>\n</section>"
    )
