"""``chaosdrill init``: a new workspace, with one example of each kind or the whole catalogue.

Without ``from_reference`` the workspace gets one example of each catalogue kind, each named
``example-...`` so that it adds to the built-in catalogue instead of hiding a built-in file:
a scenario, a runbook, an alert rule file with its promtool test, an experiment that uses
them, and a plan that runs it. Everything else resolves in the built-in catalogue. With
``from_reference`` the built-in catalogue is copied in to edit (every copied file then
overrides its built-in original).

Nothing is written when the directory already holds a ``chaosdrill.yaml`` or any file this
would write: an existing workspace is never changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from chaosdrill.errors import InvalidInputError
from chaosdrill.workspace import CATALOGUE_DIRS, WORKSPACE_FILE, builtin_root

__all__ = ["InitResult", "init_workspace"]

CONFIG = """\
# A chaosdrill workspace: this team's drills, runbooks and alert rules. Names (runbooks,
# scenarios, rule files, experiments, plans) resolve here first, then in chaosdrill's
# built-in catalogue; a file here of a built-in file's name overrides it.
# `chaosdrill catalogue list` shows what resolves where; docs: docs/workspaces.md.
version: 1
description: {description}
# where drills run (a plan's own `environment` wins over this)
environment: {{backend: local, name: {name}, replicas: 2}}
# the service drilled: the reference target (the Education Revenue Engine), or your own:
# a mapping with its start command, health and metrics paths, schema command and user
# flows (docs/workspaces.md, "Drill your own service"; examples/workspaces/bookshop)
target: revenue_engine
# who holds each incident role (reports, escalation and post-mortems name them)
roles:
  incident_commander: Incident Commander
  technical_lead: Technical Lead
  communications_lead: Communications Lead
  scribe: Scribe
# detection and recovery targets in production seconds (the seed: MTTD < 5, MTTR < 30 min)
targets: {{mttd_s: 300, mttr_s: 1800}}
# where results go (relative to this file; git-ignored)
reports: reports
"""

README = """\
# chaosdrill workspace

Drills for this team's service, run with [chaosdrill](https://pypi.org/project/chaosdrill/).

| path | what |
|---|---|
| `chaosdrill.yaml` | the workspace: environment, target, roles, targets, where reports go |
| `scenarios/` | incident scenarios: symptoms, investigation, common causes, runbooks |
| `runbooks/` | executable runbooks (steps chaosdrill runs, or a person follows) |
| `probes/` | Prometheus alert rules (`*.rules.yml`) and their promtool tests (`*.test.yml`) |
| `experiments/` | Chaos Toolkit experiments: one fault, the alert that must page, the runbook |
| `drills/` | plans: which drills run together, time scale, gates, scoring |
| `reports/` | results (git-ignored) |

A name resolves here first, then in chaosdrill's built-in catalogue; a file here with the
name of a built-in one overrides it.

    chaosdrill validate                 # check every file; list what each name resolved to
    chaosdrill catalogue list           # every scenario, cause, runbook and alert, and where
    chaosdrill run --plan example       # run drills/example.yaml
    chaos run experiments/{experiment}.json   # the same drill with the stock Chaos Toolkit CLI
"""

GITIGNORE = "*\n!.gitignore\n"

EXAMPLE_RULES = """\
# An example alert rule: the share of user requests that fail, as the built-in HighErrorRate
# measures it, under a name of this workspace. Its promtool test: example.test.yml.
groups:
  - name: example
    rules:
      - alert: ExampleHighErrorRate
        expr: |
          sum(rate(haproxy_frontend_http_responses_total{job="haproxy",proxy="fe_app",code="5xx"}[2m]))
            /
          (sum(rate(haproxy_frontend_http_responses_total{job="haproxy",proxy="fe_app"}[2m])) > 0)
            > 0.05
        for: 30s
        labels:
          severity: critical
          scenario: example-error-rate
        annotations:
          summary: "{{ $value | humanizePercentage }} of user requests fail with 5xx"
          runbook: example-rollback
"""

EXAMPLE_RULE_TEST = """\
# promtool unit test of example.rules.yml (chaosdrill validate runs it with promtool)
rule_files:
  - example.rules.yml
evaluation_interval: 15s

tests:
  - name: ExampleHighErrorRate fires 30 seconds after a third of user requests fail
    interval: 15s
    input_series:
      - series: 'haproxy_frontend_http_responses_total{job="haproxy",proxy="fe_app",code="2xx"}'
        values: '0+150x60'
      - series: 'haproxy_frontend_http_responses_total{job="haproxy",proxy="fe_app",code="5xx"}'
        values: '0x20 75+75x40'
    alert_rule_test:
      - eval_time: 5m30s
        alertname: ExampleHighErrorRate
        exp_alerts: []
      - eval_time: 10m
        alertname: ExampleHighErrorRate
        exp_alerts:
          - exp_labels: {severity: critical, scenario: example-error-rate}
            exp_annotations:
              summary: "33.33% of user requests fail with 5xx"
              runbook: example-rollback
