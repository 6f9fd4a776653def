"""The one strict `text/event-stream` parser, used live by the client and offline on recorded traffic.

It follows the WHATWG event-stream rules (line endings CRLF/LF/CR, one leading space stripped from
values, `data` lines joined with LF, blank line dispatches) and records everything a conformance
rule may want to judge: comments, non-`data` fields, `data:` written without the space the Azure
SDK expects, line endings, invalid UTF-8 and the unterminated bytes left at the end.

Two deliberate differences from a browser's EventSource, both for the sake of judging:
- an event with no `data` line but other fields (`event:`, `id:`, `retry:` or unknown ones) is
  dispatched with `data == ""` so rules can see it (a browser drops it silently);
- `SSEEvent.retry` is the `retry` value given in that event (a browser only keeps it as state).
`SSEEvent.id` is the last-event-id as WHATWG defines it (it persists across events).

Feeding is incremental and linear in the bytes fed: only the unterminated tail of the current
line is carried between chunks (as a list of pieces, joined once when the line ends).
"""

from __future__ import annotations

import gc
import re

from conformance.transport.exchange import SSEEvent, StreamTranscript

_BOM = b"\xef\xbb\xbf"
_LINE_SPLIT = re.compile(r"\r\n|\r|\n")
_LINE_END_BYTES = re.compile(rb"\r\n|\r|\n")
#: Bounds for what a hostile stream can make us keep besides events.
_MAX_ISSUES = 50
_MAX_PENDING_COMMENTS = 100
_MAX_TRAILING_CHARS = 65536


