"""Deterministic embedding vectors: hash-seeded, unit-normalised, float32-exact (so the base64
encoding of little-endian float32 bytes decodes to exactly the float list)."""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
from array import array


def vector(text: str, dimensions: int, salt: str = "") -> list[float]:
    seed = int.from_bytes(hashlib.sha256(f"{salt}\x00{text}".encode()).digest()[:8], "little")
    rng = random.Random(seed)
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    # Round through float32 so float and base64 answers carry identical numbers.
    return array("f", [v / norm for v in values]).tolist()


def to_base64(values: list[float], *, float64: bool = False) -> str:
    fmt = "<%dd" if float64 else "<%df"
    return base64.b64encode(struct.pack(fmt % len(values), *values)).decode("ascii")
