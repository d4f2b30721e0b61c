"""Intakes' signing secrets as the use cases handle them: issued by ``apply`` (and to
intakes recorded before secrets existed), revealed and rotated only by team admins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Literal
from uuid import UUID, uuid4

import pytest

from auxot.adapters.clock import ManualClock
from auxot.application.errors import ForbiddenError, NotFoundError
from auxot.application.keys import Caller
from auxot.application.service import Service
from auxot.application.signing_secrets import IntakeSecrets, signing_secrets
from auxot.domain.identity import intake_id, team_id, workflow_id
from auxot.domain.intake import Intake
from auxot.domain.signing_secrets import SecretError, secret_key
from tests.application.builders import declaration, memory_service

TRIAGE = intake_id("support", "triage")
SUPPORT = team_id("support")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def service(clock: ManualClock) -> Iterator[Service]:
    service = memory_service(clock)
    service.apply(declaration())
    yield service
    service.close()


def intake(service: Service, id: UUID = TRIAGE) -> Intake:
    found = service.directory.intake(id)
    assert found is not None
    return found


def caller(
    kind: Literal["team", "user"] = "team",
    teams: frozenset[UUID] = frozenset({SUPPORT}),
    administers: frozenset[UUID] = frozenset(),
) -> Caller:
    return Caller(uuid4(), kind, "someone", teams, administers=administers)


def test_apply_shows_a_new_intakes_secret_once(clock: ManualClock) -> None:
    service = memory_service(clock)
    try:
        [created] = [a for a in service.apply(declaration()) if a.kind == "intake"]
        [again] = [a for a in service.apply(declaration()) if a.kind == "intake"]
    finally:
        service.close()
    assert len(secret_key(created.extra["secret"])) == 32
    assert again.outcome == "unchanged"
    assert "secret" not in again.extra


def test_every_intake_has_its_own_secret(service: Service) -> None:
    service.apply(declaration(intakes=("triage", "backlog")))
    one = signing_secrets(intake(service), service.clock.now())
    two = signing_secrets(intake(service, intake_id("support", "backlog")), service.clock.now())
    assert len(one) == len(two) == 1
    assert one != two


def old_intake(service: Service) -> Intake:
    """An intake as recorded before secrets existed: opened, never given one."""
    old = Intake.open(
        uuid4(), "old", SUPPORT, workflow_id("support", "triage"), None, service.clock.now()
    )
    service.registry.save(old)
    service.directory.refresh()
    return old


def test_an_intake_recorded_before_secrets_gets_one_when_first_asked(service: Service) -> None:
    old = old_intake(service)
    assert signing_secrets(intake(service, old.id), service.clock.now()) == ()
    ensured = IntakeSecrets(service).ensure(old.id)
    [secret] = signing_secrets(ensured, service.clock.now())
    assert signing_secrets(intake(service, old.id), service.clock.now()) == (secret,)
    assert IntakeSecrets(service).ensure(old.id).signing.current == secret  # only once
    assert IntakeSecrets(service).reveal(None, old.id).secret == secret


def test_an_intake_recorded_before_secrets_gets_one_on_the_next_apply(clock: ManualClock) -> None:
    service = memory_service(clock)
    try:
        service.apply(declaration(intakes=()))
        workflow = workflow_id("support", "triage")
        old = Intake.open(TRIAGE, "triage", SUPPORT, workflow, None, clock.now())
        service.registry.save(old)  # as history written before secrets existed
        [applied] = [a for a in service.apply(declaration()) if a.kind == "intake"]
        assert applied.outcome == "updated"
        assert "secret" not in applied.extra  # shown on creation only; admins can read it
        assert len(signing_secrets(intake(service), clock.now())) == 1
    finally:
        service.close()


def test_rotation_keeps_the_old_secret_for_the_grace_period(
    service: Service, clock: ManualClock
) -> None:
    secrets = IntakeSecrets(service)
    old = secrets.reveal(None, TRIAGE).secret
    rotated = secrets.rotate(None, TRIAGE, timedelta(hours=2))
    assert rotated.secret != old
    assert rotated.previous_valid_until == clock.now() + timedelta(hours=2)
    assert signing_secrets(intake(service), clock.now()) == (rotated.secret, old)
    clock.advance(timedelta(hours=2))
    assert signing_secrets(intake(service), clock.now()) == (rotated.secret,)
    assert secrets.reveal(None, TRIAGE).previous_valid_until is None


def test_a_grace_period_out_of_bounds_changes_nothing(service: Service) -> None:
    before = signing_secrets(intake(service), service.clock.now())
    with pytest.raises(SecretError):
        IntakeSecrets(service).rotate(None, TRIAGE, timedelta(days=8))
    assert signing_secrets(intake(service), service.clock.now()) == before


def test_only_the_teams_admins_see_or_rotate_the_secret(service: Service) -> None:
    secrets = IntakeSecrets(service)
    member = caller("user", teams=frozenset({SUPPORT}))
    admin = caller("user", teams=frozenset({SUPPORT}), administers=frozenset({SUPPORT}))
    stranger = caller("team", teams=frozenset({team_id("billing")}))
    assert secrets.reveal(caller(), TRIAGE) == secrets.reveal(admin, TRIAGE)
    with pytest.raises(ForbiddenError):
        secrets.reveal(member, TRIAGE)
    with pytest.raises(ForbiddenError):
        secrets.rotate(member, TRIAGE)
    for unseen in (stranger, None):
        target = TRIAGE if unseen is stranger else uuid4()
        with pytest.raises(NotFoundError):
            secrets.reveal(unseen, target)
        with pytest.raises(NotFoundError):
            secrets.rotate(unseen, target)
