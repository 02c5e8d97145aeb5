"""A drill written as a test, with chaosdrill's pytest plugin (docs/pytest-plugin.md).

Run it with ``pytest examples/test_drill_example.py``: the plugin attaches to the running
environment named ``pytest`` (``--chaosdrill-env``), or brings one up at time scale 20 and
takes it down at the end.
"""

from __future__ import annotations

import pytest

from chaosdrill.pytest_plugin import DrillReport, DrillRunner

MTTD_TARGET_PRODUCTION_S = 300  # the seed's targets: detect within 5 minutes ...
MTTR_TARGET_PRODUCTION_S = 1800  # ... and recover within 30


@pytest.mark.drill("bad-release", time_scale=20, hold_s=200)
def test_a_bad_release_pages_and_is_rolled_back(run_drill: DrillRunner) -> None:
    """HighErrorRate pages, the rollback runbook restores the service, no write is lost."""
    report: DrillReport = run_drill()

    assert report.passed, report.reasons
    assert report.mttd_production_s is not None
    assert report.mttd_production_s <= MTTD_TARGET_PRODUCTION_S
    assert report.mttr_production_s is not None
    assert report.mttr_production_s <= MTTR_TARGET_PRODUCTION_S
    assert report.lost_writes == 0
    assert report.score >= 70, report.result_path
    assert report.grade in ("A", "B", "C")
