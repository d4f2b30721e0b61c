"""The workflow file's routing fields: the documented branching example applies and runs,
and mistakes in output schemas and matches are refused with their line and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import auxot
from auxot.application.declarations import HandoffDecl
from auxot.entrypoints.workflow_file import WorkflowFileError, load_declaration

DOCS = Path(__file__).resolve().parents[2] / "docs" / "workflow-file.md"


def documented_example(section: str) -> str:
    """The first YAML block of ``section`` in docs/workflow-file.md."""
    text = DOCS.read_text()
    start = text.index(f"\n## {section}\n")
    found = re.search(r"```yaml\n(.*?)```", text[start:], re.DOTALL)
    assert found is not None, f"no YAML example under '{section}'"
    return found.group(1)


BRANCHING = documented_example("Branching on output")


def test_the_branching_example_routes_each_ticket_its_way() -> None:
    with auxot.connect("memory://", poll_interval=0.05) as ax:
        applied = ax.apply(BRANCHING, "branching.yaml")
        workflow = next(a for a in applied if a.kind == "workflow")
        assert workflow.extra["warnings"] == []
        intake = next(a.id for a in applied if a.kind == "intake")
        tickets = {
            subject: ax.submit(intake, {"subject": subject})
            for subject in ("Site is down", "Wrong invoice", "WIN A PRIZE", "Password reset")
        }
        records = {subject: ax.wait(work_id, 20) for subject, work_id in tickets.items()}

    paths = {subject: [s.key for s in r.steps] for subject, r in records.items()}
    assert paths == {
        "Site is down": ["classify", "page_on_call"],
        "Wrong invoice": ["classify", "billing_reply"],
        "WIN A PRIZE": ["classify"],
        "Password reset": ["classify", "draft_reply", "review", "draft_reply", "review"],
    }
    assert {r.status for r in records.values()} == {"completed"}
    down = records["Site is down"]
    assert down.steps[0].output == {"category": "technical", "severity": "high", "confidence": 0.9}
    assert down.output == "Page on-call: technical outage, Site is down"
    assert records["WIN A PRIZE"].output == {
        "category": "spam",
        "severity": "low",
        "confidence": 0.9,
    }
    review = [s for s in records["Password reset"].steps if s.key == "review"]
    assert [s.condition for s in review] == ["rejected", "approved"]


def test_the_new_fields_load() -> None:
    declaration = load_declaration(BRANCHING)
    classify = declaration.workflows[0].steps[0]
    assert classify.repair is True
    assert classify.output_schema is not None
    assert classify.output_schema["required"] == ["category", "severity", "confidence"]
    assert classify.handoffs[0] == HandoffDecl(None, "page_on_call", {"severity": "high"})
    assert classify.handoffs[3] == HandoffDecl("default", "draft_reply")


def refused(text: str) -> list[tuple[int | None, str, str]]:
    with auxot.connect("memory://", start=False) as ax, pytest.raises(WorkflowFileError) as e:
        ax.apply(text, "branching.yaml")
    return e.value.issues


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "at", "path", "message"),
    [
        (
            "match: {severity: high}",
            "match: {severity: {equal: high}}",
            "match: {severity: {equal",
            "workflows[0].steps[0].handoffs[0].match.severity.equal",
            "unknown operator 'equal' (known: equals, in, exists, gt, gte, lt, lte)",
        ),
        (
            "confidence: {gte: 0.8}",
            "confidence: {gte: high}",
            "confidence: {gte: high}",
            "workflows[0].steps[0].handoffs[1].match.confidence.gte",
            "'gte' needs a number",
        ),
        (
            "match: {category: spam}",
            "match: {category: [spam, junk]}",
            "match: {category: [spam",
            "workflows[0].steps[0].handoffs[2].match.category",
            "a list is not a value to equal: use {in: [...]}",
        ),
        (
            "severity: {type: string, enum: [low, high]}",
            "severity: {type: text, enum: [low, high]}",
            "severity: {type: text",
            "workflows[0].steps[0].output_schema.properties.severity.type",
            "not a valid JSON Schema: 'text' is not valid under any of the given schemas",
        ),
        (
            "required: [category, severity, confidence]",
            "required: category",
            "required: category",
            "workflows[0].steps[0].output_schema.required",
            "not a valid JSON Schema: 'category' is not of type 'array'",
        ),
        (
            "reason: {type: string}",
            "reason: {$ref: 'https://example.com/reason.json'}",
            "reason: {$ref",
            "workflows[0].steps[4].output_schema.properties.reason.$ref",
            "only references inside the schema ('#/...') are allowed",
        ),
        (
            "        repair: true\n",
            "        repair: 'yes'\n",
            "repair: 'yes'",
            "workflows[0].steps[0].repair",
            "must be true or false, not a string",
        ),
        (
            "        output_schema:\n          type: object\n          properties:\n"
            "            condition: {enum: [approved, rejected]}\n"
            "            reason: {type: string}\n          required: [condition]\n",
            "        output_schema: [object]\n",
            "output_schema: [object]",
            "workflows[0].steps[4].output_schema",
            "must be a mapping, not a list",
        ),
        (
            "          - match: {severity: high}\n            to: page_on_call",
            "          - to: page_on_call",
            "- to: page_on_call",
            "workflows[0].steps[0].handoffs[0].condition",
            "is required",
        ),
        (
            "          - {condition: default, to: draft_reply}",
            "          - {condition: default, to: draft_reply, match: {severity: low}}",
            "      - key: classify",  # the domain's checks name the step
            "workflows[0].steps[0]",
            "the default handoff to 'draft_reply' cannot have a match",
        ),
        (
            "            to: billing_reply",
            "            to: billing_desk",
            "      - key: classify",
            "workflows[0].steps[0]",
            "handoff 'category equals 'billing' and confidence gte 0.8' targets unknown step "
            "'billing_desk'",
        ),
    ],
)
def test_mistakes_are_refused_with_line_and_field(
    old: str, new: str, at: str, path: str, message: str
) -> None:
    assert BRANCHING.count(old) == 1
    text = BRANCHING.replace(old, new)
    issues = refused(text)
    assert (line_of(text, at), path) in {(line, p) for line, p, _ in issues}, issues
    assert any(p == path and message in m for _, p, m in issues), issues


@pytest.mark.parametrize(
    ("text", "line", "where"),
    [
        (
            "teams:\n  - name: a\n   bad: [\n",
            3,
            "at column 4 (while parsing a block collection from line 2",
        ),
        ('teams:\n  - name: "a\n', 3, "(while scanning a quoted scalar from line 2, column 11)"),
    ],
)
def test_a_yaml_syntax_error_is_one_line_in_the_files_terms(
    text: str, line: int, where: str
) -> None:
    with pytest.raises(WorkflowFileError) as raised:
        load_declaration(text, "flows.yaml")
    [(found_line, path, message)] = raised.value.issues
    assert (found_line, path) == (line, "$")
    assert message.startswith("not valid YAML: ")
    assert where in message
    assert "\n" not in message
    assert "<unicode string>" not in message
