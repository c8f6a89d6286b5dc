"""Rules the test suite keeps so that it carries its claims: under CI=true nothing is skipped for
a missing dependency, and no `pytest.raises` block hides a statement that never runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .helpers import missing_dependency, under_ci

TESTS = Path(__file__).resolve().parent
# Calls that end a test without testing it; only helpers.missing_dependency may make them.
GIVING_UP = {"skip", "importorskip", "skipif", "xfail"}


def giving_up_calls(root: Path) -> list[str]:
    """``file:line name`` for every pytest skip/xfail outside ``helpers.missing_dependency``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        allowed: set[int] = set()
        for node in ast.walk(tree):
            if (isinstance(node, ast.FunctionDef) and node.name == "missing_dependency"
                    and path.name == "helpers.py"):
                allowed |= {n.lineno for n in ast.walk(node) if hasattr(n, "lineno")}
        # `pytest.skip.Exception` names the exception, it does not skip
        inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        for node in ast.walk(tree):
            name = node.attr if isinstance(node, ast.Attribute) and id(node) not in inner else None
            if name in GIVING_UP and node.lineno not in allowed:
                found.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    return found


def test_only_missing_dependency_skips_so_ci_cannot_go_quietly_blind() -> None:
    found = giving_up_calls(TESTS)
    assert not found, "use tests/helpers.py missing_dependency (fails under CI=true):\n" + "\n".join(found)


def test_the_rule_catches_a_skip(tmp_path: Path) -> None:
    source = "import pytest\nfrom pytest import mark\n\n@mark.skipif(True, reason='r')\ndef test_a():\n"
    (tmp_path / "test_x.py").write_text(source + "    pytest.skip('no')\n")
    assert giving_up_calls(tmp_path) == ["test_x.py:4 skipif", "test_x.py:6 skip"]


def outcome(reason: str) -> str:
    """What ``missing_dependency(reason)`` does, caught here: a skip raised inside
    ``pytest.raises(pytest.fail.Exception)`` would skip this very test instead of failing it."""
    try:
        missing_dependency(reason)
    except pytest.fail.Exception as e:
        return f"failed: {e}"
    except pytest.skip.Exception as e:
        return f"skipped: {e}"
    return "returned"


def test_a_missing_dependency_fails_under_ci_and_skips_elsewhere(monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert under_ci()
    assert outcome("chromium is missing").startswith("failed: CI=true, and chromium is missing")
    for value in ("", "false"):
        monkeypatch.setenv("CI", value)
        assert outcome("chromium is missing") == "skipped: chromium is missing"


def raises_blocks_with_dead_statements(root: Path) -> list[str]:
    """``file:line`` of each ``with pytest.raises(...)`` holding more than one statement: the
    first that raises ends the block, so the ones after it never run."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.With) and len(node.body) > 1
                    and any("raises" in ast.unparse(item.context_expr) for item in node.items)):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_raises_block_holds_a_statement_that_never_runs(tmp_path: Path) -> None:
    found = raises_blocks_with_dead_statements(TESTS)
    assert not found, "one statement per pytest.raises block:\n" + "\n".join(found)
    source = "import pytest\n\ndef test_b():\n    with pytest.raises(ValueError):\n"
    (tmp_path / "test_y.py").write_text(source + "        int('x')\n        int('y')\n")
    assert raises_blocks_with_dead_statements(tmp_path) == ["test_y.py:4"]
