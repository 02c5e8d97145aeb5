import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from chaosdrill.pager import PagerStore
from chaosdrill.pager.server import MAX_BODY_BYTES, create_app
from chaosdrill.pager.store import PayloadError


def payload(status: str = "firing") -> dict[str, object]:
    return {
        "version": "4",
        "status": status,
        "receiver": "pager",
        "groupKey": "{}:{}",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "HighErrorRate", "severity": "critical"},
                "annotations": {"summary": "5xx above 5 %"},
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "abc",
            }
        ],
    }


def test_pages_are_stored_with_receive_times(tmp_path: Path) -> None:
    store = PagerStore(tmp_path / "p.db")
    assert store.record(payload(), received_monotonic=10.0) == 1
    assert store.record(payload("resolved"), received_monotonic=20.0) == 1
    pages = store.pages("HighErrorRate")
    assert [(p.status, p.received_monotonic, p.notification) for p in pages] == [
        ("firing", 10.0, 1),
        ("resolved", 20.0, 2),
    ]
    assert pages[0].labels["severity"] == "critical"
    assert store.pages(since_monotonic=15.0)[0].status == "resolved"
    # durable: a new store on the same file sees them
    assert len(PagerStore(tmp_path / "p.db").pages()) == 2


@pytest.mark.parametrize(
    "bad", [[], {"version": "3", "alerts": []}, {"version": "4"}, {"version": "4", "alerts": ["x"]}]
)
def test_payloads_that_are_not_version_4_are_refused(tmp_path: Path, bad: object) -> None:
    store = PagerStore(tmp_path / "p.db")
    with pytest.raises(PayloadError):
        store.record(bad)
    assert store.pages() == []


TOKEN = "s3cret-token-for-the-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def client_for(tmp_path: Path) -> TestClient:
    return TestClient(create_app(tmp_path / "p.db", token=TOKEN))


def test_webhook_endpoint(tmp_path: Path) -> None:
    client = client_for(tmp_path)
    assert client.post("/webhook", json=payload(), headers=AUTH).json() == {"stored": 1}
    assert client.post("/webhook", content=b"not json", headers=AUTH).status_code == 400
    assert client.post("/webhook", json={"version": "2"}, headers=AUTH).status_code == 400
    assert [p["alertname"] for p in client.get("/pages").json()] == ["HighErrorRate"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer é".encode("latin-1")},
    ],
)
def test_a_page_without_the_token_is_refused_and_not_stored(
    tmp_path: Path, headers: dict[str, str | bytes]
) -> None:
    client = client_for(tmp_path)
    r = client.post("/webhook", json=payload(), headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in r.text
    assert client.get("/pages").json() == []


def test_the_pager_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="token"):
        create_app(tmp_path / "p.db", token="  ")


def _alert(**changes: object) -> dict[str, object]:
    alert = dict(payload()["alerts"][0])  # type: ignore[index]
    alert.update(changes)
    return {**payload(), "alerts": [alert]}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'"text"',
        b'{"version": "3", "alerts": []}',
        b'{"version": 4.0, "alerts": []}',
        b'{"version": "4", "alerts": {}}',
        b'{"version": "4", "alerts": ["x"]}',
        json.dumps({**payload(), "receiver": {"a": 1}}).encode(),
        json.dumps({**payload(), "status": ["firing"]}).encode(),
        json.dumps(_alert(labels=["alertname"])).encode(),
        json.dumps(_alert(labels={"alertname": {"nested": 1}})).encode(),
        json.dumps(_alert(labels={"alertname": ["a", "b"]})).encode(),
        json.dumps(_alert(labels={"alertname": 5})).encode(),
        json.dumps(_alert(annotations={"summary": {"x": 1}})).encode(),
        json.dumps(_alert(annotations="text")).encode(),
        json.dumps(_alert(status={"x": 1})).encode(),
        json.dumps(_alert(startsAt=12)).encode(),
        json.dumps(_alert(endsAt=[1])).encode(),
        json.dumps(_alert(fingerprint={"x": 1})).encode(),
    ],
)
def test_malformed_payloads_are_400_and_not_stored(tmp_path: Path, body: bytes) -> None:
    client = client_for(tmp_path)
    r = client.post("/webhook", content=body, headers=AUTH)
    assert r.status_code == 400, r.text
    assert "error" in r.json()
    assert client.get("/pages").json() == []


def test_a_body_over_the_limit_is_413_declared_or_streamed(tmp_path: Path) -> None:
    client = client_for(tmp_path)
    big = b"x" * (MAX_BODY_BYTES + 1)
    assert client.post("/webhook", content=big, headers=AUTH).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536

    assert client.post("/webhook", content=chunks(), headers=AUTH).status_code == 413
    assert client.get("/pages").json() == []
    # a body just under the limit is read (and refused only for what it says)
    under = b" " * (MAX_BODY_BYTES - 100) + json.dumps(payload()).encode()[:90]
    assert client.post("/webhook", content=under, headers=AUTH).status_code == 400
