from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from chaosdrill.targets.revenue_engine import Revision, create_app
from chaosdrill.targets.revenue_engine.admin import bearer_token_matches
from chaosdrill.targets.revenue_engine.config import Settings

TOKEN = "Zm9vYmFy-admin"


@pytest.mark.parametrize(
    ("header", "token", "ok"),
    [
        (f"Bearer {TOKEN}", TOKEN, True),
        (f"bearer {TOKEN}", TOKEN, True),
        (f"Bearer {TOKEN} ", TOKEN, True),
        (f"Bearer {TOKEN}x", TOKEN, False),
        ("Bearer ", TOKEN, False),
        (TOKEN, TOKEN, False),
        (f"Basic {TOKEN}", TOKEN, False),
        (None, TOKEN, False),
        (f"Bearer {TOKEN}", None, False),
        ("Bearer ", "", False),
        ("Bearer é", TOKEN, False),
    ],
)
def test_bearer_token_matches(header: str | None, token: str | None, ok: bool) -> None:
    assert bearer_token_matches(header, token) is ok


def _client(token_file: Path | None) -> TestClient:
    settings = Settings(
        dsn="host=127.0.0.1 port=1",
        redis_url="redis://127.0.0.1:1/0",
        revision_file=Path("unused"),
        admin_token_file=token_file,
        replica="unit",
    )
    revision = Revision.from_dict({"version": "1.0.0", "revision": 1, "flags": {"old": True}})
    return TestClient(create_app(settings, revision=revision))


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    return _client(token_file)


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/admin/flags"), ("PUT", "/admin/flags/new_checkout"), ("GET", "/admin/revision")],
)
def test_admin_requires_token(client: TestClient, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = client.request(method, path, headers=headers, json={"enabled": True})
        assert response.status_code == 401
        assert response.json() == {"error": "unauthorized"}
        assert response.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in response.text


def test_admin_disabled_without_token() -> None:
    client = _client(None)
    assert client.get("/admin/flags", headers=AUTH).status_code == 401


def test_flags_get_and_put(client: TestClient) -> None:
    flags = client.get("/admin/flags", headers=AUTH).json()["flags"]
    assert flags == {
        "circuit_breaker": False,
        "new_checkout": False,
        "old": True,
        "recommendations_cache": False,
    }
    response = client.put("/admin/flags/new_checkout", headers=AUTH, json={"enabled": True})
    assert response.status_code == 200
    assert response.json()["flags"]["new_checkout"] is True
    assert client.get("/admin/flags", headers=AUTH).json()["flags"]["new_checkout"] is True
    response = client.put("/admin/flags/brand_new", headers=AUTH, json={"enabled": True})
    assert response.json()["flags"]["brand_new"] is True


@pytest.mark.parametrize("body", [{"enabled": "yes"}, {}, [], {"enabled": 1}])
def test_put_flag_validates_body(client: TestClient, body: object) -> None:
    response = client.put("/admin/flags/new_checkout", headers=AUTH, json=body)
    assert response.status_code == 422
    assert response.json()["field"] == "enabled"


def test_put_flag_validates_name(client: TestClient) -> None:
    response = client.put("/admin/flags/Bad-Name", headers=AUTH, json={"enabled": True})
    assert response.status_code == 422
    assert response.json()["field"] == "name"


def test_revision(client: TestClient) -> None:
    body = client.get("/admin/revision", headers=AUTH).json()
    assert body["version"] == "1.0.0"
    assert body["revision"] == 1
    assert body["settings"]["pool_size"] == 10
    assert body["unknown_flags"] == ["old"]
    assert TOKEN not in client.get("/metrics").text