class SSEParser:
    """Incremental parser: `feed()` bytes as they arrive, `close()` at the end of the stream."""

    def __init__(self, *, max_events: int | None = None, max_bytes: int | None = None) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._events: list[SSEEvent] = []
        self._issues: list[str] = []
        self._endings: set[str] = set()
        self._partial: list[bytes] = []  # pieces of the current unterminated line
        self._offset = 0  # stream offset (bytes) where the next complete-line block starts
        self._raw_size = 0
        self._head = b""  # first bytes, held until we know whether they are a BOM
        self._bom_checked = False
        self._pending_cr = False  # last byte fed was CR: a LF starting the next chunk belongs to it
        self._exceeded: str | None = None
        self._closed: StreamTranscript | None = None
        # Per-event buffers.
        self._data: list[str] = []
        self._has_data = False
        self._event_type: str | None = None
        self._last_id: str | None = None
        self._retry: int | None = None
        self._fields: list[str] = []
        self._comments: list[str] = []
        self._nonstandard = False
        self._event_lines: list[str] = []  # raw lines of the event being built, for `trailing`

    @property
    def exceeded(self) -> str | None:
        """ "max_events" or "max_bytes" once a limit stopped the parser, else None."""
        return self._exceeded

    @property
    def events(self) -> list[SSEEvent]:
        return self._events

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume a chunk; return the events it completed (none once a limit was hit)."""
        if self._exceeded is not None or self._closed is not None or not chunk:
            return []
        # Events hold no reference cycles, but a long stream keeps thousands alive and the cyclic GC
        # would rescan the growing heap over and over: paused, parsing is about 2x faster.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._feed(chunk)
        finally:
            if was_enabled:
                gc.enable()

    def _feed(self, chunk: bytes) -> list[SSEEvent]:
        if self.max_bytes is not None and self._raw_size + len(chunk) > self.max_bytes:
            chunk = chunk[: max(0, self.max_bytes - self._raw_size)]
            self._exceeded = "max_bytes"
        self._raw_size += len(chunk)
        if not self._bom_checked:
            chunk = self._strip_bom(chunk)
        if self._pending_cr and chunk:
            self._pending_cr = False
            if chunk[0] == 10:  # the LF of a CRLF split across chunks
                self._endings.add("\r\n")
                chunk = chunk[1:]
                self._offset += 1
            else:
                self._endings.add("\r")
        if not chunk:
            return []
        last = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if last < 0:
            self._partial.append(chunk)
            return []
        if self._partial:
            self._partial.append(chunk[: last + 1])
            block = b"".join(self._partial)
            self._partial = []
        else:
            block = chunk[: last + 1]
        rest = chunk[last + 1 :]
        if rest:
            self._partial.append(rest)
        block_offset = self._offset
        self._offset += len(block)
        return self._process_block(block, block_offset, at_chunk_end=not rest)

    def close(self, *, cut_reason: str | None = None) -> StreamTranscript:
        """End of stream: what was delivered, why it stopped, and what was left unterminated."""
        if self._closed is not None:
            return self._closed
        if not self._bom_checked:  # fewer than 3 bytes ever arrived, all a BOM prefix
            self._bom_checked = True
            if self._head:
                self._partial.append(self._head)
                self._head = b""
        if self._pending_cr:
            self._endings.add("\r")
            self._pending_cr = False
        tail = b"".join(self._partial)
        self._partial = []
        trailing_parts = list(self._event_lines)
        if tail:
            trailing_parts.append(self._decode(tail, self._offset))
        trailing = "\n".join(trailing_parts)
        if self._event_lines and not tail:
            trailing += "\n"
        reason = cut_reason or self._exceeded
        self._closed = StreamTranscript(
            events=self._events,
            closed_normally=reason is None,
            cut_reason=reason,
            trailing=trailing[:_MAX_TRAILING_CHARS],
            framing_issues=self._issues,
            line_endings=self._endings,
            raw_size=self._raw_size,
        )
        return self._closed

    # -- internals ---------------------------------------------------------------------------

    def _strip_bom(self, chunk: bytes) -> bytes:
        head = self._head + chunk
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._head = head
            return b""
        self._bom_checked = True
        self._head = b""
        if head.startswith(_BOM):
            self._offset += len(_BOM)
            return head[len(_BOM) :]
        return head

    def _decode(self, block: bytes, offset: int) -> str:
        try:
            return block.decode("utf-8")
        except UnicodeDecodeError:
            pass
        # Slow path: find every invalid sequence so the issue names its stream offset.
        pos = 0
        while pos < len(block):
            try:
                block[pos:].decode("utf-8")
                break
            except UnicodeDecodeError as exc:
                self._issue(f"invalid UTF-8 at byte {offset + pos + exc.start}")
                pos += exc.end
        return block.decode("utf-8", errors="replace")

    def _issue(self, text: str) -> None:
        if len(self._issues) < _MAX_ISSUES:
            self._issues.append(text)
        elif len(self._issues) == _MAX_ISSUES:
            self._issues.append("... more framing issues not recorded")

    def _process_block(self, block: bytes, offset: int, *, at_chunk_end: bool) -> list[SSEEvent]:
        text = self._decode(block, offset)
        if "\r" in text:
            # A CR that ends the chunk may be half of a CRLF: its kind is decided by the next feed.
            self._pending_cr = at_chunk_end and block.endswith(b"\r")
            body = block[:-1] if self._pending_cr else block
            for m in _LINE_END_BYTES.finditer(body):
                self._endings.add(m.group().decode("ascii"))
            lines = _LINE_SPLIT.split(text)
        else:
            self._endings.add("\n")
            lines = text.split("\n")
        lines.pop()  # the block ends with a line terminator: the last piece is empty
        return self._process_lines(lines)

    def _process_lines(self, lines: list[str]) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        for line in lines:
            if not line:
                if self._has_data or self._fields:
                    out.append(self._dispatch())
                    if self.max_events is not None and len(self._events) >= self.max_events:
                        self._exceeded = "max_events"
                        break
                else:
                    self._event_type = None
                self._event_lines = []
                continue
            if len(self._event_lines) < 10000:
                self._event_lines.append(line)
            if line.startswith("data: "):  # the common case first
                self._data.append(line[6:])
                self._has_data = True
                continue
            if line[0] == ":":
                if len(self._comments) < _MAX_PENDING_COMMENTS:
                    c = line[1:]
                    self._comments.append(c[1:] if c.startswith(" ") else c)
                continue
            name, sep, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                self._data.append(value)
                self._has_data = True
                self._nonstandard = True
                continue
            self._fields.append(name)
            if name == "event":
                self._event_type = value
            elif name == "id":
                if "\x00" in value:
                    self._issue("id field containing NUL ignored")
                else:
                    self._last_id = value
            elif name == "retry":
                if value.isascii() and value.isdigit():
                    self._retry = int(value)
                else:
                    self._issue(f"retry field with non-digit value {value[:40]!r} ignored")
        return out

    def _dispatch(self) -> SSEEvent:
        ev = SSEEvent(
            data="\n".join(self._data),
            event=self._event_type,
            id=self._last_id,
            retry=self._retry,
            other_fields=self._fields,
            comments=self._comments,
            nonstandard_prefix=self._nonstandard,
        )
        self._events.append(ev)
        self._data = []
        self._has_data = False
        self._event_type = None
        self._retry = None
        self._fields = []
        self._comments = []
        self._nonstandard = False
        return ev


def parse_stream(raw: bytes | str) -> StreamTranscript:
    """Parse a complete recorded stream at once (same semantics as incremental feeding)."""
    parser = SSEParser()
    parser.feed(raw.encode("utf-8") if isinstance(raw, str) else raw)
    return parser.close()
