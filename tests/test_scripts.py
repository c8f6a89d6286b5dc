"""The scripts stay thin: benchmarks and tools over the package's public functions, none reaching
into another script through ``sys.path`` or into a development folder users do not have, and
every package name they import still exists."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
# The one module scripts share (`python scripts/x.py` puts scripts/ on the path by itself).
SHARED_HELPERS = {"timing"}


def script_problems(folder: Path) -> list[str]:
    """``file:line what`` for each sys.path edit, path to a ``shared`` development folder, or
    import of a script other than the shared helpers."""
    scripts = {p.stem for p in folder.glob("*.py")}
    problems = []
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Attribute) and node.attr == "path" and \
                    isinstance(node.value, ast.Name) and node.value.id == "sys":
                problems.append(f"{where} touches sys.path")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    ("../shared" in node.value or node.value == "shared"):
                problems.append(f"{where} names the development folder {node.value!r}")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                problems += [f"{where} imports the script {n}" for n in names
                             if n.split(".")[0] in scripts - SHARED_HELPERS]
    return sorted(problems, key=lambda t: (t.split(':')[0], int(t.split(':')[1].split()[0])))


def test_no_script_edits_sys_path_reads_shared_or_imports_another_script():
    problems = script_problems(SCRIPTS)
    assert not problems, "\n".join(problems)


def test_the_check_catches_each_kind(tmp_path):
    (tmp_path / "timing.py").write_text("")
    (tmp_path / "other.py").write_text("")
    (tmp_path / "bad.py").write_text(
        "import sys\nsys.path.insert(0, '.')\nfrom other import x\nROOT = ROOT.parent / 'shared'\n"
        "import timing\n")
    found = script_problems(tmp_path)
    assert found == ["bad.py:2 touches sys.path", "bad.py:3 imports the script other",
                     "bad.py:4 names the development folder 'shared'"], found


def test_every_package_name_a_script_imports_exists():
    missing = []
    for path in sorted(SCRIPTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tf_stylefusion"):
                module = importlib.import_module(node.module)
                missing += [f"{path.name}:{node.lineno} {node.module}.{a.name}" for a in node.names
                            if not hasattr(module, a.name)
                            and not (hasattr(module, "__path__")  # a package's submodule
                                     and importlib.util.find_spec(f"{node.module}.{a.name}"))]
    assert not missing, "scripts import names the package no longer has:\n" + "\n".join(missing)


def test_benchmarks_name_the_machine_the_package_s_one_way():
    from tf_stylefusion.machine import machine_line

    spec = importlib.util.spec_from_file_location("timing", SCRIPTS / "timing.py")
    timing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(timing)
    assert timing.machine_line is machine_line
    line = machine_line()
    assert line.count(", ") >= 3 and " cores, " in line
    own = [p.name for p in SCRIPTS.glob("*.py")
           if any(isinstance(n, ast.FunctionDef) and n.name == "machine_line" for n in ast.walk(ast.parse(p.read_text())))]
    assert not own, f"scripts with their own machine_line: {own}"
