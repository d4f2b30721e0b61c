"""Standard Webhooks signatures, version 1 (https://www.standardwebhooks.com).

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, the body byte for byte
as sent; the signature is the standard base64 of its HMAC-SHA256 under the secret's key,
written ``v1,<signature>``. With several secrets (a rotation's grace period) the header
holds one signature per secret, space-separated: a receiver accepts the message when any
of them matches its secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections.abc import Sequence
from datetime import datetime

from auxot.domain.signing_secrets import secret_key


def unix_seconds(at: datetime) -> int:
    """``webhook-timestamp``: whole seconds since the epoch (rounded down)."""
    return math.floor(at.timestamp())


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,`` signature of ``body`` under ``secret`` (``whsec_...``)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def webhook_headers(
    secrets: Sequence[str], webhook_id: str, at: datetime, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt, signed with every secret."""
    timestamp = unix_seconds(at)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, webhook_id, timestamp, body) for secret in secrets
        ),
    }
