"""The workflow file: YAML declaring teams, providers, tools, agents, workflows and
intakes.

Errors name the line and the field, whether the YAML does not parse, a field is missing
or of the wrong type, or the declaration refers to something that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar, get_origin

import attrs
import cattrs
import yaml
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn

from auxot.application.declarations import (
    Declaration,
    DeclarationError,
    HandoffDecl,
)
from auxot.domain.durations import Duration

T = TypeVar("T")

_converter = cattrs.Converter(forbid_extra_keys=True)


class _WrongType(TypeError):
    """A value of the wrong YAML type: cattrs alone would coerce it (``members: alice``
    into five one-letter members, ``active: "false"`` into True, 2.5 into 2)."""


def _kind(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a decimal number", str: "a string"}
    kinds |= {list: "a list", dict: "a mapping", type(None): "empty"}
    return kinds.get(type(value), type(value).__name__)


def _exactly(cls: type | tuple[type, ...], what: str) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, cls) or (isinstance(value, bool) and cls is not bool):
            raise _WrongType(f"must be {what}, not {_kind(value)}")
        return value

    return structure


def _number(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _WrongType(f"must be a number, not {_kind(value)}")
    return float(value)


def _checked(cls: type, what: str, inner: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, type_: Any) -> Any:
        if not isinstance(value, cls):
            raise _WrongType(f"must be {what}, not {_kind(value)}")
        return inner(value, type_)

    return structure


def _is_tuple(t: Any) -> bool:
    return get_origin(t) is tuple


def _is_dict(t: Any) -> bool:
    return get_origin(t) is dict


def _list_of(t: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    return _checked(list, "a list", homogenous_tuple_structure_factory(t, converter))


def _fields_of(t: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    return _checked(dict, "a mapping", make_dict_structure_fn(t, converter))


_converter.register_structure_hook(str, _exactly(str, "a string (quote it)"))
_converter.register_structure_hook(int, _exactly(int, "an integer"))
_converter.register_structure_hook(bool, _exactly(bool, "true or false"))
_converter.register_structure_hook(float, _number)
_converter.register_structure_hook_func(_is_dict, _exactly(dict, "a mapping"))
_duration = _exactly((str, int, float), "a duration such as 2s, 500ms, 30m or 2h, or seconds")
_converter.register_structure_hook_func(lambda t: t == Duration, _duration)
_converter.register_structure_hook_factory(_is_tuple, _list_of)
_converter.register_structure_hook_factory(attrs.has, _fields_of)


def _handoff(value: Any, type_: Any) -> HandoffDecl:
    """A handoff may leave out its condition when it has a match."""
    if isinstance(value, dict) and "condition" not in value and "match" in value:
        value = {**value, "condition": None}
    structured: HandoffDecl = _handoff_fields(value, type_)
    return structured


_handoff_fields = _fields_of(HandoffDecl, _converter)
_converter.register_structure_hook(HandoffDecl, _handoff)


def _optional_duration(value: Any, _: Any) -> Any:
    """An optional duration (a human step's ``timeout``); its value is checked on apply."""
    return None if value is None else _duration(value, Duration)


_converter.register_structure_hook_func(lambda t: t == (Duration | None), _optional_duration)


class WorkflowFileError(ValueError):
    """``issues`` are ``(line, path, message)``; line is 1-based, None when unknown."""

    def __init__(self, source: str, issues: list[tuple[int | None, str, str]]) -> None:
        self.source = source
        self.issues = issues
        lines = [
            f"{source}:{line}: {path}: {message}" if line else f"{source}: {path}: {message}"
            for line, path, message in issues
        ]
        super().__init__("\n".join(lines))


def load_declaration(text: str, source: str = "<workflow file>") -> Declaration:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise WorkflowFileError(source, [(line, "$", _yaml_problem(exc))]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WorkflowFileError(source, [(1, "$", "the file must be a mapping")])
    try:
        return _converter.structure(data, Declaration)
    except (ClassValidationError, IterableValidationError) as exc:
        issues = [(_line(node, path), path, message) for path, message in _flatten(exc, "")]
        raise WorkflowFileError(source, issues) from exc


def structure(data: dict[str, Any], kind: type[T]) -> T:
    """One declaration as plain data (an API request's body), in the shape of a workflow
    file's entry (``WorkflowDecl``: a ``workflows`` entry, ...); WorkflowFileError naming
    each bad field by path."""
    try:
        return _converter.structure(data, kind)
    except (ClassValidationError, IterableValidationError) as exc:
        raise WorkflowFileError("body", [(None, p, m) for p, m in _flatten(exc, "")]) from exc


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's complaint on one line, in the file's terms (it names "<unicode string>"
    and draws carets over several lines)."""
    problem = getattr(exc, "problem", None)
    if problem is None:
        return f"not valid YAML: {' '.join(str(exc).split())}"
    mark, context = getattr(exc, "problem_mark", None), getattr(exc, "context", None)
    text = f"not valid YAML: {problem}"
    if mark is not None:
        text += f" at column {mark.column + 1}"
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        text += f" ({context} from line {context_mark.line + 1}, column {context_mark.column + 1})"
    return text


def locate(text: str, source: str, error: DeclarationError) -> WorkflowFileError:
    """Turn a declaration's issues (by path) into issues by line of the file."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    return WorkflowFileError(
        source, [(_line(node, i.path), i.path, i.message) for i in error.issues]
    )


def _flatten(exc: BaseException, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(exc, ForbiddenExtraKeysError):
        for key in sorted(exc.extra_fields):
            yield _join(path, key), "unknown field"
        return
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        for sub in exc.exceptions:
            note = _note(sub)
            yield from _flatten(sub, _join(path, note) if note is not None else path)
        return
    if isinstance(exc, KeyError):
        yield path, "is required"
        return
    yield path, _describe(exc)


def _note(exc: BaseException) -> str | int | None:
    for note in getattr(exc, "__notes__", []):
        name = getattr(note, "name", None)
        if name is not None:
            return str(name)
        index = getattr(note, "index", None)
        if index is not None:
            return int(index)
    return None


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _WrongType):
        return str(exc)
    if isinstance(exc, (TypeError, ValueError)):
        return f"has the wrong type or value ({exc})"
    return str(exc)


def _line(node: yaml.Node | None, path: str) -> int | None:
    """The line of the deepest node on ``path`` (``workflows[0].steps[1].provider``)."""
    if node is None:
        return None
    best = node.start_mark.line + 1
    for part in _parts(path):
        child = _child(node, part)
        if child is None:
            break
        node, best = child, child.start_mark.line + 1
    return best


def _parts(path: str) -> Iterator[str | int]:
    for piece in path.replace("[", ".[").split("."):
        if piece.startswith("["):
            yield int(piece[1:-1])
        elif piece and piece != "$":
            yield piece


def _child(node: yaml.Node, part: str | int) -> Any:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if key.value == part:
                return value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        return node.value[part] if part < len(node.value) else None
    return None
