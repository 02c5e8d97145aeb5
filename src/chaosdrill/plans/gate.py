"""The CI gate: run a plan, check its gates, compare with a baseline, say what regressed.

Exit codes (``chaosdrill gate``): 0 every gate passed; 1 a gate failed or something
regressed; 2 invalid input (nothing ran); 3 the environment could not be brought up, or a
drill crashed or was interrupted outside the drill's own checks. junit.xml and a Markdown
summary (gate.md, also appended to ``$GITHUB_STEP_SUMMARY`` when set) are always written.

The baseline is the last run of the same plan that passed its gate (from the report
history), or a report.json the team commits (``baseline: {source: file, file: ...}``). A
run that fails its gate is recorded as not passed, so it never becomes a baseline.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosdrill.errors import Exit
from chaosdrill.plans.model import Baseline, Gates, Plan
from chaosdrill.report.types import DrillSection, Report, read_report

__all__ = [
    "EXIT_ENVIRONMENT",
    "EXIT_FAILED",
    "EXIT_INVALID",
    "EXIT_PASSED",
    "Finding",
    "GateResult",
    "evaluate",
    "find_baseline",
    "render_summary",
]

EXIT_PASSED, EXIT_FAILED, EXIT_INVALID, EXIT_ENVIRONMENT = (
    Exit.OK,
    Exit.FAILED,
    Exit.USAGE,
    Exit.RUNTIME,
)


@dataclass(frozen=True)
class Finding:
    """One failed gate or regression: which drill, which measure, baseline vs now."""

    kind: str  # "gate", "drill" or "regression"
    drill: str | None
    measure: str
    now: str
    message: str
    baseline: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)


@dataclass
class GateResult:
    """The gate's verdict on one run."""

    findings: list[Finding] = field(default_factory=list)
    baseline_run: str | None = None
    baseline_note: str = ""
    error: str | None = None
    #: what the comparison with the baseline left out, and why
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No finding and no error."""
        return not self.findings and self.error is None

    @property
    def exit_code(self) -> int:
        """0 passed, 1 a gate failed, 3 the run itself failed."""
        if self.error is not None:
            return EXIT_ENVIRONMENT
        return EXIT_PASSED if self.passed else EXIT_FAILED

    def to_dict(self) -> dict[str, Any]:
        """JSON form (gate.json)."""
        return {
            "passed": self.passed,
            "exit_code": self.exit_code,
            "error": self.error,
            "baseline_run": self.baseline_run,
            "baseline_note": self.baseline_note,
            "notes": list(self.notes),
            "findings": [f.to_dict() for f in self.findings],
        }


def _s(value: float | None) -> str:
    return "none" if value is None else f"{value:.0f} s"


def _check_drill(d: DrillSection, gates: Gates) -> list[Finding]:
    out: list[Finding] = []
    did = d.id
    if not d.score.passed:
        why = "; ".join(d.score.reasons[:3]) or "see the report"
        out.append(Finding("drill", did, "verdict", "FAIL", f"{did}: the drill failed: {why}"))
    if gates.min_score is not None and d.score.points < gates.min_score:
        pts = d.score.points
        out.append(
            Finding(
                "gate",
                did,
                "score",
                f"{pts:.1f}",
                f"{did}: score {pts:.1f} below the gate's {gates.min_score:g}",
            )
        )
    for key, name, limit in (
        ("mttd", "MTTD", gates.max_mttd_s),
        ("mttr", "MTTR", gates.max_mttr_s),
    ):
        if limit is None:
            continue
        got = getattr(d.times, key).production_s
        if got is None:
            what = "no page" if key == "mttd" else "never recovered"
            out.append(
                Finding("gate", did, name, what, f"{did}: {name}: {what} (gate {limit:g} s)")
            )
        elif got > limit:
            out.append(
                Finding(
                    "gate",
                    did,
                    name,
                    _s(got),
                    f"{did}: {name} {got:.0f} s exceeds the gate's {limit:g} s "
                    f"by {got - limit:.0f} s",
                )
            )
    lost = d.impact.lost_writes
    if gates.zero_lost_writes and lost:
        out.append(
            Finding(
                "gate", did, "lost writes", str(lost), f"{did}: {lost} acknowledged write(s) lost"
            )
        )
    if gates.runbook_steps_must_succeed:
        for book in d.runbooks:
            for step in book.steps:
                if not step.ok:
                    out.append(
                        Finding(
                            "gate",
                            did,
                            "runbook step",
                            "failed",
                            f"{did}: runbook {book.name} step '{step.name}' failed: "
                            f"{step.error or 'no detail'}",
                        )
                    )
    return out


def _paged(d: DrillSection) -> bool:
    return bool(d.verdict.checks.get("detected"))


def _runbooks_ok(d: DrillSection) -> bool:
    return bool(d.runbooks) and all(b.ok for b in d.runbooks)


def _regressions(report: Report, base: Report, policy: Baseline, notes: list[str]) -> list[Finding]:
    """What regressed against the baseline; what could not be compared goes to ``notes``."""
    out: list[Finding] = []
    by_id = {d.id: d for d in base.drills}
    by_cause = {d.cause: d for d in base.drills}
    for d in report.drills:
        b = by_id.get(d.id) or by_cause.get(d.cause)
        if b is None:
            continue
        did = d.id
        if _paged(b) and not _paged(d):
            out.append(
                Finding(
                    "regression",
                    did,
                    "page",
                    "no page",
                    f"{did}: {d.alert or 'the alert'} paged in the baseline, not now",
                    "paged",
                )
            )
        if _runbooks_ok(b) and not _runbooks_ok(d):
            out.append(
                Finding(
                    "regression",
                    did,
                    "runbook",
                    "failed",
                    f"{did}: the runbook succeeded in the baseline and failed now",
                    "ok",
                )
            )
        comparable = b.old_timing == d.old_timing
        if not comparable:
            old_one = "the baseline's" if b.old_timing else "this run's"
            new_one = "this run's" if b.old_timing else "the baseline's"
            notes.append(
                f"{did}: MTTD and MTTR not compared with the baseline: {old_one} "
                "production-equivalent times were computed the old way (drill seconds x K), "
                f"{new_one} from the timeline split into scaled and program time"
            )
        for key, name, pct in (
            ("mttd", "MTTD", policy.mttd_margin_pct),
            ("mttr", "MTTR", policy.mttr_margin_pct),
        ):
            if not comparable:
                break
            was = getattr(b.times, key).production_s
            now = getattr(d.times, key).production_s
            if was is None or now is None:
                continue
            if now > was * (1 + pct / 100) and now - was >= policy.min_margin_s:
                grew = 100 * (now - was) / was if was else float("inf")
                out.append(
                    Finding(
                        "regression",
                        did,
                        name,
                        _s(now),
                        f"{did}: {name} {now:.0f} s vs baseline {was:.0f} s "
                        f"(+{grew:.0f} %, allowed +{pct:g} % and at least "
                        f"{policy.min_margin_s:g} s)",
                        _s(was),
                    )
                )
        if d.impact.lost_writes > b.impact.lost_writes:
            out.append(
                Finding(
                    "regression",
                    did,
                    "lost writes",
                    str(d.impact.lost_writes),
                    f"{did}: {d.impact.lost_writes} lost write(s); baseline "
                    f"{b.impact.lost_writes}",
                    str(b.impact.lost_writes),
                )
            )
    return out


def evaluate(
    report: Report,
    gates: Gates,
    baseline: Report | None = None,
    policy: Baseline | None = None,
) -> GateResult:
    """Check a run's report against the plan's gates and, when given, a baseline report."""
    result = GateResult()
    for d in report.drills:
        result.findings += _check_drill(d, gates)
    for alert in gates.alerts_must_page:
        expecting = [d for d in report.drills if d.alert == alert]
        if not any(_paged(d) for d in expecting):
            where = ", ".join(d.id for d in expecting) or "no drill of this run expects it"
            result.findings.append(
                Finding("gate", None, "alert", "no page", f"{alert} never paged ({where})")
            )
    if not report.complete:
        result.error = "the run is incomplete: " + (
            report.interrupted or ", ".join(report.summary.incomplete_drills)
        )
    if baseline is not None:
        result.findings += _regressions(report, baseline, policy or Baseline(), result.notes)
        result.baseline_run = baseline.run_id
    return result


def find_baseline(
    plan: Plan, run_id: str | None, history_path: Path | None = None
) -> tuple[Report | None, str]:
    """The baseline report for ``plan`` and a sentence saying where it came from."""
    policy = plan.baseline
    if policy.source == "none":
        return None, "no baseline (baseline.source: none)"
    if policy.source == "file":
        assert policy.file is not None
        return read_report(policy.file), f"baseline file {policy.file}"
    from chaosdrill.report.history import History

    history = History(history_path) if history_path else History.default()
    known = run_id is not None and any(r.run_id == run_id for r in history.runs(plan.name))
    row = history.last_passing(plan.name, before=run_id if known else None)
    if row is None:
        return None, f"no earlier passing run of {plan.name} in {history.path}: first run"
    if row.report_dir is None or not (Path(row.report_dir) / "report.json").is_file():
        return None, f"baseline run {row.run_id} has no report.json any more"
    path = Path(row.report_dir) / "report.json"
    return read_report(path), f"last passing run {row.run_id}"


def render_summary(report: Report | None, result: GateResult, plan_name: str) -> str:
    """The gate's Markdown summary (gate.md and $GITHUB_STEP_SUMMARY)."""
    verdict = "PASSED" if result.passed else "FAILED"
    lines = [f"## chaosdrill gate {plan_name}: {verdict} (exit {result.exit_code})", ""]
    if result.error:
        lines += [f"**Error:** {result.error}", ""]
    if report is not None:
        s = report.summary
        lines += [
            f"Run `{report.run_id}`: score {s.points:.1f} ({s.grade}), "
            f"{s.drills_passed}/{s.drills} drills passed. Baseline: "
            f"{result.baseline_note or 'none'}.",
            "",
            "| drill | MTTD s | MTTR s | score | verdict |",
            "|---|---|---|---|---|",
        ]
        for d in report.drills:
            t = d.times
            lines.append(
                f"| {d.id} | {_s(t.mttd.production_s)} | "
                f"{_s(t.mttr.production_s)} | {d.score.points:.1f} | "
                f"{'PASS' if d.score.passed else 'FAIL'} |"
            )
        lines.append("")
    if result.findings:
        lines += [
            "| drill | measure | baseline | now | what |",
            "|---|---|---|---|---|",
        ]
        for f in result.findings:
            what = f.message.replace("|", "\\|")
            lines.append(
                f"| {f.drill or '(plan)'} | {f.measure} | {f.baseline or '-'} | {f.now} | {what} |"
            )
    elif result.error is None:
        lines.append("Every gate passed; nothing regressed.")
    if result.notes:
        lines += ["", "Not compared:", *(f"- {n}" for n in result.notes)]
    return "\n".join(lines) + "\n"


