"""The shape of the code, checked by `make lint` (and by tests/unit/test_architecture.py).

- no file in credit/, flows/, tasks/ over 600 lines (migrations excepted: they are history);
- no function over 80 lines, except a declarative table marked `# shape: table` on its `def` line;
- no private name (`_x`) imported from another module;
- no import cycle between modules of credit/, flows/, tasks/ (imports inside functions count too).

Run: python tests/shape_check.py   (exit 1 and one line per finding when the shape is broken)
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("credit", "flows", "tasks")
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80
TABLE_MARK = "# shape: table"


def _sources(root: Path) -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield path


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path, tree: ast.AST) -> Iterator[tuple[ast.stmt, str, str | None]]:
    """(node, imported module, imported name or None) for every import in the file."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            for alias in node.names:
                yield node, target, alias.name


def check(root: Path = REPO) -> list[str]:
    """One line per finding in the packages under ``root``."""
    findings: list[str] = []
    modules: dict[str, Path] = {_module_name(p, root): p for p in _sources(root)}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        where = path.relative_to(root)
        if len(lines) > MAX_FILE_LINES:
            findings.append(f"{where}: {len(lines)} lines (at most {MAX_FILE_LINES})")
        tree = ast.parse(text, filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES and TABLE_MARK not in lines[node.lineno - 1]:
                    findings.append(
                        f"{where}:{node.lineno}: function {node.name} is {length} lines "
                        f"(at most {MAX_FUNCTION_LINES})"
                    )
        for node, target, imported in _imports(name, path, tree):
            if imported is not None and f"{target}.{imported}" in modules:
                graph[name].add(f"{target}.{imported}")
            elif target in modules:
                graph[name].add(target)
            if (
                imported is not None
                and imported.startswith("_")
                and not imported.startswith("__")
                and target != name
            ):
                findings.append(
                    f"{where}:{node.lineno}: imports the private name {imported} from {target}"
                )
    findings.extend(_cycles(graph))
    return findings


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    """One line per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[str] = []
    counter = 0

    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            # a package importing its own submodules (or the reverse) is not a cycle to report
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append("import cycle: " + " <-> ".join(sorted(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main() -> int:
    findings = check()
    for line in findings:
        print(line)
    if findings:
        print(f"shape: {len(findings)} finding(s)")
        return 1
    print("shape: kept (file and function sizes, private names, import cycles)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
