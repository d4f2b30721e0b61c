"""Prompt templates: Jinja2 in a sandbox, because prompts are user input."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_env = ImmutableSandboxedEnvironment(autoescape=False)


class TemplateError(ValueError):
    pass


def check_template(source: str) -> None:
    """Raise TemplateError when ``source`` does not parse."""
    try:
        _env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"line {exc.lineno}: {exc.message}") from exc


def render(source: str, context: dict[str, Any]) -> str:
    """Render with missing fields as empty text, so optional input fields need no guards."""
    try:
        return _env.from_string(source).render(context)
    except Exception as exc:
        raise TemplateError(f"prompt template failed: {exc}") from exc
