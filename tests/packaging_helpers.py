"""Build chaosdrill's wheel and install it into a fresh virtual environment.

``installed_wheel`` in tests/integration/conftest.py wraps these for tests that run the
installed package's commands (``chaos``, ``chaosdrill``) the way a user's environment does:
from a venv outside the repository, with no ``PYTHONPATH`` pointing back at ``src/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.repo import ROOT

BUILD_TIMEOUT_S = 300
INSTALL_TIMEOUT_S = 600
# variables that would make a subprocess import chaosdrill from somewhere other than the
# environment it runs in
_LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")


@dataclass(frozen=True)
class InstalledWheel:
    """A venv with chaosdrill's wheel (and its dependencies) installed."""

    wheel: Path
    venv: Path

    @property
    def bin_dir(self) -> Path:
        """The venv's scripts directory: python, chaos, chaosdrill."""
        return self.venv / "bin"

    @property
    def python(self) -> Path:
        """The venv's interpreter."""
        return self.bin_dir / "python"

    def script(self, name: str) -> Path:
        """A console script installed in the venv (``chaos``, ``chaosdrill``)."""
        return self.bin_dir / name

    def env(self) -> dict[str, str]:
        """Environment variables for a subprocess that uses only this venv."""
        return clean_env(self.bin_dir)

    def run(
        self, *args: str | Path, cwd: Path, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a command with this venv's environment (``args[0]`` a script name or a path)."""
        return run(*args, cwd=cwd, env=self.env(), timeout=timeout)


def clean_env(bin_dir: Path) -> dict[str, str]:
    """``os.environ`` without the variables that redirect imports, ``bin_dir`` first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_VARIABLES}
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    return env


def run(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; the caller checks the exit status."""
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def check(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Fail with the command's whole output unless it exited 0."""
    assert (
        done.returncode == 0
    ), f"{' '.join(map(str, done.args))} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done


def build_wheel(out_dir: Path) -> Path:
    """Build the wheel of the repository's working tree into ``out_dir``; its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    check(
        run(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            ".",
            "-w",
            out_dir,
            cwd=ROOT,
            env=clean_env(Path(sys.executable).parent),
            timeout=BUILD_TIMEOUT_S,
        )
    )
    wheels = sorted(out_dir.glob("chaosdrill-*.whl"))
    assert len(wheels) == 1, f"expected one chaosdrill wheel in {out_dir}, found {wheels}"
    return wheels[0]


def install_wheel(wheel: Path, venv: Path) -> InstalledWheel:
    """Create a venv at ``venv`` and install ``wheel`` there with its dependencies.

    The dependencies come from pip's configured index (its mirror), as for any user.
    """
    assert not venv.resolve().is_relative_to(ROOT), f"{venv} is inside the repository"
    check(run(sys.executable, "-m", "venv", venv, cwd=venv.parent, timeout=BUILD_TIMEOUT_S))
    installed = InstalledWheel(wheel=wheel, venv=venv)
    check(
        installed.run(
            installed.python,
            "-m",
            "pip",
            "install",
            "--no-input",
            wheel,
            cwd=venv.parent,
            timeout=INSTALL_TIMEOUT_S,
        )
    )
    return installed


def site_packages(python: Path, cwd: Path) -> Path:
    """The purelib directory of the environment ``python`` belongs to."""
    done = check(
        run(
            python,
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
            cwd=cwd,
            env=clean_env(python.parent),
        )
    )
    return Path(done.stdout.strip()).resolve()
