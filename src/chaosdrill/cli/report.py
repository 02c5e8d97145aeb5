"""``chaosdrill report ...``: trends and comparisons from the run history, and re-rendering.

- ``report trend``: per scenario, MTTD, MTTR and score across runs, and which way they move.
- ``report compare RUN_A RUN_B``: what changed between two runs, drill by drill.
- ``report render PATH``: every output again from a drill result, a report.json or a journal
  written by the stock ``chaos run``.

The trend and compare tables are built in ``chaosdrill.report.history_tables``; times
computed the old way (drill seconds x K) are marked † there and never compared with split
times (the JSON has ``timing_method`` and ``old_timing``). Bad input
(a missing file, not JSON, an unknown format, an unknown run id) raises
``InvalidInputError`` before anything is written: exit code 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from chaosdrill.cli.application import app
from chaosdrill.drill.model import DrillResult
from chaosdrill.errors import InvalidInputError
from chaosdrill.paths import reports_dir
from chaosdrill.report.history import History, TrendPoint
from chaosdrill.report.history_tables import (
    RECENT_RUNS,
    compare_table,
    direction_line,
    overall_line,
    short_date,
    trend_table,
)
from chaosdrill.report.model import ReportSettings

# RECENT_RUNS, direction_line and overall_line are re-exported from report.history_tables
__all__ = ["RECENT_RUNS", "direction_line", "load_results", "overall_line", "report"]


HISTORY = click.option(
    "--history",
    "history_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="History file [default: reports/history.sqlite].",
)
JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _history(path: Path | None) -> History:
    return History(path) if path is not None else History.default()


@click.group()
def report() -> None:
    """Run history: trends and comparisons; re-render a run's reports."""


# -- trend ------------------------------------------------------------------------------


@report.command("trend")
@click.option("--scenario", default=None, help="Only this scenario.")
@click.option("--plan", default=None, help="Only runs of this plan.")
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Latest runs per scenario.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write a self-contained HTML page with a chart per scenario.",
)
@HISTORY
@JSON
def trend(
    scenario: str | None,
    plan: str | None,
    limit: int,
    html_path: Path | None,
    history_path: Path | None,
    as_json: bool,
) -> None:
    """MTTD, MTTR and score of each scenario across runs (production-equivalent seconds)."""
    history = _history(history_path)
    points = history.trend(scenario=scenario, plan=plan, limit=limit)
    if html_path is not None:
        from chaosdrill.paths import write_atomic
        from chaosdrill.report.trend_html import render_trend_html

        write_atomic(html_path, render_trend_html(points, str(history.path)))
        app.console.print(f"trend chart: {html_path}")
    if as_json:
        click.echo(
            json.dumps([{**asdict(p), "old_timing": p.old_timing} for p in points], indent=2)
        )
        return
    if not points:
        what = " and ".join(
            f"{k} {v!r}" for k, v in (("scenario", scenario), ("plan", plan)) if v is not None
        )
        app.console.print(
            f"no runs recorded in {history.path}"
            + (f" for {what}" if what else "")
            + " (runs are recorded when their reports are written)"
        )
        return
    by_scenario: dict[str, list[TrendPoint]] = {}
    for p in points:
        by_scenario.setdefault(p.scenario, []).append(p)
    for name, pts in by_scenario.items():
        app.console.print(trend_table(name or "(no scenario)", pts))
        app.console.print(direction_line(pts))
        app.console.print()


# -- compare ----------------------------------------------------------------------------


@report.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@HISTORY
@JSON
def compare(run_a: str, run_b: str, history_path: Path | None, as_json: bool) -> None:
    """What changed from RUN_A to RUN_B: MTTD, MTTR, score, grade, verdict, severity per drill."""
    c = _history(history_path).compare(run_a, run_b)
    if as_json:
        click.echo(json.dumps(c.to_dict(), indent=2))
        return
    for r in (c.run_a, c.run_b):
        app.console.print(f"{r.run_id}: plan {r.plan}, {short_date(r.generated_at)}")
    app.console.print(compare_table(c))
    app.console.print(overall_line(c))


# -- render -----------------------------------------------------------------------------


