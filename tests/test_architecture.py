"""The shape of the code: a library that never imports streamlit, imports that only point down,
and a command line that starts without the heavy parts."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mlsd"


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_library_never_imports_streamlit():
    modules = sorted(f"mlsd.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    code = f"import sys, mlsd; import {', '.join(modules)}; assert 'streamlit' not in sys.modules"
    run = run_python(code)
    assert run.returncode == 0, run.stderr


def imports_of(path: Path) -> set[str]:
    """The mlsd modules a module imports (module level and inside functions), by short name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:  # from . import x
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mlsd":
            found.add(node.module.split(".")[1] if "." in node.module else "__init__")
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("mlsd."))
    return found


def test_imports_point_down_only():
    graph = {p.stem: imports_of(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    upward = sorted(name for name, deps in graph.items() if "__init__" in deps)
    assert not upward, f"these modules import the package root: {upward}"

    def cycle_from(start: str, path: list[str]) -> list[str] | None:
        for dep in sorted(graph.get(path[-1], ())):
            if dep == start:
                return path + [dep]
            if dep not in path and dep in graph:
                found = cycle_from(start, path + [dep])
                if found:
                    return found
        return None

    cycles = [c for name in sorted(graph) if (c := cycle_from(name, [name]))]
    assert not cycles, f"import cycle: {' -> '.join(cycles[0])}"


def test_the_command_line_starts_without_pandas_http_faiss_or_the_model():
    code = ("import sys, mlsd.cli; heavy = {'pandas', 'requests', 'faiss', 'torch', 'sentence_transformers', 'streamlit'}; "
            "loaded = sorted(heavy & set(sys.modules)); assert not loaded, loaded")
    run = run_python(code)
    assert run.returncode == 0, run.stderr
