"""The toolbox: the tools agents may call, by name.

Two sources: Python callables the embedding application registers in this process
(``PythonTool``; never stored), and tools declared in workflow files and recorded in the
registry (``kind: http``), built by the adapter factory for their kind. A Python tool
shadows a declared tool of the same name in this process; ``apply`` refuses to declare
one that would be shadowed.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jsonschema

from auxot.application.ports import Tool, ToolDefinition, ToolFactory, ToolSpec
from auxot.domain.tool import Tool as ToolRecord

_JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
}


class ToolSchemaError(ValueError):
    pass


def check_parameters(parameters: Mapping[str, Any]) -> None:
    """Raise ToolSchemaError unless ``parameters`` is a JSON Schema of an object (what
    function calling expects of a tool's arguments)."""
    try:
        jsonschema.Draft202012Validator.check_schema(dict(parameters))
    except jsonschema.SchemaError as exc:
        raise ToolSchemaError(f"not a valid JSON Schema: {exc.message}") from None
    if parameters.get("type") != "object":
        raise ToolSchemaError("must be a JSON Schema with 'type: object' (the arguments)")


class PythonTool:
    """A Python callable as a tool: called with the model's arguments as keywords."""

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        parameters: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        parameters = dict(parameters) if parameters is not None else _schema_of(fn)
        check_parameters(parameters)
        text = description if description is not None else inspect.getdoc(fn) or name
        self._spec = ToolSpec(name=name, description=text, parameters=parameters)
        self._fn = fn

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    @property
    def timeout(self) -> None:
        return None  # a Python call cannot be cut off

    def call(self, arguments: dict[str, Any]) -> Any:
        return self._fn(**arguments)


class Toolbox:
    def __init__(self, factories: Mapping[str, ToolFactory]) -> None:
        self._factories = dict(factories)
        self._python: dict[str, Tool] = {}
        self._lock = threading.Lock()

    def register(
        self,
        name: str,
        fn: Callable[..., Any],
        parameters: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        """Make ``fn`` callable by agents as ``name`` (JSON Schema ``parameters`` of its
        keyword arguments: derived from its signature when not given)."""
        tool = PythonTool(name, fn, parameters, description)
        with self._lock:
            self._python[name] = tool

    def is_python(self, name: str) -> bool:
        with self._lock:
            return name in self._python

    def build(self, definition: ToolDefinition) -> Tool:
        """The tool ``definition`` declares; ValueError when it cannot be built."""
        factory = self._factories.get(definition.kind)
        if factory is None:
            known = ", ".join(sorted(self._factories)) or "none"
            raise ValueError(
                f"tool '{definition.name}': unknown kind '{definition.kind}' (known: {known})"
            )
        return factory(definition)

    def resolve(
        self, names: Iterable[str], declared: Callable[[str], ToolRecord | None]
    ) -> tuple[dict[str, Tool], list[str]]:
        """The tools of ``names`` that exist (Python ones first, then ``declared``), and
        the names that could not be found or built, each with its reason."""
        found: dict[str, Tool] = {}
        problems: list[str] = []
        for name in names:
            with self._lock:
                python = self._python.get(name)
            if python is not None:
                found[name] = python
                continue
            record = declared(name)
            if record is None:
                problems.append(f"tool '{name}' is not registered in this process")
                continue
            try:
                found[name] = self.build(
                    ToolDefinition(
                        name, record.kind, record.description, record.parameters, record.settings
                    )
                )
            except ValueError as exc:
                problems.append(str(exc))
        return found, problems


def _schema_of(fn: Callable[..., Any]) -> dict[str, Any]:
    """A JSON Schema of ``fn``'s keyword arguments, from its signature."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(fn, eval_str=True).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            continue
        kind = _JSON_TYPES.get(param.annotation)
        properties[param.name] = {"type": kind} if kind else {}
        if param.default is param.empty:
            required.append(param.name)
    return {"type": "object", "properties": properties, "required": required}
