"""An intake's signing secrets: issued once, rotated with a grace period, and which are
valid at a given time."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auxot.domain.intake import Intake
from auxot.domain.signing_secrets import (
    MAX_GRACE,
    SecretError,
    SigningSecrets,
    format_secret,
    secret_key,
)

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OLD = format_secret(b"o" * 32)
NEW = format_secret(b"n" * 32)
NEWER = format_secret(b"w" * 32)


def opened() -> Intake:
    return Intake.open(uuid4(), "triage", uuid4(), uuid4(), None, AT)


def reread(intake: Intake) -> Intake:
    """The intake as its events rebuild it: what every other process sees."""
    events = intake.collect_events()
    rebuilt = None
    for event in events:
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Intake)
    return rebuilt


def test_an_intake_opened_without_a_secret_has_none_to_sign_with() -> None:
    # What an intake recorded before secrets existed looks like.
    assert opened().signing.valid_at(AT) == ()


def test_a_secret_is_issued_once() -> None:
    intake = opened()
    intake.issue_secret(OLD, AT)
    intake.issue_secret(NEW, AT)  # it has one: nothing happens
    assert [type(e).__name__ for e in intake.pending_events] == ["Opened", "SecretIssued"]
    assert reread(intake).signing.valid_at(AT) == (OLD,)


def test_after_a_rotation_both_secrets_sign_until_the_grace_period_ends() -> None:
    intake = opened()
    intake.issue_secret(OLD, AT)
    intake.rotate_secret(NEW, timedelta(hours=24), AT + timedelta(hours=1))
    intake = reread(intake)
    ends = AT + timedelta(hours=25)
    assert intake.signing.valid_at(AT + timedelta(hours=1)) == (NEW, OLD)
    assert intake.signing.valid_at(ends - timedelta(microseconds=1)) == (NEW, OLD)
    assert intake.signing.valid_at(ends) == (NEW,)


def test_rotating_again_within_the_grace_period_drops_the_oldest_secret() -> None:
    intake = opened()
    intake.issue_secret(OLD, AT)
    intake.rotate_secret(NEW, timedelta(hours=24), AT)
    intake.rotate_secret(NEWER, timedelta(hours=1), AT + timedelta(minutes=5))
    assert reread(intake).signing.valid_at(AT + timedelta(minutes=10)) == (NEWER, NEW)


def test_a_rotation_with_no_grace_ends_the_old_secret_at_once() -> None:
    intake = opened()
    intake.issue_secret(OLD, AT)
    intake.rotate_secret(NEW, timedelta(0), AT)
    assert intake.signing.valid_at(AT) == (NEW,)


@pytest.mark.parametrize(
    "grace", [timedelta(seconds=-1), MAX_GRACE + timedelta(seconds=1)], ids=["negative", "long"]
)
def test_a_grace_period_out_of_bounds_is_refused(grace: timedelta) -> None:
    intake = opened()
    intake.issue_secret(OLD, AT)
    with pytest.raises(SecretError, match="grace period"):
        intake.rotate_secret(NEW, grace, AT)
    assert intake.signing.valid_at(AT) == (OLD,)


@pytest.mark.parametrize(
    "secret",
    [
        "n" * 40,  # no prefix
        "whsec_" + base64.b64encode(b"k" * 23).decode(),  # too short a key
        "whsec_" + base64.urlsafe_b64encode(b"\xfb" * 30).decode(),  # not standard base64
        "whsec_",
    ],
)
def test_malformed_secrets_are_refused(secret: str) -> None:
    intake = opened()
    with pytest.raises(SecretError):
        intake.issue_secret(secret, AT)
    with pytest.raises(SecretError):
        intake.rotate_secret(secret, timedelta(hours=1), AT)
    assert not any(type(e).__name__.startswith("Secret") for e in intake.pending_events)


@given(st.binary(min_size=24, max_size=64))
def test_a_key_survives_its_secret_form(key: bytes) -> None:
    assert secret_key(format_secret(key)) == key


@given(
    grace=st.integers(min_value=0, max_value=int(MAX_GRACE.total_seconds())),
    offset=st.integers(min_value=-10, max_value=int(MAX_GRACE.total_seconds()) + 10),
)
def test_the_old_secret_is_valid_exactly_within_its_grace(grace: int, offset: int) -> None:
    secrets = SigningSecrets(OLD).rotated(NEW, AT + timedelta(seconds=grace))
    valid = secrets.valid_at(AT + timedelta(seconds=offset))
    assert valid[0] == NEW  # the current secret always comes first
    assert valid == ((NEW, OLD) if offset < grace else (NEW,))
