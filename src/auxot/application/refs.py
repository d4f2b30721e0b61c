"""Public references: a typed prefix and the id's hex, e.g. ``work_0192...``.

The prefix makes an id self-describing in logs and URLs, and a work id pasted where an
intake id belongs is refused instead of looked up.
"""

from __future__ import annotations

from uuid import UUID


def format_ref(kind: str, id: UUID) -> str:
    return f"{kind}_{id.hex}"


def parse_ref(kind: str, ref: str) -> UUID | None:
    """The id in ``ref``, or None when it is not a well-formed ``kind`` reference."""
    prefix = f"{kind}_"
    if not ref.startswith(prefix) or len(ref) != len(prefix) + 32:
        return None
    try:
        return UUID(hex=ref[len(prefix) :])
    except ValueError:
        return None