"""

EXAMPLE_PLAN = """\
# An example plan: the example drill at 30 x production speed. Run: chaosdrill run --plan example
version: 1
name: example
description: The example drill of this workspace.
time_scale: 30
hold_s: 300           # production seconds (10 s of drill time)
drills:
  - experiment: experiments/{experiment}.json
gates:
  min_score: 70
  alerts_must_page: [ExampleHighErrorRate]
"""


@dataclass(frozen=True)
class InitResult:
    """What :func:`init_workspace` wrote."""

    root: Path
    files: tuple[Path, ...]


def _example_files() -> dict[str, str]:
    """The example catalogue: copies of built-in files under ``example-`` names."""
    base = builtin_root()
    scenario = (base / "scenarios" / "high-error-rate.yaml").read_text()
    scenario = scenario.replace("id: high-error-rate", "id: example-error-rate", 1)
    scenario = scenario.replace("title: High error rate", "title: Example - high error rate", 1)
    scenario = scenario.replace(
        "alerts: [HighErrorRate]", "alerts: [ExampleHighErrorRate, HighErrorRate]", 1
    )
    scenario = scenario.replace(
        "runbooks: [rollback-deployment, circuit-breaker]",
        "runbooks: [example-rollback, rollback-deployment, circuit-breaker]",
        1,
    )
    scenario = scenario.replace(
        "\nrunbooks: [rollback-deployment,",
        "\nrunbooks: [example-rollback, rollback-deployment,",
        1,
    )
    runbook = (base / "runbooks" / "rollback-deployment.yaml").read_text()
    runbook = runbook.replace("name: rollback-deployment", "name: example-rollback", 1)
    runbook = runbook.replace(
        "title: Roll back the deployment", "title: Example - roll back the deployment", 1
    )
    experiment = json.loads((base / "experiments" / "bad-release.json").read_text())
    experiment["title"] = "Example: " + experiment["title"]
    ext = experiment["extensions"][0]
    ext.update(
        id="example-bad-release",
        scenario="example-error-rate",
        alert="ExampleHighErrorRate",
        runbook="example-rollback",
        runbooks=["example-rollback"],
    )
    experiment["tags"] = ["chaosdrill", "example-error-rate", "bad-release"]
    for activity in experiment["method"]:
        args = activity["provider"].get("arguments", {})
        if activity["provider"].get("func") == "run_runbook":
            args["name"] = "example-rollback"
            activity["name"] = "runbook-example-rollback"
        if "alert" in args:
            args["alert"] = "ExampleHighErrorRate"
            if activity["name"].endswith("-pages"):
                activity["name"] = "ExampleHighErrorRate-pages"
    name = "example-bad-release"
    return {
        "scenarios/example-error-rate.yaml": scenario,
        "runbooks/example-rollback.yaml": runbook,
        "probes/example.rules.yml": EXAMPLE_RULES,
        "probes/example.test.yml": EXAMPLE_RULE_TEST,
        f"experiments/{name}.json": json.dumps(experiment, indent=2) + "\n",
        "drills/example.yaml": EXAMPLE_PLAN.format(experiment=name),
    }


def _reference_files() -> dict[str, str]:
    """Every file of the built-in catalogue, by its path in the workspace."""
    base = builtin_root()
    out: dict[str, str] = {}
    for directory in CATALOGUE_DIRS:
        for path in sorted((base / directory).iterdir()):
            if path.is_file() and not path.name.startswith("."):
                out[f"{directory}/{path.name}"] = path.read_text()
    return out


def init_workspace(directory: Path, *, from_reference: bool = False) -> InitResult:
    """Create a workspace in ``directory`` (made if missing).

    Raises:
        InvalidInputError: ``directory`` is a file, or already holds a ``chaosdrill.yaml``
            or a file this would write; nothing is written then.
    """
    root = directory.absolute()
    if root.exists() and not root.is_dir():
        raise InvalidInputError(
            "is a file; expected a directory for the workspace", source=str(root), field="DIR"
        )
    name = "".join(c if c.isalnum() else "-" for c in root.name.lower()).strip("-")[:32]
    config = CONFIG.format(
        description=json.dumps(f"Drills of {root.name or 'this service'}"),
        name=name if name and name[0].isalnum() else "drill",
    )
    catalogue = _reference_files() if from_reference else _example_files()
    experiment = "bad-release" if from_reference else "example-bad-release"
    files: dict[str, str] = {
        WORKSPACE_FILE: config,
        "README.md": README.format(experiment=experiment),
        "reports/.gitignore": GITIGNORE,
        **catalogue,
    }
    if from_reference:
        files["drills/example.yaml"] = EXAMPLE_PLAN.format(experiment=experiment).replace(
            "ExampleHighErrorRate", "HighErrorRate"
        )
    taken = [rel for rel in files if (root / rel).exists()]
    if taken:
        raise InvalidInputError(
            f"already holds {', '.join(taken[:5])}{' ...' if len(taken) > 5 else ''}; "
            "expected a directory without a workspace (nothing was written)",
            source=str(root),
            field="DIR",
        )
    written: list[Path] = []
    try:
        for directory_name in CATALOGUE_DIRS:
            (root / directory_name).mkdir(parents=True, exist_ok=True)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x") as fh:  # never over a file that appeared meanwhile
                fh.write(text)
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return InitResult(root, tuple(written))
