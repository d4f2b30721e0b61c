"""Errors the use cases raise for the entrypoints to translate."""

from __future__ import annotations


class NotFoundError(LookupError):
    """The resource does not exist, or the caller may not see it: callers cannot tell."""


class ForbiddenError(PermissionError):
    """The caller may see the resource but not make this change to it."""
