"""Definition-time checks, and the Workflow aggregate that refuses invalid definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import attrs
import pytest
from hypothesis import given

from auxot.domain.conditions import parse_match
from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step
from auxot.domain.validation import InvalidDefinitionError, Problem, validate
from auxot.domain.workflow import Workflow
from tests.domain.strategies import definitions

AT = datetime(2026, 1, 1, tzinfo=UTC)
HIGH = parse_match({"severity": "high"})


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


NO_SCHEMA = (
    "routes on its output (a condition or match) but declares no output_schema: "
    "its handoffs fire only when the reply is a JSON object"
)
CAN_DEAD_END = (
    "can dead-end: it has no 'default' handoff, so a work item whose output fires "
    "none of its handoffs fails with 'no handoff matched'"
)


def test_dead_ends_are_warnings_not_errors() -> None:
    report = validate(definition(step("a", ("approve", "b"), (DEFAULT, COMPLETE)), step("b")))
    assert report.ok
    assert report.warnings == (
        Problem("has no handoff: a work item reaching it will fail (dead end)", step="b"),
        Problem(NO_SCHEMA, step="a"),
    )


def test_a_step_with_only_conditional_handoffs_can_dead_end() -> None:
    schema = {"type": "object"}
    report = validate(
        definition(
            attrs.evolve(step("a", ("approve", COMPLETE)), output_schema=schema),
            attrs.evolve(
                step("b"),
                output_schema=schema,
                handoffs=(Handoff(None, COMPLETE, match=HIGH), Handoff("x", "a")),
            ),
        )
    )
    # a -> complete only, so b is unreachable; the point here is the warnings.
    assert report.warnings == (Problem(CAN_DEAD_END, step="a"), Problem(CAN_DEAD_END, step="b"))


def test_a_step_with_a_schema_routes_on_its_output_without_warning() -> None:
    schema = {"type": "object"}
    report = validate(
        definition(
            attrs.evolve(
                step("a", ("approve", COMPLETE), (DEFAULT, COMPLETE)), output_schema=schema
            )
        )
    )
    assert report.ok
    assert report.warnings == ()


def test_a_match_without_a_schema_is_allowed_with_a_warning() -> None:
    report = validate(
        definition(
            attrs.evolve(
                step("a"), handoffs=(Handoff(None, COMPLETE, HIGH), Handoff(DEFAULT, COMPLETE))
            )
        )
    )
    assert report.ok
    assert report.warnings == (Problem(NO_SCHEMA, step="a"),)


def test_a_match_handoff_to_an_unknown_step_is_an_error_naming_the_match() -> None:
    report = validate(definition(attrs.evolve(step("a"), handoffs=(Handoff(None, "nope", HIGH),))))
    assert report.errors == (
        Problem("handoff 'severity equals 'high'' targets unknown step 'nope'", step="a"),
    )


def test_malformed_handoffs_and_repair_without_schema_are_errors() -> None:
    report = validate(
        definition(
            attrs.evolve(
                step("a"),
                repair=True,
                handoffs=(Handoff(None, "a"), Handoff(DEFAULT, COMPLETE, HIGH)),
            )
        )
    )
    assert report.errors == (
        Problem("the handoff to 'a' needs a condition or a match", step="a"),
        Problem(
            "the default handoff to 'complete' cannot have a match: it fires when no other "
            "handoff does",
            step="a",
        ),
        Problem("repair needs an output_schema to repair against", step="a"),
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
    no_default = {
        s.key for s in generated.steps if s.handoffs and DEFAULT not in conditions(s)
    }
    assert {p.step for p in report.warnings if "(dead end)" in p.message} == dead_ends
    assert {p.step for p in report.warnings if "can dead-end" in p.message} == no_default
    assert {p.step for p in report.warnings if "no output_schema" in p.message} == named


def conditions(s: Step) -> set[str | None]:
    return {h.condition for h in s.handoffs}


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


def test_a_schema_that_requires_a_condition_from_a_list_all_routed_cannot_dead_end() -> None:
    schema: dict[str, object] = {
        "type": "object",
        "properties": {"condition": {"enum": ["approved", "rejected"]}},
        "required": ["condition"],
    }
    covered = attrs.evolve(
        step("a", ("approved", COMPLETE), ("rejected", COMPLETE)), output_schema=schema
    )
    assert validate(definition(covered)).warnings == ()
    # One allowed condition without a handoff, or the field optional: it can dead-end.
    partly = attrs.evolve(covered, handoffs=covered.handoffs[:1])
    optional = attrs.evolve(covered, output_schema={**schema, "required": []})
    for uncovered in (partly, optional):
        assert validate(definition(uncovered)).warnings == (Problem(CAN_DEAD_END, step="a"),)
