"""Ids: time-ordered UUIDs (version 7) and secrets, from the OS's CSPRNG."""

from __future__ import annotations

import os
import secrets
import threading
import time
from uuid import UUID

_POOL_BYTES = 4096
_ID_BYTES = 10  # 74 random bits are used of these 80


class RandomIds:
    def __init__(self) -> None:
        # os.urandom is a system call: on the intake's hot path, read randomness in
        # blocks and hand it out in slices.
        self._pool = b""
        self._taken = 0
        self._lock = threading.Lock()

    def new_id(self) -> UUID:
        """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

        Time-ordered ids keep index inserts local and list in arrival order.
        """
        millis = time.time_ns() // 1_000_000
        rand = int.from_bytes(self._random(), "big")
        value = (millis & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76  # version
        value |= ((rand >> 62) & 0xFFF) << 64  # rand_a: 12 bits
        value |= 0b10 << 62  # variant
        value |= rand & ((1 << 62) - 1)  # rand_b: 62 bits
        return UUID(int=value)

    def secret(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)

    def _random(self) -> bytes:
        with self._lock:
            if self._taken + _ID_BYTES > len(self._pool):
                self._pool, self._taken = os.urandom(_POOL_BYTES), 0
            start = self._taken
            self._taken += _ID_BYTES
        return self._pool[start : start + _ID_BYTES]
