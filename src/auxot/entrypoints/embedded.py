"""The embedding API: Auxot inside a Python process, without HTTP.

import auxot
with auxot.connect("sqlite:///auxot.db") as ax:
    ax.apply(open("workflows.yaml").read())
    work_id = ax.submit("intake_...", {"ticket_id": "SUP-1042"})
    record = ax.wait(work_id, timeout=30)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from auxot.application.declarations import Applied, Declaration, DeclarationError
from auxot.application.errors import NotFoundError
from auxot.application.intake_submission import RequestOptions, submit_with_options
from auxot.application.keys import IssuedKey
from auxot.application.plain_data import is_plain_data
from auxot.application.records import WorkRecord, decode_record
from auxot.application.refs import format_ref, parse_ref
from auxot.application.service import Service
from auxot.domain.actor import SYSTEM
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings
from auxot.entrypoints.workflow_file import load_declaration, locate


class Auxot:
    """A running Auxot: stores, worker and use cases, in this process."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def apply(
        self, declaration: str | Declaration, source: str = "<workflow file>"
    ) -> list[Applied]:
        """Apply a workflow file's text (or a built Declaration); idempotent."""
        if isinstance(declaration, Declaration):
            return self.service.apply(declaration, SYSTEM)
        parsed = load_declaration(declaration, source)
        try:
            return self.service.apply(parsed, SYSTEM)
        except DeclarationError as exc:
            raise locate(declaration, source, exc) from exc

    def register_tool(
        self,
        name: str,
        fn: Callable[..., Any],
        parameters_schema: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        """Let agents call ``fn`` as tool ``name``, with the model's arguments as keywords.

        ``parameters_schema`` is the JSON Schema (``type: object``) of those arguments,
        derived from ``fn``'s signature when not given; ``description`` defaults to its
        docstring. Register tools before applying a file whose agents name them. Python
        tools live in this process only: run agent steps that use them here.
        """
        self.service.toolbox.register(name, fn, parameters_schema, description)

    def create_key(self, kind: Literal["team", "user"], owner: str) -> IssuedKey:
        return self.service.create_key(kind, owner, SYSTEM)

    def submit(
        self,
        intake_id: str,
        input: dict[str, Any],
        timeout: float = 30.0,
        *,
        idempotency_key: str | None = None,
    ) -> str:
        """Submit work to an intake; returns the work id once the item is recorded.

        With ``idempotency_key`` (printable ASCII, at most 255 characters), submitting
        the same input with the same key again returns the first item's id and records
        nothing; another input with a used key raises IdempotencyKeyReusedError."""
        if not is_plain_data(input):
            # Checked here, not by the event store: a value it cannot encode would fail
            # every submission that shares its group commit.
            raise TypeError("work input must be plain JSON data (text, numbers, lists, ...)")
        intake = parse_ref("intake", intake_id)
        if intake is None:
            raise NotFoundError(f"no intake '{intake_id}'")
        if idempotency_key is not None:
            options = RequestOptions(idempotency_key=idempotency_key)
            work_id = submit_with_options(self.service, None, intake, input, options)
        else:
            work_id, committed = self.service.submit(None, intake, input)
            committed.result(timeout)
        return format_ref("work", work_id)

    def get(self, work_id: str) -> WorkRecord:
        found = self.service.find_record(self._work(work_id))
        if found is None:
            raise NotFoundError(f"no work item '{work_id}'")
        return decode_record(found[1])

    def complete_step(
        self,
        work_id: str,
        step: str,
        *,
        user: str,
        condition: str,
        note: str | None = None,
        output: Any = None,
    ) -> WorkRecord:
        """Act on a human step as ``user``, under the same rules as that user's key;
        the item's record as saved. NotFoundError when the user may not act on it;
        ``auxot.domain.work_item.WorkItemError`` when the item refuses the decision."""
        record = self.service.complete_step(
            self.service.local_user(user),
            self._work(work_id),
            step,
            condition=condition,
            note=note,
            output=output,
        )
        return decode_record(record)

    def wait(self, work_id: str, timeout: float = 60.0) -> WorkRecord:
        """Wait for the item to end (completed, failed or cancelled); TimeoutError if it
        does not."""
        if self.service.wait_terminal(self._work(work_id), timeout) is None:
            raise TimeoutError(f"{work_id} did not finish within {timeout}s")
        return self.get(work_id)

    def close(self) -> None:
        self.service.close()

    def __enter__(self) -> Auxot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _work(work_id: str) -> Any:
        parsed = parse_ref("work", work_id)
        if parsed is None:
            raise NotFoundError(f"no work item '{work_id}'")
        return parsed


def connect(
    database_url: str = "memory://",
    *,
    start: bool = True,
    tools: Mapping[str, Callable[..., Any]] | None = None,
    **settings: Any,
) -> Auxot:
    """Build Auxot on ``database_url`` (``memory://``, ``sqlite:///path``,
    ``postgresql://...``) and, unless ``start=False``, start its worker threads.
    ``tools`` are Python callables agents may call, by name (see ``register_tool``)."""
    service = bootstrap(Settings(database_url=database_url, **settings))
    ax = Auxot(service)
    try:
        for name, fn in (tools or {}).items():
            ax.register_tool(name, fn)
        if start:
            service.start()
    except BaseException:
        service.close()
        raise
    return ax
