"""Human steps and team admins in the workflow file: what the YAML becomes, and where
its mistakes are reported."""

from __future__ import annotations

import pytest

from auxot.application.declarations import DeclarationError
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.identity import workflow_id
from auxot.entrypoints.workflow_file import WorkflowFileError, load_declaration, locate
from tests.application.builders import memory_service

FILE = """\
teams:
  - name: support
    members: [ann, bob]
    admins: [lead]
providers:
  - {name: offline, kind: scripted}
workflows:
  - name: Reviewed
    team: support
    steps:
      - key: draft
        prompt: "Draft {{ input.x }}"
        provider: offline
        handoffs: [{condition: default, to: review}]
      - key: review
        handler: human
        assignee: ann
        timeout: TIMEOUT
        handoffs:
          - {condition: approved, to: complete}
          - {condition: timeout, to: complete}
"""


@pytest.mark.parametrize(("written", "seconds"), [("90", 90), ("2h", 7200), ("'1h30m'", 5400)])
def test_a_timeout_is_seconds_or_a_duration(written: str, seconds: int) -> None:
    text = FILE.replace("TIMEOUT", written)
    declaration = load_declaration(text)
    assert declaration.teams[0].admins == ("lead",)
    service = memory_service()
    try:
        service.apply(declaration, OPERATOR)
        assert service.directory.teams_by_name["support"].admins == ["lead"]
        workflow = service.directory.workflow(workflow_id("support", "Reviewed"))
        assert workflow is not None
        review = workflow.current.step("review")
        assert (review.handler, review.assignee, review.timeout) == ("human", "ann", seconds)
        assert (review.prompt, review.provider) == ("", "")
    finally:
        service.close()


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("[2]", "must be a duration such as 2s, 500ms, 30m or 2h, or seconds, not a list"),
        ("true", "boolean"),
    ],
)
def test_a_timeout_of_the_wrong_type_names_its_line(written: str, message: str) -> None:
    with pytest.raises(WorkflowFileError) as raised:
        load_declaration(FILE.replace("TIMEOUT", written), "f.yaml")
    assert str(raised.value).startswith("f.yaml:18: workflows[0].steps[1].timeout: ")
    assert message in str(raised.value)


def test_a_timeout_that_is_not_a_duration_names_its_line() -> None:
    text = FILE.replace("TIMEOUT", "2 hours")
    service = memory_service()
    try:
        with pytest.raises(DeclarationError) as raised:
            service.apply(load_declaration(text), OPERATOR)
    finally:
        service.close()
    located = str(locate(text, "f.yaml", raised.value))
    assert located.startswith("f.yaml:18: workflows[0].steps[1].timeout: '2 hours' is not")
