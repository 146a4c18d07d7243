"""The house rules the code keeps, checked: docs/architecture.md's diagrams are the code's, its Layout names files
that exist, no import cycle (imports inside functions included), no module too long, the environment
read in one module, DynamoDB reached from the store alone, and only packages at the layer's top."""

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "aepflow" / "aepflow"
EMULATOR = ROOT / "local" / "emulator"
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
# "None over ~400 lines" for the layer, ~500 for the emulator (issue 22).
MAX_LAYER_LINES, MAX_EMULATOR_LINES = 400, 500


def _cycles(package: str) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    graph = grimp.build_graph(package, include_external_packages=False)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = edges.get(node, [])
            if i < len(targets):
                work.append((node, i + 1))
                target = targets[i]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_the_architecture_doc_draws_the_packages_and_the_state_machine_as_the_code_has_them():
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "diagrams.py"), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("package", ["aepflow", "local"])
def test_no_import_cycle_not_even_through_an_import_inside_a_function(package):
    assert _cycles(package) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    """The check above could pass by finding nothing at all: here it must find one."""
    pkg = tmp_path / "cyclic"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from cyclic import b\n")
    (pkg / "b.py").write_text("from cyclic import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles("cyclic") == [["cyclic.a", "cyclic.b"]]


def test_no_module_is_too_long():
    long = {str(p.relative_to(ROOT)): n for p in LAYER.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LAYER_LINES}
    long |= {str(p.relative_to(ROOT)): n for p in EMULATOR.rglob("*.py")
             if (n := len(p.read_text().splitlines())) > MAX_EMULATOR_LINES}
    assert long == {}


def test_only_packages_sit_at_the_top_of_the_layer():
    top = sorted(p.name for p in LAYER.iterdir() if p.suffix == ".py" or (p.is_dir() and p.name != "__pycache__"))
    assert top == ["__init__.py", "aep", "core", "doors", "monitor", "ops", "s3", "spec", "steps", "store"]


def _sources(*roots: Path) -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for root in roots for p in root.rglob("*.py")}


def test_the_environment_is_read_in_the_settings_module_alone():
    readers = sorted(path for path, text in _sources(LAYER, ROOT / "functions").items()
                     if re.search(r"\bos\.(environ|getenv)\b|\bgetenv\(", text))
    assert readers == ["layers/aepflow/aepflow/core/settings.py"]


def test_dynamodb_is_reached_from_the_store_alone():
    """The store's modules, and the client factory that makes the client they use."""
    reaching = sorted(path for path, text in _sources(LAYER).items()
                      if re.search(r"dynamodb|\.(put|get|update|delete)_item\(|batch_get_item|\.query\(|\.scan\(", text)
                      and not path.startswith("layers/aepflow/aepflow/store/"))
    assert reaching == ["layers/aepflow/aepflow/core/aws.py"]


def test_the_layout_names_only_files_that_exist():
    rows = re.findall(r"^\| `layers/aepflow/aepflow/([a-z0-9]+)/` \| (.+) \|$", ARCHITECTURE, re.M)
    assert {package for package, _ in rows} == {"core", "spec", "aep", "store", "s3", "steps", "ops", "monitor",
                                                 "doors"}
    missing = []
    for package, text in rows:
        here = LAYER / package
        for name in re.findall(r"`([a-z_/]+(?:\.py|/))`", text):
            name = name.removeprefix(f"{package}/")
            if not (list(here.rglob(name.rstrip("/"))) or (here / name).exists()):
                missing.append(f"{package}/{name}")
    assert missing == []


def test_every_import_of_the_layer_names_what_is_there_even_inside_a_function():
    """A move of a module is seen wherever it is imported, not only where a test happens to run the
    import: every `from aepflow... import name` in the project resolves."""
    import ast
    import importlib
    import importlib.util

    broken = []
    for path in sorted(p for root in ("layers", "functions", "local", "bench", "tests", "docs")
                       for p in (ROOT / root).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "aepflow":
                if importlib.util.find_spec(str(node.module)) is None:
                    broken.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}")
                    continue
                module = importlib.import_module(str(node.module))
                for alias in node.names:
                    if not hasattr(module, alias.name) and importlib.util.find_spec(
                            f"{node.module}.{alias.name}") is None:
                        broken.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{alias.name}")
    assert broken == []


def test_no_two_test_modules_share_a_name():
    """pytest imports test modules by their base name (the test folders are not packages): two
    test_x.py in two folders fail the whole run's collection ("import file mismatch")."""
    root = Path(__file__).resolve().parents[1]
    names = Counter(p.name for p in root.rglob("test_*.py") if "__pycache__" not in p.parts)
    assert not [name for name, count in names.items() if count > 1]
