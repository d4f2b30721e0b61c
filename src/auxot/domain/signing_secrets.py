"""An intake's callback signing secrets (Standard Webhooks, version 1).

A secret reads ``whsec_`` followed by the standard base64 of its key (at least 24 random
bytes): the form every Standard Webhooks library accepts. An intake holds at most two: the
current secret, and after a rotation the previous one until its grace period ends. While
both are valid every delivery carries both signatures, so a receiver can switch from the
old to the new secret at any moment within the grace period without failing one.
Rotating again during a grace period ends the older secret's grace at once (only the
secret being replaced stays valid): receivers keep at most two secrets, never three.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

import attrs

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MIN_KEY_BYTES = 24
MAX_GRACE = timedelta(days=7)
"""The longest an old secret stays valid after a rotation: long enough to roll a change
out to every receiver, short enough that a leaked secret is not valid for months."""


class SecretError(ValueError):
    """A secret or a rotation that the rules above refuse."""


def format_secret(key: bytes) -> str:
    """``key`` as a Standard Webhooks secret."""
    if len(key) < MIN_KEY_BYTES:
        raise SecretError(f"a signing key has at least {MIN_KEY_BYTES} bytes, not {len(key)}")
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The key a ``whsec_`` secret encodes; SecretError for anything else."""
    if not secret.startswith(SECRET_PREFIX):
        raise SecretError(f"a signing secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise SecretError("a signing secret is whsec_ and standard base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise SecretError(f"a signing key has at least {MIN_KEY_BYTES} bytes, not {len(key)}")
    return key


@attrs.frozen
class SigningSecrets:
    """The secrets an intake signs with. ``current`` is None only for an intake recorded
    before intakes had secrets and not given one since."""

    current: str | None = attrs.field(default=None, repr=False)
    previous: str | None = attrs.field(default=None, repr=False)
    previous_valid_until: datetime | None = None

    def valid_at(self, now: datetime) -> tuple[str, ...]:
        """The secrets to sign with at ``now``: the current one first, then the previous
        one while its grace period runs (``now`` before ``previous_valid_until``)."""
        if self.current is None:
            return ()
        if self.previous_valid(now):
            assert self.previous is not None
            return (self.current, self.previous)
        return (self.current,)

    def previous_valid(self, now: datetime) -> bool:
        return (
            self.previous is not None
            and self.previous_valid_until is not None
            and now < self.previous_valid_until
        )

    def rotated(self, secret: str, previous_valid_until: datetime) -> SigningSecrets:
        return SigningSecrets(secret, self.current, previous_valid_until)


def grace_until(at: datetime, grace: timedelta) -> datetime:
    """When the secret replaced at ``at`` stops being valid; SecretError for a grace
    period below zero or above MAX_GRACE."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise SecretError(f"the grace period is from 0 to {MAX_GRACE.days} days")
    return at + grace
