from pathlib import Path

import pytest
from starlette.testclient import TestClient

from chaosdrill.pager import PagerStore
from chaosdrill.pager.server import create_app
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


def test_webhook_endpoint(tmp_path: Path) -> None:
    client = TestClient(create_app(tmp_path / "p.db"))
    assert client.post("/webhook", json=payload()).json() == {"stored": 1}
    assert client.post("/webhook", content=b"not json").status_code == 400
    assert client.post("/webhook", json={"version": "2"}).status_code == 400
    assert [p["alertname"] for p in client.get("/pages").json()] == ["HighErrorRate"]
