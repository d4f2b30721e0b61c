"""Ids: time-ordered UUIDs (version 7) and secrets from the OS's CSPRNG."""

from __future__ import annotations

import os
import secrets
import time
from uuid import UUID


class RandomIds:
    def new_id(self) -> UUID:
        """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

        Time-ordered ids keep index inserts local and list in arrival order.
        """
        millis = time.time_ns() // 1_000_000
        rand = int.from_bytes(os.urandom(10), "big")
        value = (millis & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76  # version
        value |= ((rand >> 62) & 0xFFF) << 64  # rand_a: 12 bits
        value |= 0b10 << 62  # variant
        value |= rand & ((1 << 62) - 1)  # rand_b: 62 bits
        return UUID(int=value)

    def secret(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)
