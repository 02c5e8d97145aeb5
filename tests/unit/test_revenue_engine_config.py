from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosdrill.targets.revenue_engine.__main__ import main
from chaosdrill.targets.revenue_engine.config import (
    DEFAULT_REDIS_URL,
    ConfigError,
    Settings,
    default_replica_name,
    read_admin_token,
    read_secret,
)
from chaosdrill.targets.revenue_engine.db import build_conninfo

BASE_ENV = {"RE_DSN": "host=127.0.0.1 dbname=revenue", "RE_REVISION_FILE": "/etc/rev.json"}


def test_from_env_minimal() -> None:
    settings = Settings.from_env(BASE_ENV, port=8081)
    assert settings.dsn == "host=127.0.0.1 dbname=revenue"
    assert settings.redis_url == DEFAULT_REDIS_URL
    assert settings.revision_file == Path("/etc/rev.json")
    assert settings.admin_token_file is None
    assert settings.redis_password_file is None
    assert settings.replica == default_replica_name(8081)
    assert settings.replica.endswith("-8081")


def test_from_env_full() -> None:
    env = {
        **BASE_ENV,
        "RE_REDIS_URL": "redis://127.0.0.1:7000/2",
        "RE_ADMIN_TOKEN_FILE": "/run/token",
        "RE_REDIS_PASSWORD_FILE": "/run/redis.password",
        "RE_REPLICA": "app-2",
    }
    settings = Settings.from_env(env)
    assert settings.redis_url == "redis://127.0.0.1:7000/2"
    assert settings.redis_password_file == Path("/run/redis.password")
    assert settings.admin_token_file == Path("/run/token")
    assert settings.replica == "app-2"


@pytest.mark.parametrize("missing", ["RE_DSN", "RE_REVISION_FILE"])
def test_from_env_requires(missing: str) -> None:
    env = {k: v for k, v in BASE_ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        Settings.from_env(env)
    with pytest.raises(ConfigError, match=missing):
        Settings.from_env({**env, missing: "  "})


def test_read_admin_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  s3cret\n", encoding="utf-8")
    assert read_admin_token(path) == "s3cret"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is empty"):
        read_admin_token(path)
    with pytest.raises(ConfigError, match="cannot read"):
        read_admin_token(tmp_path / "absent")


def test_read_secret_names_the_variable_and_never_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "redis.password"
    path.write_text("p4ss\n", encoding="utf-8")
    assert read_secret(path, "RE_REDIS_PASSWORD_FILE") == "p4ss"
    path.write_text(" \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="^RE_REDIS_PASSWORD_FILE: .* is empty"):
        read_secret(path, "RE_REDIS_PASSWORD_FILE", "a password")


def test_build_conninfo_appends_statement_timeout() -> None:
    conninfo = build_conninfo(
        "host=a,b port=1,2 options='-c work_mem=8MB' target_session_attrs=read-write",
        statement_timeout_ms=750,
        application_name="re test",
    )
    assert "statement_timeout=750" in conninfo
    assert "work_mem=8MB" in conninfo
    assert "target_session_attrs=read-write" in conninfo
    assert "host=a,b" in conninfo
    assert "application_name='re test'" in conninfo


def test_cli_check_revision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rev.json"
    path.write_text(json.dumps({"version": "2", "revision": 7, "flags": {"x": True}}), "utf-8")
    assert main(["check-revision", str(path)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["settings"]["pool_size"] == 10
    assert "unknown flag 'x'" in err
    path.write_text(json.dumps({"version": "2", "revision": 7, "settings": {"a": 1}}), "utf-8")
    assert main(["check-revision", str(path)]) == 2
    assert "unknown setting(s) a" in capsys.readouterr().err


def test_cli_serve_reports_config_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RE_DSN", raising=False)
    assert main(["serve", "--port", "0"]) == 2
    assert "RE_DSN" in capsys.readouterr().err
