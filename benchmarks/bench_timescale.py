"""Accuracy of production-equivalent times: drills at K = 1 against drills at K = 20 and 30.

For each scenario's first cause (bad-release, missing-index, primary-crash, leaky-feature)
runs ``--repeats`` drills (default 3) at each of the CI and quarterly time scales (20 and
30, with their plans' holds: 200 and 1800 production seconds) and ``--k1-runs`` drills
(default 1) at K = 1 (real production speed; hold shortened, default 60 s), each with
``chaosdrill run`` on a fresh local environment it brings up and takes down, then compares
each K's production-equivalent MTTD and MTTR (chaosdrill.drill.timing: the timeline split
into scaled and program time) with the K = 1 runs' (their mean, when there are several: a
single run at production speed carries its own luck of up to a scrape and an evaluation
interval). Reported per scenario and K: the K = 1 figures, the mean of the repeats, the
error of the mean, the spread (min-max) of the repeats, and the detection floor. Target:
within 15 % or one production scrape interval (15 s), whichever is larger, for every
scenario at K = 30.

The drills' result files are kept under the run folder; ``--from DIR`` recomputes the table
from a folder of results without running anything, ``--include DIR`` adds the results of
an earlier run (for example its K = 1 drills), and ``--retime`` computes every result's
times anew from its recorded timeline with the current method. Long (about 50 minutes
here): its own nox session, ``bench-timescale``, not part of ``bench``. Writes
benchmarks/results/timescale.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
EXPERIMENTS = Path(__file__).parent.parent / "experiments"
DRILLS = {
    "high-error-rate": "bad-release",
    "high-latency": "missing-index",
    "database-down": "primary-crash",
    "memory-leak": "leaky-feature",
}
SCRAPE_PRODUCTION_S = 15.0
TARGET_PCT = 15.0


def run_one(cause: str, k: float, hold: float | None, name: str, out: Path) -> Path | None:
    """One drill; the path of its result file (None: no result was written)."""
    cmd = [
        sys.executable,
        "-m",
        "chaosdrill",
        "run",
        str(EXPERIMENTS / f"{cause}.json"),
        "--name",
        name,
        "--time-scale",
        f"{k:g}",
        "--reports",
        str(out),
        "--quiet",
    ]
    if hold is not None:
        cmd += ["--hold", f"{hold:g}"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("chaosdrill-report: ")]
    print(
        f"  {cause} K={k:g}: exit {proc.returncode} in {time.monotonic() - t0:.0f} s",
        flush=True,
    )
    if not lines:
        print(proc.stderr[-2000:], file=sys.stderr)
        return None
    report = json.loads(Path(lines[-1].split(": ", 1)[1]).read_text())
    drills = report.get("drills") or []
    return Path(drills[0]["result_path"]) if drills else None


def figures(path: Path, retime: bool = False) -> dict[str, Any]:
    """What the table needs of one result file (``retime``: its timing computed anew)."""
    r = json.loads(path.read_text())
    if retime:
        from chaosdrill.drill.model import DrillResult
        from chaosdrill.drill.result import retime as timing_of

        timing = timing_of(DrillResult.from_json(r, str(path)))
        if timing is not None:
            r["timing"] = timing.to_json()
            r["production_equivalent"] = {
                "mttd_s": timing.production_s("t_page") if r.get("mttd_s") is not None else None,
                "mttr_s": timing.production_s("t_recovered")
                if r.get("mttr_s") is not None
                else None,
            }
    pe = r.get("production_equivalent") or {}
    floor = ((r.get("timing") or {}).get("floor")) or {}
    return {
        "cause": r.get("cause"),
        "scenario": r.get("scenario"),
        "k": float(r.get("time_scale") or 1.0),
        "mttd_s": r.get("mttd_s"),
        "mttr_s": r.get("mttr_s"),
        "mttd_production_s": pe.get("mttd_s"),
        "mttr_production_s": pe.get("mttr_s"),
        "floor_production_s": floor.get("production_s"),
        "passed": (r.get("verdict") or {}).get("passed"),
        "timing_method": (r.get("timing") or {}).get("method", "drill x K"),
        "result": str(path),
    }


def _compare(
    truth: float | None, values: list[float | None]
) -> dict[str, float | int | bool | None]:
    known = [v for v in values if v is not None]
    if truth is None or not known:
        return {"n": len(known), "mean": None, "error_s": None, "error_pct": None, "ok": False}
    mean = statistics.fmean(known)
    err = mean - truth
    allowed = max(TARGET_PCT / 100 * truth, SCRAPE_PRODUCTION_S)
    return {
        "n": len(known),
        "mean": round(mean, 1),
        "min": round(min(known), 1),
        "max": round(max(known), 1),
        "spread_s": round(max(known) - min(known), 1),
        "error_s": round(err, 1),
        "error_pct": round(100 * err / truth, 1) if truth else None,
        "allowed_s": round(allowed, 1),
        "ok": abs(err) <= allowed,
    }


def table(rows: list[dict[str, Any]], scales: list[float]) -> list[dict[str, Any]]:
    """Per scenario: K = 1 figures, and per K the comparison of MTTD and MTTR."""
    out = []
    for scenario, cause in DRILLS.items():
        mine = [r for r in rows if r["cause"] == cause]
        k1 = [r for r in mine if r["k"] == 1.0]
        base = None
        if k1:
            mttds = [r["mttd_production_s"] for r in k1 if r["mttd_production_s"] is not None]
            mttrs = [r["mttr_production_s"] for r in k1 if r["mttr_production_s"] is not None]
            base = {
                "runs": len(k1),
                "mttd_production_s": round(statistics.fmean(mttds), 1) if mttds else None,
                "mttr_production_s": round(statistics.fmean(mttrs), 1) if mttrs else None,
                "mttd_each_s": mttds,
                "mttr_each_s": mttrs,
                "floor_each_s": [r["floor_production_s"] for r in k1],
            }
        entry: dict[str, Any] = {
            "scenario": scenario,
            "cause": cause,
            "k1": None
            if base is None
            else {
                "runs": base["runs"],
                "mttd_s": base["mttd_production_s"],
                "mttr_s": base["mttr_production_s"],
                "mttd_each_s": base["mttd_each_s"],
                "mttr_each_s": base["mttr_each_s"],
                "floor_each_s": base["floor_each_s"],
            },
        }
        for k in scales:
            runs = [r for r in mine if r["k"] == k]
            entry[f"k{k:g}"] = {
                "runs": len(runs),
                "mttd": _compare(
                    base and base["mttd_production_s"], [r["mttd_production_s"] for r in runs]
                ),
                "mttr": _compare(
                    base and base["mttr_production_s"], [r["mttr_production_s"] for r in runs]
                ),
                "floor_s": [r["floor_production_s"] for r in runs],
                # the method before the split, on the same runs: drill seconds x K
                "drill_x_k": {
                    "mttd": _compare(
                        base and base["mttd_production_s"],
                        [None if r["mttd_s"] is None else r["mttd_s"] * k for r in runs],
                    ),
                    "mttr": _compare(
                        base and base["mttr_production_s"],
                        [None if r["mttr_s"] is None else r["mttr_s"] * k for r in runs],
                    ),
                },
            }
        out.append(entry)
    return out


def markdown(tab: list[dict[str, Any]], scales: list[float]) -> str:
    """The table as Markdown (for docs and notes)."""
    head = "| scenario | K = 1 MTTD / MTTR (runs) |"
    sep = "|---|---|"
    for k in scales:
        head += f" K = {k:g} MTTD (error, spread) | K = {k:g} MTTR (error, spread) |"
        sep += "---|---|"
    lines = [head, sep]
    for e in tab:
        k1 = e["k1"] or {}
        each = ", ".join(
            f"{d:.1f}/{r:.1f}"
            for d, r in zip(k1.get("mttd_each_s", []), k1.get("mttr_each_s", []), strict=False)
        )
        row = f"| {e['scenario']} | {k1.get('mttd_s')} / {k1.get('mttr_s')} s ({each}) |"
        for k in scales:
            c = e[f"k{k:g}"]
            for key in ("mttd", "mttr"):
                x = c[key]
                if x["mean"] is None:
                    row += " - |"
                    continue
                mark = "ok" if x["ok"] else "OVER"
                row += (
                    f" {x['mean']} s ({x['error_s']:+} s, {x['error_pct']:+} %; "
                    f"{x['min']}-{x['max']}) {mark} |"
                )
        lines.append(row)
    lines += ["", "The same runs as drill seconds x K (the method before the split):", ""]
    lines += [
        "| scenario | " + " | ".join(f"K = {k:g} MTTD | K = {k:g} MTTR" for k in scales) + " |",
        "|---|" + "---|---|" * len(scales),
    ]
    for e in tab:
        row = f"| {e['scenario']} |"
        for k in scales:
            for key in ("mttd", "mttr"):
                x = e[f"k{k:g}"]["drill_x_k"][key]
                row += " - |" if x["mean"] is None else f" {x['mean']} s ({x['error_pct']:+} %) |"
        lines.append(row)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", default="20,30", help="time scales to compare with K = 1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--k1-hold", type=float, default=60.0, help="hold at K = 1 (s)")
    parser.add_argument(
        "--holds",
        default="20=200,30=1800",
        help="hold (production s) per time scale: the CI plan's at 20, the quarterly's at 30",
    )
    parser.add_argument("--scenarios", default=",".join(DRILLS), help="comma-separated")
    parser.add_argument("--from", dest="source", type=Path, help="recompute from results")
    parser.add_argument(
        "--retime",
        action="store_true",
        help="compute each result's times anew from its timeline (the current method)",
    )
    parser.add_argument("--k1-runs", type=int, default=1, help="drills at K = 1 per scenario")
    parser.add_argument(
        "--include", type=Path, action="append", default=[], help="add an earlier run's results"
    )
    args = parser.parse_args()
    scales = [float(x) for x in args.scales.split(",") if x]
    holds = {float(a): float(b) for a, b in (x.split("=") for x in args.holds.split(",") if x)}
    wanted = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in wanted if s not in DRILLS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; expected {', '.join(DRILLS)}")
    if args.source is not None:
        paths = sorted(args.source.rglob("drills/*.json"))
        out_dir = args.source
    else:
        out_dir = Path(tempfile.mkdtemp(prefix="chaosdrill-bench-timescale-"))
        name = f"bench-ts-{uuid.uuid4().hex[:6]}"
        plan = [(k, args.repeats) for k in sorted(scales, reverse=True)]
        plan += [(1.0, args.k1_runs)] if args.k1_runs > 0 else []
        paths = []
        print(f"results under {out_dir}", flush=True)
        try:
            for k, times in plan:
                for scenario in wanted:
                    for _ in range(times):
                        hold = args.k1_hold if k == 1.0 else holds.get(k)
                        got = run_one(DRILLS[scenario], k, hold, name, out_dir)
                        if got is not None:
                            paths.append(got)
        finally:
            subprocess.run(
                [sys.executable, "-m", "chaosdrill", "env", "down", "--name", name],
                capture_output=True,
                check=False,
            )
    for extra in args.include:
        paths += sorted(extra.rglob("drills/*.json"))
    rows = [figures(p, args.retime) for p in paths]
    tab = table(rows, scales)
    quarterly = max(scales)
    met = all(e[f"k{quarterly:g}"][m]["ok"] for e in tab for m in ("mttd", "mttr"))
    out = {
        "benchmark": "production-equivalent MTTD and MTTR against real-speed (K = 1) drills",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "scales": scales,
        "repeats": args.repeats,
        "k1_hold_s": args.k1_hold,
        "results_dir": str(out_dir),
        "target": f"within {TARGET_PCT:g} % or {SCRAPE_PRODUCTION_S:g} s at K = {quarterly:g}",
        "target_met": met,
        "scenarios": tab,
        "runs": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "timescale.json").write_text(json.dumps(out, indent=2) + "\n")
    print(markdown(tab, scales))
    print(f"target met: {met}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
