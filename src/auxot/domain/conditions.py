"""Matches: conditions over a step's JSON output, for routing.

A ``Match`` is a conjunction of ``Clause``s. Each clause names a dotted path into the
output (``customer.tier``; a segment of digits indexes a list: ``items.0.sku``) and one
operator:

* ``equals`` — the value there equals a scalar (text, number, boolean or null);
* ``in`` — it equals one of a list of scalars;
* ``exists`` — ``true``: the path leads to a value (``null`` counts); ``false``: it does not;
* ``gt``, ``gte``, ``lt``, ``lte`` — it is a number, compared with a number.

Comparison follows JSON, not Python: ``true`` is not ``1``, ``1`` equals ``1.0``, text
never equals a number. A path that leads nowhere makes every operator but
``exists: false`` fail, and so does a numeric comparison with a value that is not a
number.

``parse_match`` turns the plain data of a workflow file into a ``Match``, reporting
every mistake with its place (``severity.equal: unknown operator ...``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final, Literal, get_args

import attrs

Operator = Literal["equals", "in", "exists", "gt", "gte", "lt", "lte"]
OPERATORS: Final[tuple[str, ...]] = get_args(Operator)
_NUMERIC: Final = frozenset({"gt", "gte", "lt", "lte"})

Scalar = str | int | float | bool | None


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""What a path that leads nowhere resolves to."""


def resolve(value: Any, path: str) -> Any:
    """The value at dotted ``path`` inside the JSON ``value``, or ``MISSING``."""
    current = value
    for segment in path.split("."):
        if isinstance(current, Mapping) and segment in current:
            current = current[segment]
        elif isinstance(current, list) and _is_index(segment) and int(segment) < len(current):
            current = current[int(segment)]
        else:
            return MISSING
    return current


def _is_index(segment: str) -> bool:
    return segment.isascii() and segment.isdigit()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool) or (
        _is_number(value) and math.isfinite(value)
    )


def json_equal(a: Any, b: Any) -> bool:
    """Equality of two JSON scalars as JSON sees it: booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _frozen(value: Any) -> Any:
    """Lists of scalars become tuples, so that a clause read back from storage (where
    tuples are JSON lists) equals the one that was recorded."""
    return tuple(value) if isinstance(value, list) else value


def _check_path(_: Any, __: Any, path: str) -> None:
    problem = path_problem(path)
    if problem is not None:
        raise ValueError(problem)


def path_problem(path: Any) -> str | None:
    """Why ``path`` is not a dotted path, or None when it is one."""
    if not isinstance(path, str) or not path:
        return "a path must be non-empty text"
    if any(not segment for segment in path.split(".")):
        return f"path '{path}' has an empty segment"
    return None


@attrs.frozen
class Clause:
    """``path`` ``op`` ``value``, e.g. ``score gte 0.8``."""

    path: str = attrs.field(validator=_check_path)
    op: Operator
    value: Any = attrs.field(converter=_frozen)

    def __attrs_post_init__(self) -> None:
        problem = operand_problem(self.op, self.value)
        if problem is not None:
            raise ValueError(problem)

    def holds(self, output: Any) -> bool:
        actual = resolve(output, self.path)
        if self.op == "exists":
            return (actual is not MISSING) is self.value
        if actual is MISSING:
            return False
        if self.op == "equals":
            return json_equal(actual, self.value)
        if self.op == "in":
            return any(json_equal(actual, v) for v in self.value)
        if not _is_number(actual):
            return False
        if self.op == "gt":
            return bool(actual > self.value)
        if self.op == "gte":
            return bool(actual >= self.value)
        if self.op == "lt":
            return bool(actual < self.value)
        return bool(actual <= self.value)

    def describe(self) -> str:
        if self.op == "in":
            return f"{self.path} in [{', '.join(_show(v) for v in self.value)}]"
        return f"{self.path} {self.op} {_show(self.value)}"


def operand_problem(op: Any, value: Any) -> str | None:
    """Why ``value`` cannot be the operand of ``op``, or None when it can."""
    if op not in OPERATORS:
        return f"unknown operator '{op}' (known: {', '.join(OPERATORS)})"
    if op == "equals" and not _is_scalar(value):
        return "'equals' needs text, a number, true/false or null (use 'in' for a list)"
    if op == "in" and (
        not isinstance(value, list | tuple) or not value or not all(map(_is_scalar, value))
    ):
        return "'in' needs a non-empty list of texts, numbers, true/false or null"
    if op == "exists" and not isinstance(value, bool):
        return "'exists' needs true or false"
    if op in _NUMERIC and not (_is_number(value) and math.isfinite(value)):
        return f"'{op}' needs a number"
    return None


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _clause_tuple(clauses: Iterable[Clause]) -> tuple[Clause, ...]:
    return tuple(clauses)


@attrs.frozen
class Match:
    """Holds when every clause holds (an AND)."""

    clauses: tuple[Clause, ...] = attrs.field(converter=_clause_tuple)

    def __attrs_post_init__(self) -> None:
        if not self.clauses:
            raise ValueError("a match needs at least one clause")

    def holds(self, output: Any) -> bool:
        return all(clause.holds(output) for clause in self.clauses)

    def describe(self) -> str:
        return " and ".join(clause.describe() for clause in self.clauses)


class MatchError(ValueError):
    """``problems`` are ``(where, message)``; ``where`` is a dotted place inside the
    match (``severity.equal``), empty for the match as a whole."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{w}: {m}" if w else m for w, m in problems))


def parse_match(data: Any) -> Match:
    """A ``Match`` from plain data: ``{path: scalar}`` (equals) or
    ``{path: {operator: operand, ...}}``; several paths and operators are ANDed."""
    if not isinstance(data, Mapping) or not data:
        raise MatchError([("", "must be a non-empty mapping of paths to conditions")])
    problems: list[tuple[str, str]] = []
    clauses = list(_clauses(data, problems))
    if problems:
        raise MatchError(problems)
    return Match(tuple(clauses))


def _clauses(data: Mapping[Any, Any], problems: list[tuple[str, str]]) -> Iterator[Clause]:
    for path, spec in data.items():
        where = str(path)
        problem = path_problem(path)
        if problem is not None:
            problems.append((where, problem))
            continue
        shorthand = not isinstance(spec, Mapping)
        if shorthand and isinstance(spec, list):
            problems.append((where, "a list is not a value to equal: use {in: [...]}"))
            continue
        operators: Mapping[Any, Any] = {"equals": spec} if shorthand else spec
        if not operators:
            problems.append((where, "needs at least one operator"))
        for op, operand in operators.items():
            problem = operand_problem(op, operand)
            if problem is not None:
                problems.append((where if shorthand else f"{where}.{op}", problem))
                continue
            yield Clause(path, op, operand)
