"""Every save to an event log in the application names who acts (``actor=``): a save
without one records ``unknown``, which an auditor should never read about something
Auxot did today. A static check, so that a new use case cannot forget it."""

from __future__ import annotations

import ast
from pathlib import Path

import auxot

LOGS = {"work", "_work", "registry", "_registry"}
SOURCE = Path(auxot.__file__).parent


def unattributed_saves(source: str) -> list[int]:
    """Lines of ``<log>.save(...)`` calls with no ``actor=`` keyword."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
        named = any(k.arg == "actor" for k in node.keywords)
        if node.func.attr == "save" and name in LOGS and not named:
            lines.append(node.lineno)
    return lines


def test_every_save_to_a_log_names_its_actor() -> None:
    found = {
        str(path.relative_to(SOURCE)): lines
        for path in sorted(SOURCE.rglob("*.py"))
        if (lines := unattributed_saves(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_check_sees_a_save_without_an_actor() -> None:
    source = (
        "work.save(item)\nself._registry.save(a, b)\nwork.save(item, actor=x)\nview.save(rows)\n"
    )
    assert unattributed_saves(source) == [1, 2]
