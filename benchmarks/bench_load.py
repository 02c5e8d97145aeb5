"""Benchmark of the load generator against the local environment.

1. The highest request rate it sustains with client-side p95 under 250 ms: rates are stepped
   up (default 100, 200, ... 1000 req/s, 12 s each, the first 4 s discarded as
   warm-up); a step passes when the achieved rate is within 10 % of the target and p95 of
   every whole second stays under 250 ms (the median second's p95 is reported).
2. The CPU share the default drill load (LoadSpec()) takes: CPU seconds of the load process
   tree over a 20 s run, as a share of one core.

Writes benchmarks/results/load.json. Targets: >= 200 req/s sustained; default load < 30 %.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil

from chaosdrill.environments.local import EnvSettings, LocalEnvironment
from chaosdrill.load import LoadSpec
from chaosdrill.load.sli import ALL

RESULTS = Path(__file__).parent / "results"
P95_LIMIT_MS = 250.0


def step(env: LocalEnvironment, rate: float, seconds: float, warmup: float) -> dict[str, float]:
    users = max(10, int(rate / 5))
    run = env.start_load(LoadSpec(rate=rate, users=users, workers=0))
    time.sleep(seconds)
    points = [p for p in run.stop() if p.flow == ALL]
    start = points[0].second + warmup if points else 0
    steady = [p for p in points if start <= p.second < points[-1].second]
    achieved = statistics.mean(p.requests for p in steady) if steady else 0.0
    p95s = [p.p95_ms for p in steady] or [float("inf")]
    return {
        "target_rps": rate,
        "achieved_rps": round(achieved, 1),
        "p95_ms_median_second": round(statistics.median(p95s), 1),
        "p95_ms_worst_second": round(max(p95s), 1),
        "failures": sum(p.failures for p in steady),
    }


def cpu_share(env: LocalEnvironment, seconds: float) -> dict[str, float]:
    spec = LoadSpec()
    run = env.start_load(spec)
    time.sleep(2)
    procs = run.processes()
    before = sum(sum(p.cpu_times()[:2]) for p in procs)
    time.sleep(seconds)
    after = sum(sum(p.cpu_times()[:2]) for p in procs)
    run.stop()
    return {
        "rate_rps": spec.rate,
        "users": spec.users,
        "cpu_share_of_one_core": round((after - before) / seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="100,200,300,400,500,600,800,1000")
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    name = f"bench-load-{uuid.uuid4().hex[:6]}"
    steps = []
    with LocalEnvironment.up(name, EnvSettings(replicas=2)) as env:
        share = cpu_share(env, 20.0)
        print(f"default drill load: {share}")
        for rate in (float(r) for r in args.rates.split(",")):
            result = step(env, rate, args.seconds, warmup=4)
            result["passed"] = (
                result["achieved_rps"] >= 0.9 * rate
                and result["p95_ms_worst_second"] < P95_LIMIT_MS
                and result["failures"] == 0
            )
            steps.append(result)
            print(result)
            if not result["passed"]:
                break
    sustained = max((s["achieved_rps"] for s in steps if s["passed"]), default=0.0)
    out = {
        "benchmark": "load generator",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": psutil.cpu_count(),
        "p95_limit_ms": P95_LIMIT_MS,
        "steps": steps,
        "highest_sustained_rps": sustained,
        "default_drill_load": share,
        "targets": {"sustained_rps": 200, "default_load_cpu_share": 0.30},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
