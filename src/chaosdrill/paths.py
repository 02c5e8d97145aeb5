"""Where the project's data lives: probes/, runbooks/, scenarios/, experiments/, reports/."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "EXPERIMENTS_DIR",
    "PROBES_DIR",
    "PROJECT_ROOT",
    "RUNBOOKS_DIR",
    "SCENARIOS_DIR",
    "reports_dir",
]

# src/chaosdrill/paths.py -> the repository root (chaosdrill is installed in editable mode)
PROJECT_ROOT = Path(os.environ.get("CHAOSDRILL_ROOT") or Path(__file__).resolve().parents[2])
PROBES_DIR = Path(os.environ.get("CHAOSDRILL_PROBES_DIR") or PROJECT_ROOT / "probes")
RUNBOOKS_DIR = PROJECT_ROOT / "runbooks"
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"
EXPERIMENTS_DIR = PROJECT_ROOT / "experiments"


def reports_dir() -> Path:
    """Where drill results go: ``$CHAOSDRILL_REPORTS`` or ``reports/`` in the project."""
    return Path(os.environ.get("CHAOSDRILL_REPORTS") or PROJECT_ROOT / "reports")
