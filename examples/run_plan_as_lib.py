"""chaosdrill as a library: run a plan, read its score, check it like the CI gate does.

Run: .venv/bin/python examples/run_plan_as_lib.py [drills/ci-gate.yaml]
"""

from __future__ import annotations

import sys

from chaosdrill.plans.gate import evaluate
from chaosdrill.plans.model import load_plan
from chaosdrill.plans.run import run_plan


def main() -> None:
    """Run the plan, print each drill's score, exit like `chaosdrill gate` (without baseline)."""
    plan = load_plan(sys.argv[1] if len(sys.argv) > 1 else "drills/ci-gate.yaml")
    run = run_plan(plan, on_progress=lambda i, n, name, res: print(f"[{i}/{n}] {name}"))
    assert run.report is not None
    for drill in run.report.drills:
        print(
            f"{drill.id}: {drill.score.points:.1f} ({drill.score.grade}), MTTD "
            f"{drill.times.mttd.production_s} s, severity {drill.severity.level}"
        )
    verdict = evaluate(run.report, plan.gates)
    for finding in verdict.findings:
        print("-", finding.message)
    print(f"reports: {run.out_dir}")
    sys.exit(verdict.exit_code)


if __name__ == "__main__":
    main()
