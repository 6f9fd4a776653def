"""The SSE parser: WHATWG framing, what it records for rules, chunk-boundary independence, speed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.transport.sse import SSEParser, parse_stream


def _feed_in(raw: bytes, cuts: list[int]):
    parser = SSEParser()
    events = []
    last = 0
    for cut in sorted(set(cuts)) + [len(raw)]:
        events += parser.feed(raw[last:cut])
        last = cut
    return events, parser.close()


def test_line_endings_lf_crlf_cr_all_dispatch():
    for sep in ("\n", "\r\n", "\r"):
        t = parse_stream(f"data: a{sep}{sep}data: b{sep}{sep}".encode())
        assert [e.data for e in t.events] == ["a", "b"], sep
        assert t.line_endings == {sep}
        assert t.trailing == ""
        assert t.closed_normally


def test_cr_at_chunk_end_then_lf_is_one_line_ending():
    p = SSEParser()
    assert p.feed(b"data: a\r") == []
    # The LF completes the CRLF: it must not count as a second (blank) line dispatching "a" early.
    assert p.feed(b"\ndata: b\r") == []
    events = p.feed(b"\n\r\n")
    t = p.close()
    assert [e.data for e in events] == ["a\nb"]
    assert t.line_endings == {"\r\n"}


def test_lone_cr_at_chunk_end_is_a_line_ending():
    p = SSEParser()
    p.feed(b"data: a\r")
    events = p.feed(b"\rdata: b\r\r")
    assert [e.data for e in events] == ["a", "b"]
    assert p.close().line_endings == {"\r"}


def test_multiline_data_comments_and_fields():
    raw = b": keep-alive\n:x\ndata: line1\ndata: line2\nevent: update\nid: 42\nretry: 1500\nfoo: bar\n\n"
    (ev,) = parse_stream(raw).events
    assert ev.data == "line1\nline2"
    assert ev.event == "update"
    assert ev.id == "42"
    assert ev.retry == 1500
    assert ev.comments == ["keep-alive", "x"]
    assert ev.other_fields == ["event", "id", "retry", "foo"]
    assert ev.nonstandard_prefix is False


def test_value_loses_exactly_one_leading_space():
    (ev,) = parse_stream(b"data:  two\n\n").events
    assert ev.data == " two"


def test_id_with_nul_ignored_and_retry_must_be_digits():
    t = parse_stream(b"id: 1\ndata: a\n\nid: x\x00y\nretry: 10s\ndata: b\n\n")
    assert [e.id for e in t.events] == ["1", "1"]  # last-event-id persists; the NUL id is ignored
    assert t.events[1].retry is None
    assert any("NUL" in i for i in t.framing_issues)
    assert any("retry" in i and "10s" in i for i in t.framing_issues)


def test_nonstandard_data_prefix_flagged():
    t = parse_stream(b'data:{"a":1}\n\ndata: {"a":2}\n\n')
    assert [e.data for e in t.events] == ['{"a":1}', '{"a":2}']
    assert [e.nonstandard_prefix for e in t.events] == [True, False]


def test_bom_stripped_even_when_split():
    p = SSEParser()
    for b in b"\xef\xbb\xbfdata: x\n\n":
        p.feed(bytes([b]))
    t = p.close()
    assert [e.data for e in t.events] == ["x"]
    assert t.framing_issues == []


def test_trailing_unterminated_event_kept_not_dispatched():
    t = parse_stream(b"data: one\n\ndata: two\ndata: thr")
    assert [e.data for e in t.events] == ["one"]
    assert t.trailing == "data: two\ndata: thr"


def test_empty_blocks_and_comment_only_blocks_not_dispatched():
    t = parse_stream(b"\n\n: ping\n\n\n")
    assert t.events == []
    t = parse_stream(b"event: only\n\n")
    assert len(t.events) == 1 and t.events[0].data == "" and t.events[0].event == "only"
    assert t.data_events() == []


def test_invalid_utf8_flagged_with_offset():
    t = parse_stream(b"data: ok\n\ndata: \xff\xfe\n\n")
    assert t.events[1].data == "\ufffd\ufffd"
    assert t.framing_issues == ["invalid UTF-8 at byte 16", "invalid UTF-8 at byte 17"]


def test_limits_stop_the_parser():
    p = SSEParser(max_events=3)
    got = p.feed(b"data: x\n\n" * 10)
    assert len(got) == 3 and p.exceeded == "max_events"
    assert p.feed(b"data: y\n\n") == []
    t = p.close()
    assert t.cut_reason == "max_events" and not t.closed_normally
    p = SSEParser(max_bytes=20)
    p.feed(b"data: 0123456789\n\n" * 5)
    t = p.close()
    assert p.exceeded == "max_bytes" and t.raw_size == 20 and len(t.events) == 1


def test_close_with_cut_reason():
    p = SSEParser()
    p.feed(b"data: a\n\n")
    t = p.close(cut_reason="timeout")
    assert t.cut_reason == "timeout" and t.closed_normally is False and len(t.events) == 1


_fields = st.sampled_from(
    [
        "data: a",
        "data:b",
        "data",
        ": c",
        "event: e",
        "id: 1",
        "retry: 5",
        "x: y",
        "",
        "data: é€😀",
        "data: \x00",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_fields, max_size=12),
    sep=st.sampled_from(["\n", "\r\n", "\r"]),
    bom=st.booleans(),
    bad=st.booleans(),
    data=st.data(),
)
def test_chunking_never_changes_the_result(lines, sep, bom, bad, data):
    raw = (
        (b"\xef\xbb\xbf" if bom else b"")
        + sep.join(lines).encode()
        + (b"\xc3" if bad else b"")
        + sep.encode()
    )
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=len(raw) + 1))
    whole = parse_stream(raw)
    events, chunked = _feed_in(raw, cuts)
    assert events == chunked.events
    assert chunked.events == whole.events
    assert chunked.trailing == whole.trailing
    assert chunked.framing_issues == whole.framing_issues
    assert chunked.line_endings == whole.line_endings
    # Byte by byte, the hardest chunking of all.
    assert _feed_in(raw, list(range(len(raw))))[1].events == whole.events


def test_100k_chunks_parse_completely():
    # Speed is measured by bench/sse_validation.py (no timed assertions here).
    chunk = b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
    p = SSEParser()
    for _ in range(100_000):
        p.feed(chunk)
    t = p.close()
    assert len(t.events) == 100_000 and t.events[-1].data == chunk[6:-2].decode()
