"""Benchmark of whole drills: one per scenario at the CI time scale.

For each scenario's first cause (bad-release, missing-index, primary-crash, leaky-feature)
runs ``chaosdrill run`` at time scale K (default 30) with the seed's hold period (30 min in
production) on one shared local environment, and reports the wall time of each drill, the
sum of its configured waits (the steady-state window, the expected alert's rule window and
``for:``, Alertmanager's group_wait, and the hold period, all divided by K) and the overhead
ratio (wall - waits) / waits. Writes benchmarks/results/drills.json.
Targets on this machine: all four drills <= 6 min in all; overhead <= 25 %.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from chaosdrill.drill.context import DrillConfig
from chaosdrill.environments.local import EnvSettings, LocalEnvironment
from chaosdrill.monitoring.rules import load_rule_files, parse_duration
from chaosdrill.timescale import TimeScale
from chaosdrill.workspace import current

RESULTS = Path(__file__).parent / "results"
DRILLS = ["bad-release", "missing-index", "primary-crash", "leaky-feature"]


def rule_wait_s(alert: str) -> float:
    """Production seconds of the alert's longest range window plus its ``for:``."""
    for rule_file in load_rule_files(current().paths("rules")):
        for rule in rule_file.alerts:
            if rule.name == alert:
                windows = [parse_duration(w) for w in re.findall(r"\[(\d+[smhd])", rule.expr)]
                return (max(windows, default=0) + parse_duration(rule.for_ or "0s")) / 1000
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-scale", type=float, default=30.0)
    args = parser.parse_args()
    k = args.time_scale
    ts = TimeScale(k)
    name = f"bench-drills-{uuid.uuid4().hex[:6]}"
    rows = []
    reports = Path(tempfile.mkdtemp(prefix="chaosdrill-bench-"))
    with LocalEnvironment.up(name, EnvSettings.for_time_scale(k)):
        for cause in DRILLS:
            exp = json.loads(current().entries("experiments")[cause].path.read_text())
            alert = exp["extensions"][0]["alert"]
            waits = (
                DrillConfig.slo_window_for(ts)
                + ts.drill(rule_wait_s(alert))
                + ts.group_wait_s
                + ts.hold_s
            )
            t0 = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "chaosdrill",
                    "run",
                    str(current().entries("experiments")[cause].path),
                    "--name",
                    name,
                    "--time-scale",
                    str(k),
                    "--reports",
                    str(reports),
                    "--quiet",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            wall = time.perf_counter() - t0
            report_line = [
                ln for ln in proc.stderr.splitlines() if ln.startswith("chaosdrill-report: ")
            ]
            report = (
                json.loads(Path(report_line[-1].split(": ", 1)[1]).read_text())
                if report_line
                else {}
            )
            result = (
                json.loads(Path(report["drills"][0]["result_path"]).read_text())
                if report.get("drills")
                else {}
            )
            row = {
                "drill": cause,
                "alert": alert,
                "exit": proc.returncode,
                "wall_s": round(wall, 1),
                "configured_waits_s": round(waits, 1),
                "overhead_ratio": round((wall - waits) / waits, 3),
                "mttd_s": result.get("mttd_s"),
                "mttr_s": result.get("mttr_s"),
                "passed": (result.get("verdict") or {}).get("passed"),
            }
            rows.append(row)
            print(row, flush=True)
    total = sum(r["wall_s"] for r in rows)
    waits_total = sum(r["configured_waits_s"] for r in rows)
    out = {
        "benchmark": "one drill per scenario",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "time_scale": k,
        "hold_production_s": ts.production.hold_s,
        "drills": rows,
        "total_wall_s": round(total, 1),
        "total_configured_waits_s": round(waits_total, 1),
        "overhead_ratio": round((total - waits_total) / waits_total, 3),
        "targets": {"total_wall_s": 360, "overhead_ratio": 0.25},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "drills.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
