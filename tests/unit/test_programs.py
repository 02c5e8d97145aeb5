from pathlib import Path

import pytest

from chaosdrill.environments.local import programs
from chaosdrill.errors import ProgramMissingError


def test_every_missing_program_is_listed_with_its_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(programs, "_SEARCH_DIRS", (str(tmp_path),))
    monkeypatch.setattr(programs.glob, "glob", lambda pattern: [])
    monkeypatch.delenv("CHAOSDRILL_PG_BINDIR", raising=False)
    with pytest.raises(ProgramMissingError) as info:
        programs.find_programs()
    missing = info.value.missing
    assert set(missing) == {
        "postgres",
        "initdb",
        "pg_basebackup",
        "pg_ctl",
        "pg_waldump",
        "redis-server",
        "haproxy",
        "prometheus",
        "promtool",
        "alertmanager",
        "amtool",
        "postgres-exporter",
        "redis-exporter",
    }
    assert missing["alertmanager"][1] == "apt-get install prometheus-alertmanager"
    assert "apt-get install postgresql" in missing["postgres"][1]


def test_pg_bindir_override_is_looked_in_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHAOSDRILL_PG_BINDIR", str(tmp_path))
    assert programs._pg_bindirs()[0] == tmp_path
