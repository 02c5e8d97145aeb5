"""Reading alerts (Prometheus, Alertmanager) and pages, and sending a test alert end to end."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from chaosdrill.environments.base import Endpoints, Environment
from chaosdrill.errors import OperationError
from chaosdrill.pager import Page

__all__ = ["FiringAlert", "firing_alerts", "send_test_alert"]


@dataclass(frozen=True)
class FiringAlert:
    """An alert Prometheus holds as pending or firing."""

    name: str
    state: str
    active_at: str
    labels: dict[str, str]


def firing_alerts(endpoints: Endpoints) -> list[FiringAlert]:
    """Alerts Prometheus currently has pending or firing."""
    try:
        body = httpx.get(f"{endpoints.prometheus_url}/api/v1/alerts", timeout=3).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OperationError(f"Prometheus alerts API: {exc}") from exc
    return [
        FiringAlert(
            a["labels"].get("alertname", ""), a["state"], a.get("activeAt", ""), a["labels"]
        )
        for a in body["data"]["alerts"]
    ]


def send_test_alert(env: Environment, timeout: float = 30.0) -> Page:
    """Post a synthetic alert to Alertmanager and wait until the pager records it.

    Proves the path Alertmanager -> webhook -> pager works; returns the recorded page.
    The alert is posted with the environment's Alertmanager credentials
    (``env.alertmanager_auth()``): Alertmanager refuses an alert without them.
    """
    endpoints = env.endpoints()
    auth = env.alertmanager_auth()
    name = f"ChaosdrillTestAlert{int(time.time() * 1000)}"
    now = datetime.now(UTC)
    alert: dict[str, Any] = {
        "labels": {"alertname": name, "severity": "info", "source": "chaosdrill"},
        "annotations": {"summary": "test alert sent by chaosdrill"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
    }
    try:
        httpx.post(
            f"{endpoints.alertmanager_url}/api/v2/alerts",
            json=[alert],
            auth=auth.pair() if auth is not None else None,
            timeout=3,
        ).raise_for_status()
    except httpx.HTTPError as exc:
        raise OperationError(f"posting the test alert to Alertmanager: {exc}") from exc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = env.pages(alertname=name)
        if got:
            return got[0]
        time.sleep(0.1)
    raise OperationError(f"test alert {name} did not reach the pager within {timeout:.0f} s")
