"""Modules meet only at their public names.

A name starting with ``_`` is private to the module that defines it: it may change or go
away without notice, so no other module of chaosdrill may use it, neither by importing it
(``from chaosdrill.x import _name``) nor through an imported module (``x._name``). Dunder
names (``__version__``, ``__all__``) are public. The check reads the source (ast), so it
covers imports made inside functions and under ``TYPE_CHECKING`` too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "chaosdrill"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    """Whether ``dotted`` names a module or package of the source tree."""
    base = SRC.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``from ... import`` reads from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _crossings(path: Path, text: str) -> list[str]:
    """Every use of another chaosdrill module's private name in the source ``text`` of
    ``path`` (which names the module), by line."""
    module = _module_name(path)
    tree = ast.parse(text, filename=str(path))
    shown = path.relative_to(SRC)
    found: list[tuple[int, str]] = []
    # local names bound to chaosdrill modules: "rules" -> "chaosdrill.monitoring.rules"
    modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "chaosdrill":
                    if alias.asname:
                        modules[alias.asname] = alias.name
                    else:
                        modules["chaosdrill"] = "chaosdrill"
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, path.name == "__init__.py")
            if source.split(".")[0] != "chaosdrill":
                continue
            for alias in node.names:
                if _private(alias.name) and source != module:
                    found.append((node.lineno, f"imports {alias.name} from {source}"))
                elif _is_module(f"{source}.{alias.name}"):
                    modules[alias.asname or alias.name] = f"{source}.{alias.name}"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not _private(node.attr):
            continue
        target = _dotted(node.value, modules)
        if target is not None and target != module and _is_module(target):
            found.append((node.lineno, f"uses {target}.{node.attr}"))
    return [f"{shown}:{line} {what}" for line, what in sorted(found)]


def _dotted(node: ast.expr, modules: dict[str, str]) -> str | None:
    """The chaosdrill module an expression such as ``rules`` or ``chaosdrill.x`` names."""
    if isinstance(node, ast.Name):
        return modules.get(node.id)
    if isinstance(node, ast.Attribute):
        parent = _dotted(node.value, modules)
        return None if parent is None else f"{parent}.{node.attr}"
    return None


def _all_crossings() -> list[str]:
    return [
        crossing
        for path in sorted(PACKAGE.rglob("*.py"))
        for crossing in _crossings(path, path.read_text(encoding="utf-8"))
    ]


def test_the_check_sees_imports_and_attribute_uses() -> None:
    # the check itself must be able to fail: a module with both kinds of crossing
    probe = PACKAGE / "monitoring" / "probe.py"
    text = (
        "from chaosdrill.monitoring.promql import _durations\n"
        "from chaosdrill.monitoring import promql\n"
        "import chaosdrill.yamlsource as ys\n"
        "x = promql._NUMBER\n"
        "y = ys._Builder\n"
        "z = promql.__all__\n"
        "from . import promql as p\n"
        "w = p._BRACKET\n"
        "from .rules import _Where, RULE_FILE_GLOB\n"
    )
    assert _crossings(probe, text) == [
        "chaosdrill/monitoring/probe.py:1 imports _durations from chaosdrill.monitoring.promql",
        "chaosdrill/monitoring/probe.py:4 uses chaosdrill.monitoring.promql._NUMBER",
        "chaosdrill/monitoring/probe.py:5 uses chaosdrill.yamlsource._Builder",
        "chaosdrill/monitoring/probe.py:8 uses chaosdrill.monitoring.promql._BRACKET",
        "chaosdrill/monitoring/probe.py:9 imports _Where from chaosdrill.monitoring.rules",
    ]
    # a module's own private names are its own business
    assert _crossings(PACKAGE / "monitoring" / "promql.py", "from .promql import _NUMBER\n") == []


def test_no_module_uses_another_modules_private_names() -> None:
    crossings = _all_crossings()
    if crossings:
        pytest.fail("private names used across modules:\n  " + "\n  ".join(crossings))
