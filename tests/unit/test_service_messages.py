"""The services' refusals are read on the web page as well as in a terminal: they say what is
needed in words and never name a command-line flag (the CLI adds its own hints)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import credit.services

FLAG = re.compile(r"(?:^|[\s(`'\"])--[a-z][a-z-]*")
SERVICES = Path(credit.services.__file__).parent


def _strings(node: ast.AST) -> list[str]:
    return [
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def test_no_service_error_names_a_command_line_flag():
    found = []
    for path in sorted(SERVICES.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            texts: list[str] = []
            if isinstance(node, ast.Raise) and node.exc is not None:
                texts = _strings(node.exc)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_user", "_text")  # their argument is the message's subject
            ):
                texts = _strings(node)
            found += [f"{path.name}:{node.lineno}: {t!r}" for t in texts if FLAG.search(t)]
    assert found == []
