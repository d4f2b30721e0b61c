"""Output schemas: a step's JSON Schema, checked when the workflow is declared, and its
output checked against it when the step runs.

``schema_problem`` is the definition-time check (is this a JSON Schema at all?).
``answer`` runs one step's model call(s): it asks for JSON, parses and validates the
reply, and with ``repair`` makes one more call told what was wrong. Any step kind that
produces text (prompt steps now, agent steps later) can use it with its own ``ask``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import regex
from jsonschema import exceptions as schema_errors
from jsonschema import validators
from jsonschema.validators import validator_for
from referencing.exceptions import Unresolvable

from auxot.application.ports import Completion, Usage

PATTERN_SECONDS = 0.1
"""The longest one ``pattern`` of an output schema may take to match."""
MAX_ERRORS = 5
"""Validation errors reported per failure; the rest are counted."""
_MAX_MESSAGE_CHARS = 200
_MAX_EXCERPT_CHARS = 300


@attrs.frozen
class Answer:
    """A step's outcome: the output to record (text, or parsed JSON under a schema)."""

    output: Any
    model: str | None = None
    usage: Usage | None = None


class InvalidOutput(Exception):
    """The reply is not JSON, or not JSON the schema allows; ``errors`` say where and why."""

    def __init__(self, errors: list[str], reply: str) -> None:
        self.errors = errors
        self.reply = reply
        super().__init__(describe(errors, reply))


def schema_problem(schema: Any) -> tuple[list[str | int], str] | None:
    """Where and why ``schema`` is not a valid JSON Schema (of the draft its ``$schema``
    names, 2020-12 by default), or None when it is one."""
    if not isinstance(schema, Mapping):
        return [], "must be a JSON Schema: a mapping"
    cls = validator_for(schema)
    try:
        cls.check_schema(dict(schema))
    except schema_errors.SchemaError as exc:
        return list(exc.path), f"not a valid JSON Schema: {_clip(exc.message)}"
    return _remote_ref(schema, [])


def _remote_ref(node: Any, at: list[str | int]) -> tuple[list[str | int], str] | None:
    """A ``$ref`` that leaves the schema: nothing is fetched, so it could never resolve."""
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return [*at, "$ref"], "only references inside the schema ('#/...') are allowed"
        items: list[tuple[str | int, Any]] = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return None
    for key, value in items:
        found = _remote_ref(value, [*at, key])
        if found is not None:
            return found
    return None


def json_instruction(schema: Mapping[str, Any]) -> str:
    """What a prompt is told when its step has an output schema."""
    return (
        "Reply with only a JSON value, no other text, that matches this JSON Schema:\n"
        + json.dumps(schema, sort_keys=True)
    )


def check(reply: str, schema: Mapping[str, Any]) -> Any:
    """The reply parsed as JSON, when it satisfies ``schema``; else InvalidOutput."""
    try:
        value = json.loads(_unfenced(reply))
    except ValueError as exc:
        raise InvalidOutput([f"not valid JSON: {exc}"], reply) from None
    validator = _bounded(validator_for(schema))(schema)
    try:
        found = sorted(validator.iter_errors(value), key=schema_errors.relevance, reverse=True)
    except Unresolvable as exc:
        raise InvalidOutput([f"the output_schema cannot be used: {exc}"], reply) from None
    if found:
        raise InvalidOutput([f"{e.json_path}: {_clip(e.message)}" for e in found], reply)
    return value


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "string"):
        return
    matched = _match(pattern, instance)
    if matched is None:
        yield _too_costly(pattern)
    elif not matched:
        yield schema_errors.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            matched = _match(pattern, key)
            if matched is None:
                yield _too_costly(pattern)
            elif matched:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _match(pattern: str, text: str) -> bool | None:
    """Does ``pattern`` match ``text``? None when it took too long. The text is the
    model's, so whoever steers its input steers it: with Python's ``re`` a pattern such
    as ``^(a|aa)+$`` takes exponential time, holding the GIL. ``regex`` avoids most such
    blow-ups, and the time limit bounds the rest."""
    try:
        return regex.search(pattern, text, timeout=PATTERN_SECONDS) is not None
    except TimeoutError:
        return None


def _too_costly(pattern: str) -> Any:
    return schema_errors.ValidationError(
        f"matching {pattern!r} took over {PATTERN_SECONDS}s: simplify the pattern"
    )


@functools.cache
def _bounded(cls: Any) -> Any:
    """The draft's validator, with its pattern keywords matched by ``_matches``."""
    keywords = {"pattern": _pattern, "patternProperties": _pattern_properties}
    return validators.extend(cls, keywords)  # type: ignore[no-untyped-call]


def answer(
    ask: Callable[[str], Completion], prompt: str, schema: Mapping[str, Any], *, repair: bool
) -> Answer:
    """Ask for JSON matching ``schema``; with ``repair``, a reply that fails is followed by
    one more call told the errors, and only that one's failure counts. Raises
    InvalidOutput (or whatever ``ask`` raises)."""
    request = f"{prompt}\n\n{json_instruction(schema)}"
    first = ask(request)
    try:
        return Answer(check(first.text, schema), first.model, first.usage)
    except InvalidOutput as invalid:
        if not repair:
            raise
        problem = invalid
    second = ask(repair_prompt(request, problem))
    usage = _sum(first.usage, second.usage)
    return Answer(check(second.text, schema), second.model or first.model, usage)


def repair_prompt(request: str, problem: InvalidOutput) -> str:
    return (
        f"{request}\n\nYour previous reply was:\n{_clip(problem.reply, _MAX_EXCERPT_CHARS)}\n"
        f"It was rejected: {'; '.join(problem.errors[:MAX_ERRORS])}\n"
        "Reply again with only the corrected JSON."
    )


def describe(errors: list[str], reply: str) -> str:
    """The step's error: the first few validation errors, how many more, and the reply."""
    shown = "; ".join(errors[:MAX_ERRORS])
    more = f" (and {len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
    return (
        f"output does not match the output_schema: {shown}{more}; "
        f"the reply was: {_clip(reply, _MAX_EXCERPT_CHARS)}"
    )


def _unfenced(reply: str) -> str:
    """The reply without one surrounding Markdown code fence (```json ... ```), which
    models often add even when asked for bare JSON."""
    text = reply.strip()
    if text.startswith("```") and text.endswith("```") and "\n" in text:
        return text[text.index("\n") + 1 : -3]
    return text


def _sum(a: Usage | None, b: Usage | None) -> Usage | None:
    if a is None or b is None:
        return a or b
    return Usage(a.prompt_tokens + b.prompt_tokens, a.completion_tokens + b.completion_tokens)


def _clip(text: str, limit: int = _MAX_MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
