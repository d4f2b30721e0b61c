"""API keys: issue, authenticate, revoke; only a hash of the secret is ever stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from uuid import uuid4

import pytest

from auxot.adapters.clock import ManualClock
from auxot.application.declarations import Declaration, ProviderDecl, TeamDecl
from auxot.application.directory import Directory
from auxot.application.keys import (
    Authenticator,
    Caller,
    IssuedKey,
    UnknownTeamError,
    authenticate,
    hash_secret,
)
from auxot.application.service import Service
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.api_key import ApiKey
from auxot.domain.identity import team_id
from tests.application.builders import memory_service

SUPPORT, OPS = team_id("support"), team_id("ops")


@pytest.fixture
def service(clock: ManualClock) -> Iterator[Service]:
    service = memory_service(clock)
    service.apply(
        Declaration(
            teams=(TeamDecl("support", ("al", "bo")), TeamDecl("ops", ("al",))),
            providers=(ProviderDecl("offline", "scripted"),),
        ),
        OPERATOR,
    )
    yield service
    service.close()


@pytest.fixture
def team_key(service: Service) -> IssuedKey:
    return service.create_key("team", "support", OPERATOR)


def parts(key: str) -> tuple[str, str, str]:
    kind, key_id, secret = key.split(".")
    return kind, key_id, secret


# -- good keys --------------------------------------------------------------------------


def test_a_team_key_stands_for_its_team(service: Service, team_key: IssuedKey) -> None:
    caller = service.authenticate(team_key.key)
    assert caller == Caller(
        key_id=team_key.id, kind="team", owner="support", teams=frozenset({SUPPORT})
    )
    assert caller.may_use(SUPPORT)
    assert not caller.may_use(OPS)


@pytest.mark.parametrize(
    ("user", "teams"),
    [("al", {SUPPORT, OPS}), ("bo", {SUPPORT}), ("zed", set())],
)
def test_a_user_key_stands_for_the_teams_listing_the_user(
    service: Service, user: str, teams: set[object]
) -> None:
    issued = service.create_key("user", user, OPERATOR)
    caller = service.authenticate(issued.key)
    assert caller is not None
    assert (caller.kind, caller.owner, caller.teams) == ("user", user, frozenset(teams))


def test_the_key_format_is_kind_id_secret(team_key: IssuedKey) -> None:
    kind, key_id, secret = parts(team_key.key)
    assert (kind, key_id) == ("team", team_key.id.hex)
    assert len(secret) >= 43  # 32 random bytes, URL-safe base64


def test_a_team_key_for_an_unknown_team_is_refused(service: Service) -> None:
    with pytest.raises(UnknownTeamError, match="nowhere"):
        service.create_key("team", "nowhere", OPERATOR)


# -- keys that do not authenticate ------------------------------------------------------

MALFORMED: dict[str, Callable[[str], str]] = {
    "empty": lambda key: "",
    "only a kind": lambda key: "team",
    "two parts": lambda key: key.rsplit(".", 1)[0],
    "four parts": lambda key: key + ".extra",
    "unknown kind": lambda key: "admin." + key.split(".", 1)[1],
    "bearer prefix kept": lambda key: "Bearer " + key,
    "id too short": lambda key: f"team.{parts(key)[1][:-1]}.{parts(key)[2]}",
    "id not hex": lambda key: f"team.{'z' * 32}.{parts(key)[2]}",
    "id with hyphens": lambda key: f"team.{uuid4()}.{parts(key)[2]}",
    "empty secret": lambda key: key.rsplit(".", 1)[0] + ".",
    "secret with trailing space": lambda key: key + " ",
}


@pytest.mark.parametrize("mangle", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_keys_do_not_authenticate(
    service: Service, team_key: IssuedKey, mangle: Callable[[str], str]
) -> None:
    assert service.authenticate(team_key.key) is not None
    assert service.authenticate(mangle(team_key.key)) is None


def test_an_unknown_key_id_does_not_authenticate(service: Service, team_key: IssuedKey) -> None:
    _, _, secret = parts(team_key.key)
    assert service.authenticate(f"team.{uuid4().hex}.{secret}") is None


def test_a_wrong_secret_does_not_authenticate(service: Service, team_key: IssuedKey) -> None:
    other = service.create_key("team", "support", OPERATOR)
    kind, key_id, _ = parts(team_key.key)
    assert service.authenticate(f"{kind}.{key_id}.{parts(other.key)[2]}") is None


def test_the_kind_prefix_must_match_the_key(service: Service, team_key: IssuedKey) -> None:
    _, key_id, secret = parts(team_key.key)
    assert service.authenticate(f"user.{key_id}.{secret}") is None
    user_key = service.create_key("user", "al", OPERATOR)
    _, user_id, user_secret = parts(user_key.key)
    assert service.authenticate(f"team.{user_id}.{user_secret}") is None


def test_a_revoked_key_does_not_authenticate(service: Service, team_key: IssuedKey) -> None:
    assert service.revoke_key(team_key.id, OPERATOR) is True
    assert service.authenticate(team_key.key) is None
    assert service.revoke_key(team_key.id, OPERATOR) is True  # revoking again is harmless


def test_revoking_what_is_not_a_key_reports_false(service: Service) -> None:
    assert service.revoke_key(uuid4(), OPERATOR) is False
    assert service.revoke_key(SUPPORT, OPERATOR) is False  # a team's id, not a key's


def test_an_expired_key_does_not_authenticate(service: Service, clock: ManualClock) -> None:
    key_id, secret = uuid4(), "s3cret-for-expiry"
    expires = clock.now() + timedelta(hours=1)
    service.registry.save(
        ApiKey.issue(
            key_id, "team", "support", hash_secret(secret), at=clock.now(), expires_at=expires
        )
    )
    presented = f"team.{key_id.hex}.{secret}"
    assert service.authenticate(presented) is not None
    clock.advance(timedelta(minutes=59, seconds=59))
    assert service.authenticate(presented) is not None
    clock.advance(timedelta(seconds=1))
    assert service.authenticate(presented) is None


# -- across directories -----------------------------------------------------------------


def test_another_directory_on_the_same_store_sees_a_new_key_after_refresh(
    service: Service, clock: ManualClock
) -> None:
    other = Directory(service.registry)
    other.refresh()
    issued = service.create_key("team", "support", OPERATOR)
    assert other.key(issued.id) is None
    assert other.refresh() == 1
    assert other.key(issued.id) is not None
    assert authenticate(other, clock, issued.key) is not None


def test_authenticate_refreshes_a_directory_on_a_miss(service: Service, clock: ManualClock) -> None:
    other = Directory(service.registry)
    other.refresh()
    issued = service.create_key("user", "al", OPERATOR)
    caller = authenticate(other, clock, issued.key)
    assert caller is not None
    assert caller.teams == frozenset({SUPPORT, OPS})


def test_another_directory_sees_a_revocation_after_refresh(
    service: Service, clock: ManualClock, team_key: IssuedKey
) -> None:
    other = Directory(service.registry)
    other.refresh()
    service.revoke_key(team_key.id, OPERATOR)
    other.refresh()
    assert authenticate(other, clock, team_key.key) is None


# -- storage ----------------------------------------------------------------------------


def test_only_the_hash_of_a_secret_is_stored(service: Service) -> None:
    issued = [
        service.create_key("team", "support", OPERATOR),
        service.create_key("user", "al", OPERATOR),
    ]
    service.revoke_key(issued[0].id, OPERATOR)
    stored = [
        n.state for n in service.registry.recorder.select_notifications(start=1, limit=10_000)
    ]
    for key in issued:
        secret = parts(key.key)[2]
        assert not any(secret.encode() in state for state in stored)
        assert sum(hash_secret(secret).encode() in state for state in stored) == 1


# -- the remembering authenticator -----------------------------------------------------


def test_the_authenticator_answers_a_known_key_without_reading_it_again(
    service: Service, team_key: IssuedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    authenticator = Authenticator(service.directory, service.clock)
    first = authenticator(team_key.key)
    assert first is not None
    monkeypatch.setattr(service.directory, "key", lambda _: pytest.fail("read again"))
    assert authenticator(team_key.key) is first


def test_the_authenticator_forgets_on_any_registry_change(
    service: Service, team_key: IssuedKey
) -> None:
    authenticator = Authenticator(service.directory, service.clock)
    assert authenticator(team_key.key) is not None
    service.revoke_key(team_key.id, OPERATOR)  # refreshes the directory: its position moves
    assert authenticator(team_key.key) is None


def test_the_authenticator_honours_expiry(service: Service, clock: ManualClock) -> None:
    secret = "s" * 43
    key = ApiKey.issue(
        uuid4(),
        "team",
        "support",
        hash_secret(secret),
        at=clock.now(),
        expires_at=clock.now() + timedelta(minutes=5),
    )
    service.registry.save(key)
    service.directory.refresh()
    authenticator = Authenticator(service.directory, clock)
    presented = f"team.{key.id.hex}.{secret}"
    assert authenticator(presented) is not None
    clock.advance(timedelta(minutes=5))
    assert authenticator(presented) is None


def test_the_authenticator_never_remembers_failures_and_stays_bounded(
    service: Service, team_key: IssuedKey
) -> None:
    authenticator = Authenticator(service.directory, service.clock, capacity=2)
    kind, key_id, _ = parts(team_key.key)
    for n in range(50):
        assert authenticator(f"{kind}.{key_id}.wrong{n}") is None
    assert authenticator._known == {}
    other = service.create_key("team", "support", OPERATOR)
    for presented in (team_key.key, other.key, team_key.key):
        assert authenticator(presented) is not None
    assert len(authenticator._known) <= 2
