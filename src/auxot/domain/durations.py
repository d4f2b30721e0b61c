"""Durations as a workflow file writes them: seconds (``90``) or ``30s``, ``30m``, ``2h``,
``1d``, and combinations such as ``1h30m``. Stored as whole seconds."""

from __future__ import annotations

import re

_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([dhms])")


def parse_duration(value: int | str) -> int:
    """Whole seconds, at least 1; ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 90, '30m' or '2h', not a boolean")
    if isinstance(value, int):
        seconds = value
    else:
        text = value.strip().lower()
        if text.isdigit():
            seconds = int(text)
        elif text and _PART.sub("", text) == "":
            units = [unit for _, unit in _PART.findall(text)]
            if len(set(units)) != len(units):
                raise ValueError(f"'{value}' repeats a unit")
            seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(text))
        else:
            raise ValueError(
                f"'{value}' is not a duration: use seconds (90) or units d, h, m, s ('1h30m')"
            )
    if seconds < 1:
        raise ValueError("must be at least 1 second")
    return seconds


def format_duration(seconds: int) -> str:
    """``7200`` -> ``2h``, ``5400`` -> ``1h30m``, ``45`` -> ``45s``."""
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
