"""Build the typed scenario model from validated YAML files.

A file is read by :mod:`chaosdrill.yamlsource`, checked against its JSON Schema
(``schemas/scenario.schema.json``), then checked for what a schema cannot say: unique cause
ids, severity thresholds in order, and the id matching the file.
:func:`check_references` checks names across files (a scenario's runbooks exist, its alerts
are defined in the Prometheus rules).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any

from chaosdrill.errors import InvalidInputError
from chaosdrill.scenarios.model import (
    Cause,
    Investigation,
    Scenario,
    SeverityLevel,
    SeverityModel,
)
from chaosdrill.yamlsource import YamlDocument, load_schema, load_yaml, validate, yaml_files

__all__ = ["check_references", "load_scenario", "load_scenarios"]


def _build_scenario(doc: YamlDocument, stem: str) -> Scenario:
    data = doc.data
    validate(doc, load_schema("scenario"))
    if data["id"] != stem:
        raise doc.error(("id",), f"expected {stem!r}, the file's name without .yaml")
    causes = []
    seen: dict[str, int] = {}
    for i, c in enumerate(data["common_causes"]):
        path: tuple[str | int, ...] = ("common_causes", i)
        if c["id"] in seen:
            raise doc.error(
                (*path, "id"),
                f"duplicate cause {c['id']!r} (first at line {seen[c['id']]}); expected unique ids",
            )
        seen[c["id"]] = doc.line_of(path)
        for j, name in enumerate(c["runbooks"]):
            if name not in data["runbooks"]:
                raise doc.error(
                    (*path, "runbooks", j),
                    f"runbook {name!r} is not in the scenario's runbooks; expected one of: "
                    + ", ".join(data["runbooks"]),
                )
        causes.append(
            Cause(
                c["id"],
                c["description"],
                tuple(c["runbooks"]),
                c.get("seed", ""),
                tuple(c.get("alerts", ())),
            )
        )
    return Scenario(
        id=data["id"],
        title=data["title"],
        description=data["description"].strip(),
        symptoms=tuple(data["symptoms"]),
        alerts=tuple(data["alerts"]),
        investigation=tuple(Investigation(**i) for i in data["investigation"]),
        common_causes=tuple(causes),
        runbooks=tuple(data["runbooks"]),
        severity=_severity(doc, data["severity"]),
        source=doc.source,
        lines=MappingProxyType({".".join(map(str, k)): v for k, v in doc.lines.items()}),
    )


def _severity(doc: YamlDocument, data: Mapping[str, Any]) -> SeverityModel:
    levels = tuple(SeverityLevel(name, **data[name]) for name in ("P1", "P2", "P3"))
    # a more severe level must need a worse impact than a less severe one
    for upper, lower in pairwise(levels):
        for attr, worse in (
            ("error_rate_above", max),
            ("p95_latency_s_above", max),
            ("revenue_per_hour_above", max),
            ("availability_below", min),
        ):
            a, b = getattr(upper, attr), getattr(lower, attr)
            if a is not None and b is not None and worse(a, b) != a:
                raise doc.error(
                    ("severity", upper.level, attr),
                    f"{upper.level}'s {attr} ({a}) is less severe than {lower.level}'s ({b}); "
                    f"expected thresholds in order P1 > P2 > P3",
                )
    return SeverityModel(levels, data.get("floor", "P4"), data.get("note", ""))


# --- loaders -------------------------------------------------------------------------------


def load_scenario(path: str | Path) -> Scenario:
    """Load and check one scenario file.

    Raises:
        InvalidInputError: with file, line, field and what was expected.
    """
    return _build_scenario(load_yaml(path), Path(path).stem)


def load_scenarios(directory: str | Path) -> dict[str, Scenario]:
    """Every scenario of a directory by id; one bad file fails the whole load."""
    return {sc.id: sc for sc in map(load_scenario, yaml_files(directory))}


def check_references(
    scenarios: Mapping[str, Scenario],
    runbooks: Collection[str],
    alerts: Collection[str] | None = None,
) -> None:
    """Check that scenarios name only runbooks that exist and alerts that are defined.

    Args:
        scenarios: scenarios by id.
        runbooks: the names of the available runbooks.
        alerts: alert names of the Prometheus rules (None: not checked).

    Raises:
        InvalidInputError: naming the scenario file, line and field of the first bad name.
    """
    for sc in scenarios.values():
        refs: list[tuple[str, str, Collection[str] | None, str]] = []
        refs += [(f"runbooks.{i}", n, runbooks, "runbook") for i, n in enumerate(sc.runbooks)]
        refs += [(f"alerts.{i}", n, alerts, "alert") for i, n in enumerate(sc.alerts)]
        for ci, cause in enumerate(sc.common_causes):
            refs += [
                (f"common_causes.{ci}.alerts.{i}", n, alerts, "alert")
                for i, n in enumerate(cause.alerts)
            ]
        for where, name, known, what in refs:
            if known is not None and name not in known:
                raise InvalidInputError(
                    f"no {what} named {name!r}; expected one of: {', '.join(sorted(known))}",
                    source=sc.source,
                    line=sc.lines.get(where),
                    field=where,
                )
