"""The superuser's connection rides out a moment when the server has no slot at all."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from chaosdrill.environments.local import database


class _FakeConnect:
    """A fake ``psycopg.connect``: refuses ``refusals`` times with ``message``, then connects."""

    def __init__(self, refusals: int, message: str) -> None:
        self.refusals, self.message, self.calls = refusals, message, 0

    def __call__(self, dsn: str, **kwargs: Any) -> str:
        self.calls += 1
        if self.calls <= self.refusals:
            raise psycopg.OperationalError(self.message)
        return f"connection to {dsn}"


def test_a_full_server_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeConnect(3, "connection to server failed: FATAL:  sorry, too many clients already")
    monkeypatch.setattr(database.psycopg, "connect", fake)
    assert database.connect_superuser("host=x") == "connection to host=x"
    assert fake.calls == 4


def test_other_errors_are_raised_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeConnect(3, "password authentication failed for user postgres")
    monkeypatch.setattr(database.psycopg, "connect", fake)
    with pytest.raises(psycopg.OperationalError, match="password authentication"):
        database.connect_superuser("host=x")
    assert fake.calls == 1


def test_a_server_that_stays_full_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeConnect(10**6, "sorry, too many clients already")
    monkeypatch.setattr(database.psycopg, "connect", fake)
    monkeypatch.setattr(database, "FULL_RETRY_S", 0.5)
    with pytest.raises(psycopg.OperationalError, match="too many clients"):
        database.connect_superuser("host=x")
    assert 1 < fake.calls < 100
