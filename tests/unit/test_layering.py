"""The drill and what it drives reach an environment only through the Environment protocol.

A second backend must be addable without touching these packages, so none of them may
import the local backend, at module level or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import chaosdrill

PACKAGE = Path(chaosdrill.__file__).parent
BACKEND_NEUTRAL = ("drill", "faults", "runbooks", "probes", "report", "scoring", "plans", "ctk")
FORBIDDEN = "chaosdrill.environments.local"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every (line, dotted name) imported anywhere in ``tree``, relative imports resolved."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            found.append((node.lineno, base))
    return found


def _local_imports(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    return [
        (line, name)
        for line, name in _imported(tree, module, is_package)
        if name == FORBIDDEN or name.startswith(FORBIDDEN + ".")
    ]


def forbidden_imports(path: Path) -> list[str]:
    """``path:line: name`` for each import of the local backend in one module."""
    found = _local_imports(path.read_text(), _module_name(path), path.name == "__init__.py")
    return [f"{path.relative_to(PACKAGE.parent)}:{line}: {name}" for line, name in found]


def _modules() -> list[Path]:
    return sorted(p for pkg in BACKEND_NEUTRAL for p in (PACKAGE / pkg).rglob("*.py"))


def test_every_backend_neutral_package_has_modules() -> None:
    for pkg in BACKEND_NEUTRAL:
        assert list((PACKAGE / pkg).rglob("*.py")), f"no modules under chaosdrill/{pkg}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_does_not_import_the_local_backend(path: Path) -> None:
    assert forbidden_imports(path) == []


@pytest.mark.parametrize(
    "source",
    [
        "from chaosdrill.environments.local import LocalEnvironment\n",
        "import chaosdrill.environments.local.state\n",
        "from chaosdrill.environments import local\n",
        "def f():\n    from chaosdrill.environments.local.supervisor import Supervisor\n",
        "from ..environments.local import EnvSettings\n",
    ],
)
def test_the_check_finds_each_spelling_of_the_import(source: str) -> None:
    assert _local_imports(source, "chaosdrill.drill.phases", is_package=False)


def test_the_check_lets_the_protocol_through() -> None:
    source = (
        "from chaosdrill.environments import Environment, open_environment\n"
        "from chaosdrill.environments.base import Endpoints\n"
        "from ..environments.readiness import wait_until\n"
        "from chaosdrill.environments.localtime import x\n"
    )
    assert _local_imports(source, "chaosdrill.drill.phases", is_package=False) == []
