from pathlib import Path

import yaml

from chaosdrill.environments.local.monitoring import (
    alertmanager_config,
    fmt_duration,
    prometheus_config,
)


def test_durations_are_prometheus_durations() -> None:
    assert fmt_duration(5) == "5s"
    assert fmt_duration(0.5) == "500ms"
    assert fmt_duration(0.0001) == "1ms"
    assert fmt_duration(1.25) == "1250ms"


def test_prometheus_config_scrapes_replicas_by_file_and_the_rest_statically() -> None:
    cfg = yaml.safe_load(
        prometheus_config(
            scrape_interval_s=0.5,
            evaluation_interval_s=0.25,
            alertmanager_port=9093,
            alertmanager_user="chaosdrill",
            alertmanager_password_file=Path("/x/secrets/alertmanager.password"),
            app_targets_file=Path("/x/app.json"),
            rules_glob="/x/rules/*.yml",
            static={
                "haproxy": [(1, {})],
                "postgres": [(2, {"node": "postgres-1"})],
                "alertmanager": [(9093, {})],
            },
        )
    )
    assert cfg["global"]["scrape_interval"] == "500ms"
    assert cfg["global"]["evaluation_interval"] == "250ms"
    [alertmanager] = cfg["alerting"]["alertmanagers"]
    assert alertmanager["static_configs"][0]["targets"] == ["127.0.0.1:9093"]
    # Alertmanager asks for a password: the file's path is in the configuration, not it
    am_auth = {"username": "chaosdrill", "password_file": "/x/secrets/alertmanager.password"}
    assert alertmanager["basic_auth"] == am_auth
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert jobs["alertmanager"]["basic_auth"] == am_auth  # its /metrics asks too
    assert all("basic_auth" not in j for name, j in jobs.items() if name != "alertmanager")
    assert jobs["app"]["file_sd_configs"][0]["files"] == ["/x/app.json"]
    assert jobs["postgres"]["static_configs"][0]["labels"] == {"node": "postgres-1"}
    # postgres_exporter needs ~1 s to report a dead server: its job is never scraped faster
    assert jobs["postgres"]["scrape_interval"] == "2s"
    assert jobs["postgres"]["scrape_timeout"] == "1600ms"
    assert "scrape_interval" not in jobs["haproxy"]


def test_alertmanager_groups_by_alert_name_and_sends_resolved_pages() -> None:
    token_file = Path("/state/pager/token")
    cfg = yaml.safe_load(alertmanager_config(4000, 0.2, token_file))
    assert cfg["route"]["group_by"] == ["alertname"]
    assert cfg["route"]["group_wait"] == "200ms"
    # a re-fired alert's existing group must not hold its page back for long
    assert cfg["route"]["group_interval"] == "200ms"
    hook = cfg["receivers"][0]["webhook_configs"][0]
    assert hook["url"] == "http://127.0.0.1:4000/webhook"
    assert hook["send_resolved"] is True
    # Alertmanager authenticates to the pager with the token file; the token is not inline
    assert hook["http_config"] == {
        "authorization": {"type": "Bearer", "credentials_file": "/state/pager/token"}
    }
