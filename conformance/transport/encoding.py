"""Content-Encoding: gzip/deflate decoding with a bound on what it may produce (no decompression bombs).

One decoder for live responses (the client feeds it chunk by chunk) and recorded ones (a cassette
that kept the compressed bytes).
"""

from __future__ import annotations

import zlib


class Inflater:
    """Incremental gzip/deflate decoding; each `feed` returns at most `max_out` bytes."""

    def __init__(self, wbits: int) -> None:
        self._d = zlib.decompressobj(wbits)

    @classmethod
    def for_encoding(cls, encoding: str) -> Inflater | None:
        enc = encoding.strip().lower()
        if enc in ("gzip", "x-gzip"):
            return cls(16 + zlib.MAX_WBITS)
        if enc == "deflate":
            return cls(zlib.MAX_WBITS | 32)  # auto-detect zlib/gzip header
        return None  # identity, or an encoding we did not ask for: keep the bytes as they are

    def feed(self, data: bytes, max_out: int) -> bytes:
        return self._d.decompress(self._d.unconsumed_tail + data, max(1, max_out))

    @property
    def unfinished(self) -> bool:
        """Output is still waiting (the last `feed` stopped at its bound)."""
        return bool(self._d.unconsumed_tail)


def inflate(data: bytes, encoding: str, limit: int) -> bytes:
    """`data` decoded per `encoding` (unchanged for identity or an unknown encoding). Raises ValueError
    when the data is not in that encoding, OverflowError when it decodes to more than `limit` bytes."""
    inflater = Inflater.for_encoding(encoding)
    if inflater is None:
        return data
    try:
        out = inflater.feed(data, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"not valid {encoding.strip()} data ({exc})") from exc
    if len(out) > limit or inflater.unfinished:
        raise OverflowError(f"decodes to more than {limit} bytes")
    return out
