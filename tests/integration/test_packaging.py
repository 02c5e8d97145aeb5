"""chaosdrill as a user installs it: the wheel's contents, imports and ``chaos discover``.

The wheel is built from the working tree and installed into a fresh venv outside the
repository (``installed_wheel``); the editable install is the one of the interpreter
running the tests.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from tests.packaging_helpers import InstalledWheel, check, clean_env, run, site_packages
from tests.repo import DRILLS_DIR, EXPERIMENTS_DIR, PROBES_DIR, ROOT, RUNBOOKS_DIR, SCENARIOS_DIR

# the first test pays for the module's venv (build, then install with the dependencies)
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PACKAGE_SRC = ROOT / "src" / "chaosdrill"
# catalogue directory in the wheel -> (repository directory, file patterns)
CATALOGUE = {
    "scenarios": (SCENARIOS_DIR, ("*.yaml",)),
    "runbooks": (RUNBOOKS_DIR, ("*.yaml",)),
    "probes": (PROBES_DIR, ("*.rules.yml", "*.test.yml")),
    "experiments": (EXPERIMENTS_DIR, ("*.json",)),
    "drills": (DRILLS_DIR, ("*.yaml",)),
}
# activities `chaos discover chaosdrill` must list, as (module, name)
ACTIVITIES = {
    ("chaosdrill.ctk.actions", "inject_fault"),
    ("chaosdrill.ctk.actions", "revert_faults"),
    ("chaosdrill.ctk.actions", "run_runbook"),
    ("chaosdrill.ctk.probes", "wait_for_page"),
    ("chaosdrill.ctk.probes", "wait_for_recovery"),
}
MAX_WHEEL_BYTES = 2_000_000
EXCLUDED_PARTS = {"tests", ".venv", "reports", "__pycache__", ".git", "benchmarks"}


def _discover(chaos: Path, bin_dir: Path, work: Path, seed: str) -> dict[str, Any]:
    """Run the stock ``chaos discover chaosdrill --no-install``; the discovery it wrote."""
    discovery = work / "out" / "discovery.json"
    discovery.parent.mkdir()
    env = clean_env(bin_dir)
    env["PYTHONHASHSEED"] = seed
    done = check(
        run(
            chaos,
            "--no-version-check",
            "--log-file",
            work / "chaostoolkit.log",
            "--settings",
            work / "settings.yaml",
            "discover",
            "chaosdrill",
            "--no-install",
            "--discovery-path",
            discovery,
            cwd=work,
            env=env,
        )
    )
    output = done.stdout + done.stderr
    # chaos exits 0 even when discovery fails, so the file it writes is the evidence
    assert discovery.is_file(), f"chaos discover wrote no {discovery}:\n{output}"
    assert not (work / "discovery.json").exists(), "discovery.json written to the cwd"
    data: dict[str, Any] = json.loads(discovery.read_text())
    assert data["extension"]["name"] == "chaosdrill", data["extension"]
    listed = {(a["mod"], a["name"]) for a in data["activities"]}
    assert listed >= ACTIVITIES, f"missing {sorted(ACTIVITIES - listed)}; listed {sorted(listed)}"
    return data


@pytest.mark.parametrize("seed", ["0", "1", "7", "42", "4294967295"])
def test_chaos_discover_from_the_wheel(
    installed_wheel: InstalledWheel, tmp_path: Path, seed: str
) -> None:
    data = _discover(installed_wheel.script("chaos"), installed_wheel.bin_dir, tmp_path, seed)
    assert data["extension"]["version"] == importlib.metadata.version("chaosdrill")


def test_chaos_discover_from_the_editable_install(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    direct_url = importlib.metadata.distribution("chaosdrill").read_text("direct_url.json")
    origin = json.loads(direct_url or "{}")
    if not origin.get("dir_info", {}).get("editable"):
        pytest.skip(f"chaosdrill is not installed in editable mode in {bin_dir.parent}")
    source = Path(origin["url"].removeprefix("file://"))
    try:
        _discover(bin_dir / "chaos", bin_dir, tmp_path, "0")
    except AssertionError as e:
        raise AssertionError(
            f"{e}\n(an editable install without chaosdrill/_editable_install.py in its "
            f"site-packages declares no top-level package; reinstall it: "
            f"{bin_dir / 'pip'} install -e {source})"
        ) from None
    # the editable install's site-packages/chaosdrill is a namespace portion: the regular
    # package in the source tree is the one imported
    code = "import chaosdrill, chaosdrill.ctk.actions as a; print(chaosdrill.__file__, a.__file__)"
    done = check(run(bin_dir / "python", "-c", code, cwd=tmp_path, env=clean_env(bin_dir)))
    for path in done.stdout.split():
        assert Path(path).resolve().is_relative_to(source.resolve() / "src" / "chaosdrill"), path


def _wheel_names(wheel: Path) -> list[PurePosixPath]:
    with zipfile.ZipFile(wheel) as z:
        return [PurePosixPath(n) for n in z.namelist() if not n.endswith("/")]


def test_wheel_holds_one_package_the_catalogue_and_nothing_else(
    installed_wheel: InstalledWheel,
) -> None:
    wheel = installed_wheel.wheel
    names = _wheel_names(wheel)
    tops = {n.parts[0] for n in names}
    dist_infos = {t for t in tops if t.endswith(".dist-info")}
    assert len(dist_infos) == 1, dist_infos
    assert tops - dist_infos == {"chaosdrill"}, sorted(tops)

    catalogue = PurePosixPath("chaosdrill/catalogue")
    for sub, (repo_dir, patterns) in CATALOGUE.items():
        for pattern in patterns:
            expected = {p.name for p in repo_dir.glob(pattern)}
            assert expected, f"no {pattern} in {repo_dir}"
            found = {n.name for n in names if n.parent == catalogue / sub and n.match(pattern)}
            assert found == expected, f"{catalogue / sub}/{pattern}: {sorted(found)}"
    assert len([n for n in names if n.parent == catalogue / "scenarios"]) >= 4

    with zipfile.ZipFile(wheel) as z:
        scenario = z.read(str(catalogue / "scenarios" / "database-down.yaml"))
    assert scenario == (SCENARIOS_DIR / "database-down.yaml").read_bytes()

    for rel, pattern in (("schemas", "*.json"), ("targets/revenue_engine", "*.py")):
        expected = {p.name for p in (PACKAGE_SRC / rel).glob(pattern)}
        assert expected, f"no {pattern} in {PACKAGE_SRC / rel}"
        found = {n.name for n in names if n.parent == PurePosixPath("chaosdrill", rel)}
        assert expected <= found, f"chaosdrill/{rel}: missing {sorted(expected - found)}"

    unwanted = [
        str(n)
        for n in names
        if EXCLUDED_PARTS & set(n.parts)
        or n.suffix == ".pyc"
        or n.name == "conftest.py"
        or n.name.startswith("test_")
    ]
    assert not unwanted, unwanted
    size = wheel.stat().st_size
    assert size < MAX_WHEEL_BYTES, f"{wheel.name} is {size} bytes"


def test_the_venv_imports_chaosdrill_from_its_site_packages(
    installed_wheel: InstalledWheel, tmp_path: Path
) -> None:
    code = (
        "import json, importlib.resources, chaosdrill, chaosdrill.targets.revenue_engine as r\n"
        "print(json.dumps([chaosdrill.__file__, r.__file__,"
        " str(importlib.resources.files('chaosdrill') / 'catalogue' / 'scenarios')]))"
    )
    done = check(installed_wheel.run(installed_wheel.python, "-c", code, cwd=tmp_path))
    purelib = site_packages(installed_wheel.python, tmp_path)
    spec = importlib.util.find_spec("chaosdrill")
    assert spec is not None and spec.origin is not None
    here = Path(spec.origin).resolve().parent
    assert purelib.is_relative_to(installed_wheel.venv.resolve()), purelib
    paths = [Path(p).resolve() for p in json.loads(done.stdout)]
    for path in paths:
        assert path.is_relative_to(purelib / "chaosdrill"), f"{path} not in {purelib}"
        assert not path.is_relative_to(ROOT), f"{path} comes from the repository"
        assert not path.is_relative_to(here), f"{path} comes from the tests' own chaosdrill"
    assert sorted(p.name for p in paths[2].glob("*.yaml")), f"no scenarios in {paths[2]}"


def test_a_wheel_built_from_the_sdist_has_the_same_files(
    installed_wheel: InstalledWheel, tmp_path: Path
) -> None:
    """The sdist keeps no symbolic link: the build hook takes the catalogue from its dirs."""
    out = tmp_path / "dist"
    check(run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=tmp_path, timeout=600))
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    direct = sorted(map(str, _wheel_names(installed_wheel.wheel)))
    via_sdist = sorted(map(str, _wheel_names(wheel)))
    assert [n for n in via_sdist if "/catalogue/" in n]
    assert via_sdist == direct
    assert sdist.stat().st_size > 0
