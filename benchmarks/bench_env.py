"""Benchmark of the local environment: ``env up`` / ``env down`` wall time and memory.

Times scripts/bootstrap.sh with everything already installed, then runs N cycles
(default 5) of up -> resident memory of every process of the environment -> down, and
writes median/min/max as JSON to benchmarks/results/env.json.
Targets on a 2-core machine: set-up <= 10 s, up <= 8 s, down <= 3 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil

from chaosdrill.environments.local import EnvSettings, LocalEnvironment
from chaosdrill.environments.local.lifecycle import ENV_MARKER

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def environment_rss(root: Path) -> int:
    total = 0
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(ENV_MARKER) == str(root):
                total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    t0 = time.perf_counter()
    subprocess.run([str(ROOT / "scripts" / "bootstrap.sh")], check=True)
    setup_seconds = time.perf_counter() - t0  # everything present: the idempotent path
    ups, downs, rss = [], [], []
    for i in range(args.runs):
        name = f"bench-{uuid.uuid4().hex[:6]}"
        t0 = time.perf_counter()
        env = LocalEnvironment.up(name, EnvSettings(replicas=args.replicas))
        ups.append(time.perf_counter() - t0)
        time.sleep(1.0)  # let every part settle before reading memory
        rss.append(environment_rss(env.root) / 2**20)
        t0 = time.perf_counter()
        env.down()
        downs.append(time.perf_counter() - t0)
        print(f"run {i + 1}: up {ups[-1]:.2f} s, down {downs[-1]:.2f} s, rss {rss[-1]:.0f} MiB")
    result = {
        "benchmark": "env up/down",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": psutil.cpu_count(), "python": platform.python_version()},
        "runs": args.runs,
        "replicas": args.replicas,
        "setup_seconds_everything_present": round(setup_seconds, 3),
        "up_seconds": summary(ups),
        "down_seconds": summary(downs),
        "resident_memory_mib": summary(rss),
        "targets": {"up_seconds": 8.0, "down_seconds": 3.0, "setup_seconds": 10.0},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "env.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