def _read_json(path: Path, what: str = "file") -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidInputError(f"no such {what}", source=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read the {what}: {exc}", source=str(path)) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"not JSON: {exc.msg}", source=str(path), line=exc.lineno) from exc


def _check_result(data: Any, source: str) -> DrillResult:
    """A drill result with what a report needs, or InvalidInputError naming the field."""
    from chaosdrill.drill.model import RESULT_VERSION

    if not isinstance(data, dict):
        raise InvalidInputError("expected a JSON object", source=source)
    version = data.get("chaosdrill_result_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > RESULT_VERSION:
        raise InvalidInputError(
            f"expected a drill result of version {RESULT_VERSION} or lower, got {version!r}",
            source=source,
            field="chaosdrill_result_version",
        )
    if not isinstance(data.get("timeline", []), list):
        raise InvalidInputError("expected a list", source=source, field="timeline")
    prod = (
        (data.get("targets") or {}).get("production")
        if isinstance(data.get("targets"), dict)
        else None
    )
    for key in ("mttd_s", "mttr_s"):
        value = prod.get(key) if isinstance(prod, dict) else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError(
                "expected a number of seconds", source=source, field=f"targets.production.{key}"
            )
    return DrillResult.from_json(data, source)


def _number(value: Any, default: float) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return float(value) if ok else default


def result_from_journal(journal: Mapping[str, Any]) -> dict[str, Any]:
    """A minimal drill result for a journal without one (the drill was interrupted or failed).

    It holds the experiment's title, scenario, cause and alert, its targets at its time
    scale, the journal, an empty timeline and ``complete: False``; the report marks it
    incomplete and says why.
    """
    from chaosdrill.drill.model import RESULT_VERSION
    from chaosdrill.timescale import PRODUCTION

    exp = journal.get("experiment") if isinstance(journal.get("experiment"), dict) else {}
    assert isinstance(exp, dict)
    ext = next(
        (
            e
            for e in exp.get("extensions") or []
            if isinstance(e, dict) and e.get("name") == "chaosdrill"
        ),
        {},
    )
    conf = exp.get("configuration") if isinstance(exp.get("configuration"), dict) else {}
    assert isinstance(conf, dict)
    k = _number(conf.get("chaosdrill_time_scale"), 1.0)
    mttd = _number(conf.get("chaosdrill_mttd_target_s"), PRODUCTION.mttd_target_s)
    mttr = _number(conf.get("chaosdrill_mttr_target_s"), PRODUCTION.mttr_target_s)
    hold = _number(conf.get("chaosdrill_hold_s"), PRODUCTION.hold_s)
    status = journal.get("status") or "unknown"
    return {
        "chaosdrill_result_version": RESULT_VERSION,
        "experiment": str(ext.get("id") or exp.get("title") or "experiment"),
        "title": str(exp.get("title") or ""),
        "scenario": str(ext.get("scenario") or ""),
        "cause": str(ext.get("cause") or ext.get("id") or ""),
        "alert": ext.get("alert"),
        "time_scale": k,
        "targets": {
            "mttd_s": round(mttd / k, 3),
            "mttr_s": round(mttr / k, 3),
            "hold_s": round(hold / k, 3),
            "production": {"mttd_s": mttd, "mttr_s": mttr, "hold_s": hold},
        },
        "mttd_s": None,
        "mttr_s": None,
        "production_equivalent": {},
        "verdict": {
            "passed": False,
            "checks": {},
            "reasons": [f"no drill result: Chaos Toolkit ended with status {status!r}"],
        },
        "failures": [],
        "complete": False,
        "measurements": {},
        "timeline": [],
        "journal": dict(journal),
    }


def _settings(plan: Any, source: str) -> ReportSettings:
    """A report.json's plan section back into ReportSettings."""
    from chaosdrill.scoring.score import Scoring, ScoringWeights
    from chaosdrill.scoring.severity import Revenue

    if not isinstance(plan, dict):
        return ReportSettings()
    sc = plan.get("scoring") or {}
    try:
        scoring = Scoring(
            weights=ScoringWeights(**(sc.get("weights") or {})),
            **{
                k: sc[k]
                for k in ("pass_mark", "lost_write_cap", "error_budget_limit_pct")
                if k in sc
            },
        )
        revenue = Revenue(**(plan.get("revenue") or {}))
    except (TypeError, AttributeError) as exc:
        raise InvalidInputError(
            f"unexpected plan settings: {exc}", source=source, field="plan"
        ) from exc
    except InvalidInputError as exc:
        raise InvalidInputError(exc.detail, source=source, field=f"plan.{exc.field}") from exc
    return ReportSettings(
        name=str(plan.get("name") or "ad hoc"),
        source=plan.get("source"),
        mode=str(plan.get("mode") or "auto"),
        scoring=scoring,
        revenue=revenue,
        roles=dict(plan.get("roles") or {}),
        service=str(plan.get("service") or ReportSettings.service),
    )


def _find(path_text: str, base: Path) -> Path | None:
    """A result path as written (absolute, or relative to the cwd), else next to ``base``."""
    path = Path(path_text)
    for candidate in (path, base / path, base / path.name):
        if candidate.is_file():
            return candidate
    return None


def load_results(
    path: Path,
) -> tuple[list[tuple[DrillResult, str | None]], ReportSettings | None, list[str]]:
    """The drill results behind a drill result, a report.json or a Chaos Toolkit journal.

    Returns:
        (result, result path) pairs, the plan's settings (from a report.json) and notes for
        the user (a missing result file rendered from the journal alone).

    Raises:
        InvalidInputError: the file is missing, not JSON, or not one of the three formats.
    """
    data = _read_json(path)
    source = str(path)
    if not isinstance(data, dict):
        raise InvalidInputError("expected a JSON object", source=source)
    if "chaosdrill_result_version" in data:
        return [(_check_result(data, source), str(path))], None, []
    if "chaosdrill_report_version" in data:
        drills = data.get("drills")
        if not isinstance(drills, list) or not drills:
            raise InvalidInputError(
                "expected a non-empty list of drills", source=source, field="drills"
            )
        results: list[tuple[DrillResult, str | None]] = []
        for i, d in enumerate(drills):
            field = f"drills[{i}].result_path"
            where = d.get("result_path") if isinstance(d, dict) else None
            if not isinstance(where, str) or not where:
                raise InvalidInputError(
                    "expected the path of the drill's result", source=source, field=field
                )
            found = _find(where, path.parent)
            if found is None:
                raise InvalidInputError(
                    f"result file {where} not found", source=source, field=field
                )
            results.append(
                (_check_result(_read_json(found, "result file"), str(found)), str(found))
            )
        return results, _settings(data.get("plan"), source), []
    if "chaoslib-version" in data and "experiment" in data:
        ext = next(
            (
                e
                for e in data.get("extensions") or []
                if isinstance(e, dict) and e.get("name") == "chaosdrill" and e.get("result")
            ),
            None,
        )
        if ext is not None:
            found = _find(str(ext["result"]), path.parent)
            if found is not None:
                result = _check_result(_read_json(found, "result file"), str(found))
                return [(result, str(found))], None, []
            note = f"result file {ext['result']} named by the journal is missing"
        else:
            note = f"the journal names no result (status {data.get('status')!r})"
        partial = DrillResult.from_json(result_from_journal(data), source)
        return [(partial, None)], None, [note + "; rendered from the journal"]
    raise InvalidInputError(
        "unknown format: expected a drill result ('chaosdrill_result_version'), a report.json "
        "('chaosdrill_report_version') or a Chaos Toolkit journal ('chaoslib-version' and "
        "'experiment')",
        source=source,
    )


@report.command("render")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory [default: reports/<run-id>].",
)
@click.option("--run-id", default=None, help="The run's id [default: render-<UTC timestamp>].")
@click.option("--no-history", is_flag=True, help="Do not record the run in the history.")
@click.option(
    "--history",
    "history_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="History file [default: history.sqlite beside the output directory].",
)
def render(
    path: Path,
    out: Path | None,
    run_id: str | None,
    no_history: bool,
    history_path: Path | None,
) -> None:
    """Write every output again from a drill result, a report.json or a `chaos run` journal."""
    from chaosdrill.report.model import build_report
    from chaosdrill.report.writer import write_reports

    results, settings, notes = load_results(path)
    rid = run_id or "render-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:  # refuse what cannot make a report before writing anything
        build_report(results, run_id=rid, settings=settings)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInputError(
            f"cannot build a report from it: {type(exc).__name__}: {exc}", source=str(path)
        ) from exc
    for note in notes:
        app.err_console.print(f"[yellow]note:[/] {note}")
    out_dir = out or reports_dir() / rid
    history = history_path or out_dir.parent / "history.sqlite"  # the writer's default
    written = write_reports(
        results,
        out_dir,
        run_id=rid,
        settings=settings,
        record_history=not no_history,
        history_path=history,
    )
    app.console.print(f"run {rid}: reports written to {written.out_dir}", soft_wrap=True)
    for f in sorted(written.out_dir.iterdir()):
        if f.is_file() and not f.name.startswith("."):
            app.console.print(f"  {f.name}")
    if not no_history:
        app.console.print(f"recorded in {history}", soft_wrap=True)
