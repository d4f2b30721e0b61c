"""Definition-time checks, and the Workflow aggregate that refuses invalid definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given

from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step
from auxot.domain.validation import InvalidDefinitionError, Problem, validate
from auxot.domain.workflow import Workflow
from tests.domain.strategies import definitions

AT = datetime(2026, 1, 1, tzinfo=UTC)


def step(key: str, *handoffs: tuple[str, str], prompt: str = "do it") -> Step:
    return Step(
        key=key,
        handler="prompt",
        prompt=prompt,
        provider="p",
        handoffs=tuple(Handoff(c, t) for c, t in handoffs),
    )


def definition(*steps: Step) -> Definition:
    return Definition(steps=steps)


LINEAR = definition(step("a", (DEFAULT, "b")), step("b", (DEFAULT, COMPLETE)))


# -- validate ---------------------------------------------------------------------------


def test_a_linear_definition_is_ok_without_warnings() -> None:
    report = validate(LINEAR)
    assert report.ok
    assert report.errors == ()
    assert report.warnings == ()


def test_no_steps_is_an_error() -> None:
    report = validate(definition())
    assert not report.ok
    assert report.errors == (Problem("a workflow needs at least one step"),)


def test_duplicate_keys_are_errors() -> None:
    report = validate(
        definition(step("a", (DEFAULT, "b")), step("b", (DEFAULT, COMPLETE)), step("a"))
    )
    assert Problem("duplicate step key", step="a") in report.errors
    assert not report.ok


def test_unknown_handoff_targets_are_errors_naming_step_and_condition() -> None:
    report = validate(definition(step("a", ("approve", "nowhere"), (DEFAULT, COMPLETE))))
    assert report.errors == (
        Problem("handoff 'approve' targets unknown step 'nowhere'", step="a"),
    )


def test_unreachable_steps_are_errors() -> None:
    report = validate(
        definition(step("a", (DEFAULT, COMPLETE)), step("orphan", (DEFAULT, COMPLETE)))
    )
    assert report.errors == (Problem("is unreachable from the entry step", step="orphan"),)


def test_a_step_reachable_only_through_another_step_is_reachable() -> None:
    report = validate(
        definition(
            step("a", ("x", "b"), (DEFAULT, COMPLETE)),
            step("c", (DEFAULT, COMPLETE)),
            step("b", (DEFAULT, "c")),
        )
    )
    assert report.ok


def test_complete_is_reserved_and_cannot_be_a_step_key() -> None:
    report = validate(definition(step("a", (DEFAULT, COMPLETE)), step(COMPLETE)))
    assert not report.ok
    assert any(p.step == COMPLETE and "reserved" in p.message for p in report.errors)


def test_dead_ends_are_warnings_not_errors() -> None:
    report = validate(definition(step("a", ("approve", "b"), (DEFAULT, COMPLETE)), step("b")))
    assert report.ok
    assert report.warnings == (
        Problem("has no handoff: a work item reaching it will fail (dead end)", step="b"),
        Problem(
            "handoff 'approve' cannot fire: prompt steps report no condition, "
            "so only 'default' routes them",
            step="a",
        ),
    )


def test_several_problems_are_all_reported() -> None:
    report = validate(
        definition(step("a", (DEFAULT, "ghost")), step("a"), step("island", (DEFAULT, COMPLETE)))
    )
    assert {(p.step, p.message.split(" ")[0]) for p in report.errors} == {
        ("a", "duplicate"),
        ("a", "handoff"),
        ("island", "is"),
    }


@given(definitions())
def test_every_definition_built_from_valid_parts_validates(generated: Definition) -> None:
    report = validate(generated)
    assert report.ok, report.errors
    dead_ends = {s.key for s in generated.steps if not s.handoffs}
    named = {s.key for s in generated.steps for h in s.handoffs if h.condition != DEFAULT}
    assert {p.step for p in report.warnings if "dead end" in p.message} == dead_ends
    assert {p.step for p in report.warnings if "cannot fire" in p.message} == named


# -- Workflow ---------------------------------------------------------------------------


def register(defn: Definition = LINEAR, name: str = "triage") -> Workflow:
    return Workflow.register(uuid4(), name, uuid4(), "first", defn, AT)


def test_register_refuses_an_invalid_definition_naming_the_steps() -> None:
    broken = definition(step("a", (DEFAULT, "ghost")), step("island", (DEFAULT, COMPLETE)))
    with pytest.raises(InvalidDefinitionError) as raised:
        register(broken, name="Support")
    message = str(raised.value)
    assert message.startswith("workflow 'Support' is invalid: ")
    assert "step 'a': handoff 'default' targets unknown step 'ghost'" in message
    assert "step 'island': is unreachable from the entry step" in message
    assert raised.value.workflow == "Support"
    assert {p.step for p in raised.value.errors} == {"a", "island"}


def test_register_names_whole_workflow_problems_without_a_step() -> None:
    with pytest.raises(InvalidDefinitionError, match="is invalid: a workflow needs at least one"):
        register(definition())


def test_register_records_version_one() -> None:
    workflow = register()
    assert workflow.current_version == 1
    assert workflow.current == LINEAR
    assert workflow.definition(1) == LINEAR
    assert [type(e) for e in workflow.collect_events()] == [Workflow.Registered]


def test_revise_with_the_same_definition_and_description_records_nothing() -> None:
    workflow = register()
    workflow.collect_events()
    same = definition(step("a", (DEFAULT, "b")), step("b", (DEFAULT, COMPLETE)))
    workflow.revise("first", same, AT + timedelta(hours=1))
    assert workflow.pending_events == []
    assert workflow.current_version == 1


def test_revisions_accumulate_versions_and_keep_the_old_ones() -> None:
    workflow = register()
    workflow.collect_events()
    second = definition(step("a", (DEFAULT, COMPLETE), prompt="changed"))
    workflow.revise("first", second, AT + timedelta(hours=1))
    workflow.revise("new words", second, AT + timedelta(hours=2))
    workflow.revise("new words", LINEAR, AT + timedelta(hours=3))
    assert [type(e) for e in workflow.collect_events()] == [Workflow.Revised] * 3
    assert workflow.current_version == 4
    assert workflow.definition(1) == LINEAR
    assert workflow.definition(2) == second
    assert workflow.definition(3) == second
    assert workflow.definition(4) == LINEAR
    assert workflow.description == "new words"


def test_revise_refuses_an_invalid_definition_and_records_nothing() -> None:
    workflow = register()
    workflow.collect_events()
    with pytest.raises(InvalidDefinitionError, match="step 'b': is unreachable"):
        workflow.revise("first", definition(step("a", (DEFAULT, COMPLETE)), step("b")), AT)
    assert workflow.pending_events == []
    assert workflow.current_version == 1
