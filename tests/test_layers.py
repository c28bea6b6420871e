"""Layers that hold: the experiment layer knows nothing of the Hydra plugins, the figures use only the
public API of nmfexp.results, and the figures' modules import each other without circles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nmfexp"


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import in ``path``, at any depth (function-level imports too),
    relative modules resolved against the file's package."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            module = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module
            out.append((module, [alias.name for alias in node.names]))
    return out


def test_the_experiment_layer_does_not_import_the_hydra_plugins():
    for path in sorted((PACKAGE / "experiment").glob("*.py")):
        for module, _ in _imports(path):
            assert not module.startswith("hydra_plugins"), f"{path.name} imports {module}"


@pytest.mark.slow
def test_the_experiment_configs_register_without_the_plugins():
    code = ("import sys\nfrom nmfexp.experiment.config import register_configs\nregister_configs()\n"
            "import nmfexp.experiment, nmfexp.results, nmfexp.figures\n"
            "print(sorted(m for m in sys.modules if m.startswith('hydra_plugins')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_figures_use_only_the_public_api_of_results():
    for path in sorted((PACKAGE / "figures").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for module, names in _imports(path):
            if module in ("nmfexp.results", "nmfexp"):
                private = [n for n in names if n.startswith("_") and (module == "nmfexp.results" or n == "_results")]
                assert not private, f"{path.name} imports {private} from {module}"
        aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   for a in node.names if a.name == "results"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                assert not node.attr.startswith("_"), f"{path.name} uses results.{node.attr}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_the_figures_modules_import_each_other_without_circles():
    graph = {}
    for path in sorted((PACKAGE / "figures").glob("*.py")):
        name = f"nmfexp.figures.{path.stem}"
        edges = set()
        for module, names in _imports(path):
            if module == "nmfexp.figures":  # from . import corpus
                edges |= {f"nmfexp.figures.{n}" for n in names}
            elif module.startswith("nmfexp.figures."):
                edges.add(module)
        graph[name] = edges - {name, "nmfexp.figures.__init__"}
    graph.pop("nmfexp.figures.__init__")
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
