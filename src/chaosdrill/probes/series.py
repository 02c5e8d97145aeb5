"""Prometheus' view of a drill, kept in the result for the report's charts.

At the end of a drill (while the environment is still up) four range queries are read over
the drill's wall-clock window: the users' error rate and p95 latency, the replicas' memory
and each database node's up/down. Times are stored as seconds relative to the fault
(``t_inject``), like every other time in a report, so charts line up with the timeline.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["SERIES", "capture_series"]

#: name -> (PromQL with ``{w}`` for the rate window, unit, label that splits the series)
SERIES: dict[str, tuple[str, str, str | None]] = {
    "error_rate": (
        'sum(rate(haproxy_frontend_http_responses_total{{job="haproxy",proxy="fe_app",'
        'code="5xx"}}[{w}])) / (sum(rate(haproxy_frontend_http_responses_total{{job="haproxy",'
        'proxy="fe_app"}}[{w}])) > 0)',
        "ratio",
        None,
    ),
    "p95_latency_s": (
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
        '{{job="app",route!~"/health|/metrics|/admin/.*|unmatched"}}[{w}])))',
        "seconds",
        None,
    ),
    "memory_bytes": ('process_resident_memory_bytes{{job="app"}}', "bytes", "replica"),
    "database_up": ('pg_up{{job="postgres"}}', "up", "node"),
}


def _window(scrape_interval_s: float) -> str:
    return f"{max(2.0, 4 * scrape_interval_s):g}s"


def capture_series(
    prometheus_url: str,
    start_unix: float,
    end_unix: float,
    inject_unix: float,
    scrape_interval_s: float,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Read the drill's series from Prometheus.

    Args:
        prometheus_url: Prometheus' base URL.
        start_unix: start of the window (wall clock, seconds).
        end_unix: end of the window.
        inject_unix: wall-clock time of the fault; point times are relative to it.
        scrape_interval_s: the environment's scrape interval (the query step).
        timeout: per-query timeout.

    Returns:
        ``{name: {"unit": ..., "series": [{"label": ..., "points": [[t, v], ...]}]}}`` and an
        ``"errors"`` list naming any query that could not be read (never raises).
    """
    step = max(scrape_interval_s, (end_unix - start_unix) / 1000, 0.1)
    out: dict[str, Any] = {"errors": []}
    with httpx.Client(timeout=timeout) as client:
        for name, (template, unit, split) in SERIES.items():
            query = template.format(w=_window(scrape_interval_s))
            try:
                resp = client.get(
                    f"{prometheus_url}/api/v1/query_range",
                    params={"query": query, "start": start_unix, "end": end_unix, "step": step},
                )
                resp.raise_for_status()
                data = resp.json()["data"]["result"]
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                out["errors"].append(f"{name}: {exc}")
                continue
            series = []
            for item in data:
                label = item.get("metric", {}).get(split, "") if split else ""
                points = [
                    [round(float(ts) - inject_unix, 3), float(v)]
                    for ts, v in item.get("values", [])
                    if v not in ("NaN", "+Inf", "-Inf")
                ]
                series.append({"label": label, "points": points})
            series.sort(key=lambda s: s["label"])
            out[name] = {"unit": unit, "query": query, "series": series}
    return out