def write_outputs(
    out_dir: Path,
    report: Report | None,
    result: GateResult,
    plan_name: str,
) -> dict[str, Path]:
    """junit.xml, gate.md and gate.json in ``out_dir``; gate.md appended to the step summary."""
    from chaosdrill.paths import write_atomic
    from chaosdrill.report.junit import render_junit

    out_dir.mkdir(parents=True, exist_ok=True)
    per_drill: dict[str, list[str]] = {}
    plan_level: list[str] = []
    for f in result.findings:
        if f.kind == "drill":
            continue  # the drill's own failure is already in its test case
        if f.drill is None:
            plan_level.append(f.message)
        else:
            per_drill.setdefault(f.drill, []).append(f.message)
    if result.error:
        plan_level.insert(0, result.error)
    summary = render_summary(report, result, plan_name)
    paths = {
        "junit.xml": out_dir / "junit.xml",
        "gate.md": out_dir / "gate.md",
        "gate.json": out_dir / "gate.json",
    }
    write_atomic(
        paths["junit.xml"], render_junit(report, per_drill, plan_level, plan_name=plan_name)
    )
    write_atomic(paths["gate.md"], summary)
    write_atomic(paths["gate.json"], json.dumps(result.to_dict(), indent=2) + "\n")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(summary + "\n")
    return paths


def record(report: Report, result: GateResult, out_dir: Path) -> None:
    """Record the run in the history (beside its folder) with the gate's verdict as ``passed``."""
    from chaosdrill.report.history import History

    passed = report.summary.passed and result.passed
    gated = dataclasses.replace(report, summary=dataclasses.replace(report.summary, passed=passed))
    History(out_dir.parent / "history.sqlite").record(gated, out_dir)
