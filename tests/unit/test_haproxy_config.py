import shutil
import subprocess
from pathlib import Path

import pytest

from chaosdrill.environments.local.haproxy import BACKEND, write_config


def test_config_lists_the_current_servers_and_haproxy_accepts_it(tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    write_config(cfg, tmp_path / "admin.sock", 18080, 18081, [("app-1", 18001), ("app-7", 18007)])
    text = cfg.read_text()
    backend = text[text.index(f"backend {BACKEND}") :]
    assert "    server app-1 127.0.0.1:18001 check inter 500 fall 2 rise 1\n" in backend
    assert "    server app-7 127.0.0.1:18007 check inter 500 fall 2 rise 1\n" in backend
    assert "if { path /metrics }" in text
    assert not list(tmp_path.glob("*.tmp"))
    write_config(cfg, tmp_path / "admin.sock", 18080, 18081, [])
    assert "server app-" not in cfg.read_text()
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed")
    write_config(cfg, tmp_path / "admin.sock", 18080, 18081, [("app-1", 18001)])
    res = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
