"""Declarations: created, then idempotent, then updated; a wrong one saves nothing."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from auxot.application.declarations import (
    Declaration,
    DeclarationError,
    HandoffDecl,
    IntakeDecl,
    Issue,
    ProviderDecl,
    StepDecl,
    TeamDecl,
    WorkflowDecl,
)
from auxot.application.service import Service
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.identity import workflow_id
from auxot.domain.workflow import Workflow
from tests.application.builders import declaration, linear_workflow, memory_service


@pytest.fixture
def service() -> Iterator[Service]:
    service = memory_service()
    yield service
    service.close()


def stored_events(service: Service) -> int:
    return service.registry.recorder.max_notification_id() or 0


def outcomes(applied: list[object]) -> list[tuple[str, str, str]]:
    return [(a.kind, a.name, a.outcome) for a in applied]  # type: ignore[attr-defined]


def refused(service: Service, wrong: Declaration) -> list[Issue]:
    """Apply ``wrong``, expecting a DeclarationError that saved nothing."""
    before = stored_events(service)
    with pytest.raises(DeclarationError) as raised:
        service.apply(wrong, OPERATOR)
    assert stored_events(service) == before
    return raised.value.issues


def test_a_first_apply_creates_everything(service: Service) -> None:
    applied = service.apply(declaration(intakes=("triage", "backlog")), OPERATOR)
    assert outcomes(applied) == [
        ("team", "support", "created"),
        ("provider", "offline", "created"),
        ("workflow", "triage", "created"),
        ("intake", "triage", "created"),
        ("intake", "backlog", "created"),
    ]
    workflow = next(a for a in applied if a.kind == "workflow")
    assert workflow.extra == {"version": 1, "warnings": []}
    assert workflow.id.startswith("workflow_")
    assert stored_events(service) == 7  # each intake: opened, and its secret issued


def test_applying_the_same_declaration_again_changes_nothing(service: Service) -> None:
    service.apply(declaration(members=("al",)), OPERATOR)
    before = stored_events(service)
    again = service.apply(declaration(members=("al",)), OPERATOR)
    assert {a.outcome for a in again} == {"unchanged"}
    assert stored_events(service) == before


def test_a_changed_prompt_records_workflow_version_two(service: Service) -> None:
    service.apply(declaration(), OPERATOR)
    changed = linear_workflow(prompts=("Classify {{ input.subject }} carefully", "Reply"))
    applied = service.apply(declaration(workflow=changed), OPERATOR)
    assert outcomes(applied) == [
        ("team", "support", "unchanged"),
        ("provider", "offline", "unchanged"),
        ("workflow", "triage", "updated"),
        ("intake", "triage", "unchanged"),
    ]
    assert applied[2].extra["version"] == 2
    stored = service.registry.get(Workflow, workflow_id("support", "triage"))
    assert stored.current_version == 2
    assert stored.definition(1).steps[0].prompt == "Classify {{ input.subject }}"
    assert stored.current.steps[0].prompt == "Classify {{ input.subject }} carefully"


def test_changed_members_provider_and_intake_are_updates(service: Service) -> None:
    service.apply(declaration(members=("al",)), OPERATOR)
    base = declaration(members=("al", "bo"), provider=ProviderDecl("offline", "scripted", 2))
    deactivated = attrs.evolve(
        base, intakes=(IntakeDecl("triage", "triage", "support", active=False),)
    )
    applied = service.apply(deactivated, OPERATOR)
    assert [a.outcome for a in applied] == ["updated", "updated", "unchanged", "updated"]
    assert service.directory.teams_by_name["support"].members == ["al", "bo"]
    assert service.directory.providers_by_name["offline"].max_parallel == 2


def test_dead_ends_are_reported_as_warnings_and_applied(service: Service) -> None:
    workflow = WorkflowDecl(
        name="triage",
        team="support",
        steps=(
            StepDecl(
                "a",
                "go",
                "offline",
                (HandoffDecl("stuck", "b"), HandoffDecl("default", "complete")),
            ),
            StepDecl("b", "wait", "offline"),
        ),
    )
    applied = service.apply(declaration(workflow=workflow), OPERATOR)
    warnings = next(a for a in applied if a.kind == "workflow").extra["warnings"]
    assert warnings == [
        "step 'b': has no handoff: a work item reaching it will fail (dead end)",
        "step 'a': routes on its output (a condition or match) but declares no "
        "output_schema: its handoffs fire only when the reply is a JSON object",
    ]


# -- refusals ---------------------------------------------------------------------------


def test_an_unknown_team_is_refused_with_its_path(service: Service) -> None:
    wrong = declaration(workflow=linear_workflow(team="nobody"))
    issues = refused(service, attrs.evolve(wrong, intakes=()))
    assert issues == [Issue("workflows[0].team", "unknown team 'nobody'")]


def test_an_unknown_provider_is_refused_with_its_step_path(service: Service) -> None:
    wrong = declaration(workflow=linear_workflow(provider="gpt-nowhere"))
    issues = refused(service, wrong)
    assert issues == [
        Issue("workflows[0].steps[0].provider", "unknown provider 'gpt-nowhere'"),
        Issue("workflows[0].steps[1].provider", "unknown provider 'gpt-nowhere'"),
    ]


def test_an_intake_for_an_unknown_workflow_is_refused(service: Service) -> None:
    wrong = attrs.evolve(declaration(), intakes=(IntakeDecl("triage", "no-such-flow", "support"),))
    issues = refused(service, wrong)
    assert issues == [
        Issue("intakes[0].workflow", "unknown workflow 'no-such-flow' of team 'support'")
    ]


def test_invalid_template_syntax_is_refused(service: Service) -> None:
    wrong = declaration(workflow=linear_workflow(prompts=("fine", "Hello {{ input.name ")))
    issues = refused(service, wrong)
    assert [i.path for i in issues] == ["workflows[0].steps[1].prompt"]
    assert issues[0].message.startswith("line 1:")


def test_an_invalid_definition_is_refused_with_step_paths(service: Service) -> None:
    workflow = WorkflowDecl(
        name="triage",
        team="support",
        steps=(
            StepDecl("a", "go", "offline", (HandoffDecl("default", "ghost"),)),
            StepDecl("island", "go", "offline", (HandoffDecl("default", "complete"),)),
        ),
    )
    issues = refused(service, declaration(workflow=workflow))
    assert issues == [
        Issue("workflows[0].steps[0]", "handoff 'default' targets unknown step 'ghost'"),
        Issue("workflows[0].steps[1]", "is unreachable from the entry step"),
    ]


def test_a_workflow_without_steps_is_refused(service: Service) -> None:
    issues = refused(service, declaration(workflow=WorkflowDecl("triage", "support", ())))
    assert issues == [Issue("workflows[0].steps", "a workflow needs at least one step")]


def test_bad_providers_are_refused(service: Service) -> None:
    wrong = Declaration(
        providers=(
            ProviderDecl("weird", "no-such-kind"),
            ProviderDecl("zero", "scripted", max_parallel=0),
            ProviderDecl("typo", "scripted", settings={"replly": "x"}),
        )
    )
    issues = refused(service, wrong)
    assert [i.path for i in issues] == ["providers[0]", "providers[1].max_parallel", "providers[2]"]
    assert "unknown provider kind 'no-such-kind'" in issues[0].message
    assert "replly" in issues[2].message


def test_one_wrong_part_saves_none_of_the_right_ones(service: Service) -> None:
    service.apply(declaration(), OPERATOR)
    before = stored_events(service)
    right_and_wrong = Declaration(
        teams=(TeamDecl("support", ("new-member",)), TeamDecl("brand-new")),
        providers=(ProviderDecl("offline", "scripted", max_parallel=9),),
        workflows=(linear_workflow(prompts=("changed", "also changed")),),
        intakes=(
            IntakeDecl("another", "triage", "support"),
            IntakeDecl("broken", "triage", "no-such-team"),
        ),
    )
    issues = refused(service, right_and_wrong)
    assert issues == [
        Issue("intakes[1].team", "unknown team 'no-such-team'"),
        Issue("intakes[1].workflow", "unknown workflow 'triage' of team 'no-such-team'"),
    ]
    assert stored_events(service) == before
    assert service.directory.teams_by_name["support"].members == []
    assert "brand-new" not in service.directory.teams_by_name


def test_all_issues_are_reported_at_once(service: Service) -> None:
    wrong = Declaration(
        workflows=(linear_workflow(team="nobody", provider="nothing"),),
        intakes=(IntakeDecl("triage", "missing", "nobody"),),
    )
    paths = [i.path for i in refused(service, wrong)]
    assert paths == [
        "workflows[0].team",
        "workflows[0].steps[0].provider",
        "workflows[0].steps[1].provider",
        "intakes[0].team",
        "intakes[0].workflow",
    ]


def test_declared_names_may_refer_to_what_is_already_stored(service: Service) -> None:
    service.apply(declaration(), OPERATOR)
    # A later file may declare only a new workflow and intake on the stored team/provider.
    later = Declaration(
        workflows=(linear_workflow(name="escalation"),),
        intakes=(IntakeDecl("escalations", "escalation", "support"),),
    )
    assert [a.outcome for a in service.apply(later, OPERATOR)] == ["created", "created"]


def test_provider_settings_must_be_plain_data() -> None:
    """A YAML date (or anything an event cannot store as it is) is refused by path,
    before anything is saved, not found out by the event store."""
    from datetime import date

    from auxot.application.declarations import Declaration, DeclarationError, ProviderDecl

    service = memory_service()
    try:
        bad = Declaration(
            providers=(ProviderDecl("p", "scripted", settings={"model": date(2024, 1, 1)}),)
        )
        with pytest.raises(DeclarationError) as refused:
            service.apply(bad, OPERATOR)
        assert [i.path for i in refused.value.issues] == ["providers[0].settings"]
        assert service.registry.recorder.max_notification_id() in (None, 0)
    finally:
        service.close()
