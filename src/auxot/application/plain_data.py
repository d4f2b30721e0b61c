"""Plain data: JSON's kinds of value, which events store as they are."""

from __future__ import annotations

from typing import Any


def is_plain_data(value: Any) -> bool:
    """True for text, numbers, booleans, None, and lists and string-keyed mappings of them."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_plain_data(v) for k, v in value.items())
    if isinstance(value, list):
        return all(is_plain_data(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)
