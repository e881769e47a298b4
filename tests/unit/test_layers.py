"""The import graph keeps the layers: lower folders never import upwards, no cycles.

From the bottom: ``streams.core`` (settings, errors, metrics, Kafka client options, the
runtime agents get and the batch plumbing), ``schemas``, ``features`` and
``online_models``, ``sinks``, ``agents``, and the rest of ``streams`` (the app that wires
agents and their web views, CLI, benches, replay) on top. Every import counts, those
inside functions too.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import cast

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("streams", "agents", "features", "online_models", "sinks", "schemas")
BELOW: dict[str, tuple[str, ...]] = {
    "streams.core": ("streams.core",),
    "schemas": ("streams.core", "schemas"),
    "features": ("streams.core", "schemas", "features", "online_models"),
    "online_models": ("streams.core", "schemas", "online_models"),
    "sinks": ("streams.core", "schemas", "features", "online_models", "sinks"),
    "agents": ("streams.core", "schemas", "features", "online_models", "sinks", "agents"),
}
"""What each lower layer may import from the project (itself included)."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str) -> set[str]:
    """Project modules ``path`` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def graph() -> dict[str, set[str]]:
    paths = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    modules = {module_name(p): p for p in paths}
    out: dict[str, set[str]] = {}
    for name, path in modules.items():
        # ``from pkg import mod`` names a module when it is one, else a name in pkg
        out[name] = {m for m in imports_of(path, name) if m in modules and m != name}
    return out


def layer_of(module: str) -> str | None:
    for layer in BELOW:
        if module == layer or module.startswith(f"{layer}."):
            return layer
    return None


def test_lower_layers_import_only_what_is_below_them() -> None:
    upward = []
    for module, targets in graph().items():
        layer = layer_of(module)
        if layer is None:
            continue
        allowed = BELOW[layer]
        upward += [
            f"{module} -> {t}"
            for t in targets
            if not any(t == a or t.startswith(f"{a}.") for a in allowed)
        ]
    assert upward == []


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm).

    >>> cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}})
    [['a', 'b']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
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
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    # a package's __init__ importing its own modules is not a cycle of the code's design
    edges = {m: {t for t in ts if not m.startswith(f"{t}.")} for m, ts in graph().items()}
    assert cycles(edges) == []


@pytest.mark.parametrize(
    ("planted", "layer"),
    [("from agents import ingest\n", "sinks"), ("from streams import app\n", "schemas")],
)
def test_a_planted_upward_import_is_caught(tmp_path: Path, planted: str, layer: str) -> None:
    path = tmp_path / "planted.py"
    path.write_text(planted)
    allowed = BELOW[layer]
    targets = imports_of(path, f"{layer}.planted")
    assert [t for t in targets if not any(t.startswith(a) for a in allowed)]


def contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` (``make lint``'s architecture contract) run on the tree at ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"]
    return subprocess.run(
        command, check=False, cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_core_contract_names_every_module_above_core() -> None:
    children = {
        f"streams.{p.stem}"
        for p in (ROOT / "streams").iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").exists()) and not p.name.startswith("__")
    }
    forbidden = set(cast("list[str]", contracts()["core"]["forbidden_modules"]))
    assert children - {"streams.core"} <= forbidden


def test_the_architecture_contract_holds_and_catches_a_planted_upward_import(
    tmp_path: Path,
) -> None:
    assert lint_imports(ROOT).returncode == 0, lint_imports(ROOT).stdout[-2000:]
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    schemas_init = tmp_path / "schemas" / "__init__.py"
    schemas_init.write_text(schemas_init.read_text() + "\nimport agents.sink  # planted\n")
    planted = lint_imports(tmp_path)
    assert planted.returncode == 1, planted.stdout[-2000:]
    assert "schemas -> agents.sink" in planted.stdout.replace("\n", " ")
