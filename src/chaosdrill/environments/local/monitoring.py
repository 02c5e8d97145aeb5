"""Prometheus, Alertmanager and the exporters: configuration for the local environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from chaosdrill.paths import write_atomic

__all__ = [
    "alertmanager_config",
    "alertmanager_web_config",
    "fmt_duration",
    "prometheus_config",
    "web_config_path",
    "write_app_targets",
]

# job -> the shortest scrape interval (seconds) at which it still answers when its target is
# down (postgres_exporter takes ~1 s to report pg_up 0)
SLOW_WHEN_DOWN = {"postgres": 2.0}


def fmt_duration(seconds: float) -> str:
    """Seconds as a Prometheus duration (milliseconds precision): 0.5 -> '500ms'."""
    ms = max(1, round(seconds * 1000))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def prometheus_config(
    *,
    scrape_interval_s: float,
    evaluation_interval_s: float,
    alertmanager_port: int,
    alertmanager_user: str,
    alertmanager_password_file: Path,
    app_targets_file: Path,
    rules_glob: str,
    static: dict[str, list[tuple[int, dict[str, str]]]],
    app_metrics_path: str = "/metrics",
) -> str:
    """prometheus.yml: the service replicas via file discovery, the rest static.

    Prometheus authenticates to Alertmanager (alerts, and the ``alertmanager`` job's
    scrape) as ``alertmanager_user`` with the password it reads from
    ``alertmanager_password_file`` (the file's path is in the configuration, never the
    password).
    """
    scrape = fmt_duration(scrape_interval_s)
    am_auth = {"username": alertmanager_user, "password_file": str(alertmanager_password_file)}
    cfg: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape,
            "scrape_timeout": fmt_duration(min(scrape_interval_s, 10.0) * 0.8),
            "evaluation_interval": fmt_duration(evaluation_interval_s),
            "external_labels": {"environment": "chaosdrill-local"},
        },
        "alerting": {
            "alertmanagers": [
                {
                    "basic_auth": am_auth,
                    "static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}],
                }
            ]
        },
        "rule_files": [rules_glob],
        "scrape_configs": [
            {
                "job_name": "app",
                "metrics_path": app_metrics_path,
                "file_sd_configs": [{"files": [str(app_targets_file)], "refresh_interval": "1s"}],
            }
        ],
    }
    for job, targets in static.items():
        job_cfg: dict[str, Any] = {
            "job_name": job,
            "static_configs": [
                {"targets": [f"127.0.0.1:{port}"], "labels": labels} for port, labels in targets
            ],
        }
        if job == "alertmanager":  # its whole HTTP server asks for the password
            job_cfg["basic_auth"] = am_auth
        floor = SLOW_WHEN_DOWN.get(job)
        if floor and scrape_interval_s < floor:
            # this exporter needs about a second to answer while its server is down: a
            # shorter timeout would turn "database down" into "no data"
            job_cfg["scrape_interval"] = fmt_duration(floor)
            job_cfg["scrape_timeout"] = fmt_duration(floor * 0.8)
        cfg["scrape_configs"].append(job_cfg)
    return yaml.safe_dump(cfg, sort_keys=False)


def write_app_targets(path: Path, replicas: list[tuple[str, int]]) -> None:
    """Write the file_sd target list of service replicas (atomically)."""
    data = [
        {"targets": [f"127.0.0.1:{port}"], "labels": {"replica": name}} for name, port in replicas
    ]
    write_atomic(path, json.dumps(data))


def web_config_path(root: Path) -> Path:
    """Alertmanager's web configuration in the state directory ``root`` (mode 0600)."""
    return root / "alertmanager" / "web.yml"


def alertmanager_web_config(user: str, password_hash: str) -> str:
    """Alertmanager's ``--web.config.file``: basic auth for every path of its HTTP server.

    exporter-toolkit asks every request (the API, ``/metrics``, ``/-/ready``) for the
    password of ``user``, compared with ``password_hash`` (bcrypt); without it, 401.
    """
    return yaml.safe_dump({"basic_auth_users": {user: password_hash}}, sort_keys=False)


def alertmanager_config(pager_port: int, group_wait_s: float, token_file: Path) -> str:
    """alertmanager.yml: one group per alert name, every notification to the pager.

    Alertmanager authenticates to the pager with the bearer token it reads from
    ``token_file`` (the file's path is in the configuration, never the token).
    """
    cfg = {
        "route": {
            "receiver": "pager",
            "group_by": ["alertname"],
            "group_wait": fmt_duration(group_wait_s),
            # a page for an alert whose group already exists (it fired and resolved before)
            # waits for the group_interval tick: keep it as short as group_wait
            "group_interval": fmt_duration(group_wait_s),
            "repeat_interval": "4h",
        },
        "receivers": [
            {
                "name": "pager",
                "webhook_configs": [
                    {
                        "url": f"http://127.0.0.1:{pager_port}/webhook",
                        "send_resolved": True,
                        "max_alerts": 0,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials_file": str(token_file)}
                        },
                    }
                ],
            }
        ],
    }
    return yaml.safe_dump(cfg, sort_keys=False)
