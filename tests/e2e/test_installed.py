"""chaosdrill as a new user gets it: the wheel in a fresh venv, a workspace, a drill.

The wheel is built from this tree and installed with its dependencies into a venv outside
the repository (``installed_wheel``); everything below runs that venv's console scripts
from a temporary directory, with no path of the repository on ``sys.path``.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import unique_name
from tests.packaging_helpers import InstalledWheel, site_packages
from tests.repo import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def _files(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*") if p.is_file()}


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_init_validate_and_a_drill_from_the_installed_wheel(
    installed_wheel: InstalledWheel, tmp_path: Path
) -> None:
    site = site_packages(installed_wheel.python, tmp_path)
    site_before = _files(site)
    tree_before = _git_status()
    started = time.time()
    chaosdrill = installed_wheel.script("chaosdrill")

    init = installed_wheel.run(chaosdrill, "init", "team", cwd=tmp_path)
    assert init.returncode == 0, init.stdout + init.stderr
    ws = tmp_path / "team"
    assert (ws / "chaosdrill.yaml").is_file()

    validate = installed_wheel.run(chaosdrill, "validate", cwd=ws)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert validate.stdout.splitlines()[-1] == "9 files checked, 0 problems"
    # the built-in names the examples use resolve inside the installed package
    builtin = [ln for ln in validate.stdout.splitlines() if " built-in " in ln]
    assert builtin and all(str(site / "chaosdrill" / "catalogue") in ln for ln in builtin)

    name = unique_name("wheel")
    try:
        drill = installed_wheel.run(
            chaosdrill, "run", "--plan", "example", "--name", name, "--quiet", cwd=ws, timeout=600
        )
        assert drill.returncode == 0, drill.stdout[-3000:] + drill.stderr[-3000:]
    finally:
        installed_wheel.run(chaosdrill, "env", "down", "--name", name, "--force", cwd=ws)
    [run] = [p for p in (ws / "reports").iterdir() if p.is_dir()]
    report = json.loads((run / "report.json").read_text())
    assert report["summary"]["passed"], report["summary"]
    [book] = report["drills"][0]["runbooks"]
    assert (book["name"], book["source"]) == ("example-rollback", "workspace")
    # nothing written inside site-packages or the source tree
    site_after = _files(site)
    new = sorted(set(site_after) - set(site_before))
    changed = sorted(p for p, m in site_before.items() if site_after.get(p, m) != m)
    assert not [p for p in new if not p.endswith(".pyc")], new
    assert not changed, changed
    assert not [p for p, m in site_after.items() if m >= started and not p.endswith(".pyc")]
    assert _git_status() == tree_before
