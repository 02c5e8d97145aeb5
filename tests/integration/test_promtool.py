"""The real promtool and amtool on the probes, their unit tests, scaled rules and Alertmanager.

promtool comes with Debian's ``prometheus`` package and amtool with
``prometheus-alertmanager``; without them these tests are skipped with the reason.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosdrill.environments.local.credentials import ALERTMANAGER_USER, bcrypt_hash
from chaosdrill.environments.local.monitoring import (
    alertmanager_config,
    alertmanager_web_config,
    prometheus_config,
)
from chaosdrill.monitoring.promql import scale_duration, scale_expr
from chaosdrill.monitoring.rules import load_rule_files, scale_rules, write_rules

pytestmark = pytest.mark.integration

PROBES = Path(__file__).resolve().parents[2] / "probes"
PRODUCTION_SCRAPE_S = 15.0
# values of memory.rules.yml are bytes per second, deliberately not scaled (a leak grows at
# the speed of real traffic), so its expectations cannot be scaled mechanically
NOT_TIME_INVARIANT = {"memory.test.yml"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = "prometheus" if name == "promtool" else "prometheus-alertmanager"
        pytest.skip(f"{name} is not installed (apt-get install {package})")
    return path


def _run(*args: str | Path) -> str:
    """Run a tool, fail the test with its whole output unless it succeeds."""
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}:\n{output}"
    return output


def _rule_files() -> list[Path]:
    files = sorted(PROBES.glob("*.rules.yml"))
    assert files, f"no rule files in {PROBES}"
    return files


def _test_files() -> list[Path]:
    files = sorted(PROBES.glob("*.test.yml"))
    assert files, f"no promtool tests in {PROBES}"
    return files


def test_promtool_checks_the_rule_files() -> None:
    promtool = _tool("promtool")
    output = _run(promtool, "check", "rules", *_rule_files())
    assert output.count("SUCCESS") == len(_rule_files())


def test_promtool_unit_tests_pass() -> None:
    promtool = _tool("promtool")
    output = _run(promtool, "test", "rules", *_test_files())
    assert output.count("SUCCESS") == len(_test_files())
    assert "FAILED" not in output


def test_promtool_really_fails_a_wrong_expectation(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    doc = yaml.safe_load((PROBES / "cache.test.yml").read_text())
    doc["rule_files"] = [str(PROBES / "cache.rules.yml")]
    doc["tests"] = doc["tests"][:1]
    doc["tests"][0]["alert_rule_test"][-1]["exp_alerts"] = []  # CacheDown does fire here
    path = tmp_path / "wrong.test.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    done = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "FAILED" in done.stdout + done.stderr


@pytest.mark.parametrize("k", [10, 60])
def test_scaled_rules_pass_promtool_check(tmp_path: Path, k: int) -> None:
    promtool = _tool("promtool")
    scaled = [
        scale_rules(f, k, min_window_s=4 * PRODUCTION_SCRAPE_S / k)
        for f in load_rule_files(_rule_files())
    ]
    written = write_rules(scaled, tmp_path)
    assert len(written) == len(_rule_files())
    output = _run(promtool, "check", "rules", *written)
    assert output.count("SUCCESS") == len(written)
    # windows and for: are really scaled in what Prometheus reads
    service = (tmp_path / "service.rules.yml").read_text()
    assert f"[{scale_duration('2m', k)}]" in service
    assert "[2m]" not in service


def _scale_test_file(path: Path, k: float, rules_dir: Path) -> dict[str, Any]:
    """A promtool test file with its times divided by ``k``, run against scaled rules."""
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    doc["rule_files"] = [str(rules_dir / name) for name in doc["rule_files"]]
    doc["evaluation_interval"] = scale_duration(doc.get("evaluation_interval", "1m"), k)
    for test in doc["tests"]:
        test["interval"] = scale_duration(test.get("interval", "1m"), k)
        for case in test.get("alert_rule_test", []):
            case["eval_time"] = scale_duration(case["eval_time"], k)
        for case in test.get("promql_expr_test", []):
            case["eval_time"] = scale_duration(case["eval_time"], k)
            case["expr"] = scale_expr(case["expr"], k)
    return doc


@pytest.mark.parametrize("k", [10, 60])
def test_scaled_rules_behave_like_production_at_scaled_times(tmp_path: Path, k: int) -> None:
    """Every time-invariant unit test still passes with rules and test times divided by K."""
    promtool = _tool("promtool")
    rules_dir = tmp_path / "rules"
    write_rules([scale_rules(f, k) for f in load_rule_files(_rule_files())], rules_dir)
    scaled_tests = []
    for path in _test_files():
        if path.name in NOT_TIME_INVARIANT:
            continue
        target = tmp_path / path.name
        target.write_text(yaml.safe_dump(_scale_test_file(path, k, rules_dir), sort_keys=False))
        scaled_tests.append(target)
    assert len(scaled_tests) >= 4
    output = _run(promtool, "test", "rules", *scaled_tests)
    assert "FAILED" not in output


def test_amtool_checks_the_environment_alertmanager_config(tmp_path: Path) -> None:
    amtool = _tool("amtool")
    for group_wait_s in (0.2, 1.0, 30.0):
        path = tmp_path / f"alertmanager-{group_wait_s}.yml"
        path.write_text(alertmanager_config(40123, group_wait_s, tmp_path / "pager-token"))
        output = _run(amtool, "check-config", path)
        assert "SUCCESS" in output
        assert "1 receivers" in output


def test_promtool_checks_alertmanager_web_config_and_the_prometheus_config(
    tmp_path: Path,
) -> None:
    """exporter-toolkit's parser takes the bcrypt hash; Prometheus its basic_auth blocks."""
    promtool = _tool("promtool")
    web = tmp_path / "web.yml"
    web.write_text(alertmanager_web_config(ALERTMANAGER_USER, bcrypt_hash("a-password")))
    assert "SUCCESS" in _run(promtool, "check", "web-config", web)
    password_file = tmp_path / "alertmanager.password"
    password_file.write_text("a-password")
    (tmp_path / "rules").mkdir()
    prometheus = tmp_path / "prometheus.yml"
    prometheus.write_text(
        prometheus_config(
            scrape_interval_s=0.5,
            evaluation_interval_s=0.5,
            alertmanager_port=40124,
            alertmanager_user=ALERTMANAGER_USER,
            alertmanager_password_file=password_file,
            app_targets_file=tmp_path / "app-targets.json",
            rules_glob=str(tmp_path / "rules" / "*.yml"),
            static={"alertmanager": [(40124, {})], "postgres": [(40125, {"node": "postgres-1"})]},
        )
    )
    assert "SUCCESS" in _run(promtool, "check", "config", prometheus)
