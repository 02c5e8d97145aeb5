"""The repository's own workspace directories, for tests that read the reference catalogue."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS_DIR = ROOT / "experiments"
PROBES_DIR = ROOT / "probes"
RUNBOOKS_DIR = ROOT / "runbooks"
SCENARIOS_DIR = ROOT / "scenarios"
DRILLS_DIR = ROOT / "drills"


def make_workspace(root: Path, files: dict[str, str] | None = None) -> Path:
    """A workspace at ``root``: a minimal chaosdrill.yaml and the given files (relative paths)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "chaosdrill.yaml").write_text("version: 1\n")
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
