"""Configuration. ``Settings.from_env`` is the one place Auxot reads the environment."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping
from typing import Any

import attrs

from auxot.domain.callback_schedule import DEFAULT_SCHEDULE, CallbackSchedule
from auxot.domain.durations import parse_duration

DEFAULT_DATABASE_URL = "sqlite:///auxot.db"
SECRET_SUFFIX = "_API_KEY"  # noqa: S105 - a name pattern, not a secret


class SettingsError(ValueError):
    pass


@attrs.frozen
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    worker_id: str = attrs.field(factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    # Who the command-line user is, for the actor of what they record (``cli:<name>``).
    os_user: str = attrs.field(factory=lambda: _os_user())
    lease_grace_seconds: float = 30.0
    poll_interval: float = 0.2
    refresh_interval: float = 0.5
    step_threads: int = 16
    drain_seconds: float = 10.0
    max_body_bytes: int = 1024 * 1024
    # How often a worker checkpoints each log's hash chain (seconds; 0: never).
    checkpoint_seconds: float = 60.0
    # URLs Auxot calls for others (HTTP tools) may not reach loopback, private,
    # link-local or metadata addresses unless allowed: all non-global ones (but never
    # metadata) with ``allow_private_urls``, or listed hosts and networks (CIDR).
    allow_private_urls: bool = False
    url_allow_list: tuple[str, ...] = ()
    # Callback (and tool) URLs must be https:// unless this allows http:// too.
    allow_http_callbacks: bool = False
    # Environment variables a provider may name (``api_key_env``) for its credentials:
    # only those named ``*_API_KEY``. Whoever may apply a workflow file must not be able
    # to send, say, the database URL or a cloud credential to an endpoint of their choice.
    secrets: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    # Callbacks: the wait before each attempt (its length is the number of attempts),
    # how long one attempt may take, and how many are sent at once per worker.
    callback_schedule: CallbackSchedule = DEFAULT_SCHEDULE
    callback_timeout: float = 15.0
    callback_threads: int = 8

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "secrets": {k: v for k, v in env.items() if k.endswith(SECRET_SUFFIX)}
        }
        for field, name, convert in _ENV:
            raw = env.get(name)
            if raw is not None and raw != "":
                try:
                    values[field] = convert(raw)
                except ValueError as exc:
                    raise SettingsError(f"{name}={raw!r} is not valid: {exc}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid-{os.getuid()}"


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _port(raw: str) -> int:
    port = int(raw)
    if not 1 <= port <= 65535:
        raise ValueError(f"{port} is not a port (1 to 65535)")
    return port


_ENV: list[tuple[str, str, Any]] = [
    ("database_url", "AUXOT_DATABASE_URL", str),
    ("host", "AUXOT_HOST", str),
    ("port", "AUXOT_PORT", _port),
    ("worker_id", "AUXOT_WORKER_ID", str),
    ("lease_grace_seconds", "AUXOT_LEASE_GRACE_SECONDS", float),
    ("poll_interval", "AUXOT_POLL_INTERVAL", float),
    ("refresh_interval", "AUXOT_REFRESH_INTERVAL", float),
    ("step_threads", "AUXOT_STEP_THREADS", int),
    ("drain_seconds", "AUXOT_DRAIN_SECONDS", float),
    ("max_body_bytes", "AUXOT_MAX_BODY_BYTES", int),
    ("checkpoint_seconds", "AUXOT_CHECKPOINT_SECONDS", float),
    ("allow_private_urls", "AUXOT_ALLOW_PRIVATE_URLS", _flag),
    ("url_allow_list", "AUXOT_URL_ALLOW_LIST", _list),
    ("allow_http_callbacks", "AUXOT_ALLOW_HTTP_CALLBACKS", _flag),
    ("callback_schedule", "AUXOT_CALLBACK_SCHEDULE", CallbackSchedule.parse),
    ("callback_timeout", "AUXOT_CALLBACK_TIMEOUT", parse_duration),
    ("callback_threads", "AUXOT_CALLBACK_THREADS", int),
]
