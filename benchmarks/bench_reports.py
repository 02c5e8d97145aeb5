"""Benchmark of reports and static validation (no environment).

Times, over N repetitions (default 5): building and writing every output of a four-drill
report from real drill results (tests/data/drills), the HTML page alone, and
`chaosdrill validate` of the whole project from the command line. Writes median/min/max to
benchmarks/results/reports.json. Targets on a 2-core machine: every output of a four-drill
report <= 3 s; `chaosdrill validate` <= 10 s ("seconds, no environment").
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from chaosdrill.report import build_report
from chaosdrill.report.html import render_html
from chaosdrill.report.writer import write_report_files

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DRILLS = ("bad-release", "primary-crash", "leaky-feature", "bad-release-wrong-runbook")


def stats(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 3),
        "min_s": round(min(values), 3),
        "max_s": round(max(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = [
        (json.loads((ROOT / "tests" / "data" / "drills" / f"{n}.json").read_text()), None)
        for n in DRILLS
    ]
    write_all, html_only, validate, size = [], [], [], 0
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            report = build_report(results, run_id="bench")
            written = write_report_files(report, Path(tmp))
            write_all.append(time.perf_counter() - t0)
            size = sum(p.stat().st_size for p in written.values())
        t0 = time.perf_counter()
        render_html(report)
        html_only.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "chaosdrill", "validate"], capture_output=True, check=False
        )
        validate.append(time.perf_counter() - t0)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    out = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "runs": args.runs,
        "drills_in_report": len(DRILLS),
        "write_every_output": {**stats(write_all), "target_s": 3.0},
        "render_html": stats(html_only),
        "outputs_bytes": size,
        "validate_cli": {**stats(validate), "target_s": 10.0},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reports.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
