"""Durations as a workflow file writes them: a number of seconds (``90``, ``0.5``) or
text of one or more parts with units ``ms``, ``s``, ``m``, ``h``, ``d`` (``500ms``,
``1.5m``, ``2h``, ``1h30m``). One grammar for every duration: retry backoffs, human-step
timeouts."""

from __future__ import annotations

import math
import re

Duration = str | int | float
"""A duration as declared, before ``parse_duration``."""

_UNITS = {"d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|[dhms])")
_EXPECTED = "use seconds (90) or a number with a unit: 500ms, 2s, 1.5m, 2h, 1d, 1h30m"


def parse_duration(value: Duration) -> float:
    """Seconds, finite and at least 0; ValueError saying what is expected."""
    if isinstance(value, bool):
        raise ValueError(f"must be a duration, not a boolean: {_EXPECTED}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower().replace(" ", "")
        parts = _PART.findall(text)
        if _is_number(text):
            seconds = float(text)
        elif text and _PART.sub("", text) == "":
            units = [unit for _, unit in parts]
            if len(set(units)) != len(units):
                raise ValueError(f"'{value}' repeats a unit")
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
        else:
            raise ValueError(f"'{value}' is not a duration: {_EXPECTED}")
    if not 0 <= seconds < math.inf:
        raise ValueError("must be a finite duration, at least 0")
    return seconds


def format_duration(seconds: int) -> str:
    """``7200`` -> ``2h``, ``5400`` -> ``1h30m``, ``45`` -> ``45s``."""
    parts = []
    for unit, size in _UNITS.items():
        if unit == "ms":
            break
        count, seconds = divmod(seconds, int(size))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
