"""bot.core is sans-I/O: it imports no network, forge, process or environment access."""

from __future__ import annotations

import ast
from pathlib import Path

import bot.core

FORBIDDEN = {
    "httpx",
    "github",
    "gitlab",
    "requests",
    "bot.forges",
    "bot.app",
    "subprocess",
    "socket",
    "urllib.request",
    "bot.cli",
    "bot.github_action",
    "bot.gitlab_job",
}


def test_core_is_sans_io() -> None:
    root = Path(bot.core.__file__).parent
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                names = []
            assert not any(n == f or n.startswith(f + ".") for n in names for f in FORBIDDEN), (path, names)
            if isinstance(node, ast.Attribute) and node.attr == "environ":
                raise AssertionError(f"{path} reads the environment")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
                raise AssertionError(f"{path} opens files")
