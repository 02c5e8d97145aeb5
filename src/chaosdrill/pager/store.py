"""Durable store of pages (one row per alert per notification)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Page", "PagerStore", "PayloadError"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification INTEGER NOT NULL,
    received_wall TEXT NOT NULL,
    received_monotonic REAL NOT NULL,
    receiver TEXT NOT NULL,
    group_status TEXT NOT NULL,
    alertname TEXT NOT NULL,
    status TEXT NOT NULL,
    starts_at TEXT,
    ends_at TEXT,
    fingerprint TEXT,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pages_alertname ON pages(alertname);
"""


class PayloadError(ValueError):
    """The webhook body is not an Alertmanager payload of version 4."""


@dataclass(frozen=True)
class Page:
    """One alert as the pager received it."""

    id: int
    notification: int
    received_wall: str
    received_monotonic: float
    receiver: str
    alertname: str
    status: str
    starts_at: str | None
    ends_at: str | None
    fingerprint: str | None
    labels: dict[str, str]
    annotations: dict[str, str]


class PagerStore:
    """SQLite-backed record of every notification (WAL, synchronous=FULL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=5)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            with conn:
                yield conn

    def record(self, payload: Any, received_monotonic: float | None = None) -> int:
        """Validate and store one webhook payload; return how many alerts it held."""
        _validate(payload)
        mono = time.monotonic() if received_monotonic is None else received_monotonic
        wall = datetime.now(UTC).isoformat()
        with self._connect() as conn:
            row = conn.execute("SELECT coalesce(max(notification), 0) + 1 FROM pages").fetchone()
            notification = int(row[0])
            for alert in payload["alerts"]:
                labels = alert.get("labels") or {}
                conn.execute(
                    "INSERT INTO pages (notification, received_wall, received_monotonic, receiver,"
                    " group_status, alertname, status, starts_at, ends_at, fingerprint, labels,"
                    " annotations) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        notification,
                        wall,
                        mono,
                        payload.get("receiver", ""),
                        payload.get("status", ""),
                        labels.get("alertname", ""),
                        alert.get("status", ""),
                        alert.get("startsAt"),
                        alert.get("endsAt"),
                        alert.get("fingerprint"),
                        json.dumps(labels),
                        json.dumps(alert.get("annotations") or {}),
                    ),
                )
        return len(payload["alerts"])

    def pages(
        self, alertname: str | None = None, since_monotonic: float | None = None
    ) -> list[Page]:
        """Pages received, oldest first, optionally filtered."""
        sql = "SELECT id, notification, received_wall, received_monotonic, receiver, alertname,"
        sql += " status, starts_at, ends_at, fingerprint, labels, annotations FROM pages WHERE 1=1"
        args: list[Any] = []
        if alertname is not None:
            sql += " AND alertname = ?"
            args.append(alertname)
        if since_monotonic is not None:
            sql += " AND received_monotonic >= ?"
            args.append(since_monotonic)
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY id", args).fetchall()
        return [
            Page(
                id=r[0],
                notification=r[1],
                received_wall=r[2],
                received_monotonic=r[3],
                receiver=r[4],
                alertname=r[5],
                status=r[6],
                starts_at=r[7],
                ends_at=r[8],
                fingerprint=r[9],
                labels=json.loads(r[10]),
                annotations=json.loads(r[11]),
            )
            for r in rows
        ]


def _validate(payload: Any) -> None:
    if not isinstance(payload, dict):
        raise PayloadError("body must be a JSON object")
    if payload.get("version") != "4":
        raise PayloadError(f"version must be '4', got {payload.get('version')!r}")
    for key in ("receiver", "status"):
        _check_text(payload, key, key)
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("'alerts' must be a list")
    for i, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            raise PayloadError(f"alerts[{i}] must be an object")
        for key in ("labels", "annotations"):
            _check_strings(alert, key, f"alerts[{i}].{key}")
        for key in ("status", "startsAt", "endsAt", "fingerprint"):
            _check_text(alert, key, f"alerts[{i}].{key}")


def _check_text(obj: dict[str, Any], key: str, where: str) -> None:
    """``obj[key]`` is a string, null or absent."""
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise PayloadError(f"{where} must be a string, got {type(value).__name__}")


def _check_strings(obj: dict[str, Any], key: str, where: str) -> None:
    """``obj[key]`` is an object of string values, null or absent."""
    value = obj.get(key)
    if value is None:
        return
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be an object, got {type(value).__name__}")
    for name, item in value.items():
        if not isinstance(item, str):
            raise PayloadError(f"{where}.{name} must be a string, got {type(item).__name__}")
