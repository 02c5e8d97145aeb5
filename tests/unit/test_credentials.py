"""An environment's generated secrets: their files, modes and the verifiers servers get."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from pathlib import Path

import bcrypt
import yaml

from chaosdrill.environments.base import BasicAuth
from chaosdrill.environments.local.credentials import (
    Credentials,
    bcrypt_hash,
    redis_acl_hash,
    scram_verifier,
)
from chaosdrill.environments.local.monitoring import alertmanager_web_config
from chaosdrill.environments.local.redis_server import redis_config


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_writes_every_secret_once_in_0600_files(tmp_path: Path) -> None:
    root, pg_dir = tmp_path / "env", tmp_path / "pg"
    root.mkdir(mode=0o700)
    pg_dir.mkdir(mode=0o700)
    credentials = Credentials(root, pg_dir)
    credentials.generate(("chaosdrill", "revenue"), "replicator", 6390)
    assert _mode(credentials.directory) == 0o700
    for path in (
        credentials.pgpass,
        credentials.replication_pgpass,
        credentials.redis_password_file,
        credentials.redis_exporter_file,
        credentials.alertmanager_password_file,
    ):
        assert _mode(path) == 0o600, path
    passwords = credentials.role_passwords()
    assert set(passwords) == {"chaosdrill", "revenue", "replicator"}
    lines = credentials.pgpass.read_text().splitlines()
    assert [line.rsplit(":", 1)[0] for line in lines] == [
        "127.0.0.1:*:*:chaosdrill",
        "127.0.0.1:*:*:revenue",
    ]
    assert credentials.replication_pgpass.read_text().startswith("127.0.0.1:*:replication:")
    redis = credentials.redis_password()
    assert json.loads(credentials.redis_exporter_file.read_text()) == {
        "redis://127.0.0.1:6390": redis
    }
    alertmanager = credentials.alertmanager_password()
    assert credentials.alertmanager_password_file.read_text() == alertmanager  # no newline
    every = [*passwords.values(), redis, alertmanager]
    assert len(set(every)) == 5 and all(len(s) >= 40 for s in every)
    assert all(":" not in s and "\\" not in s for s in every)  # pgpass's special characters
    credentials.generate(("chaosdrill", "revenue"), "replicator", 6390)
    assert credentials.role_passwords()["revenue"] != passwords["revenue"]  # new each time


def test_scram_verifier_is_what_a_scram_client_proves_against() -> None:
    salt = b"0123456789abcdef"
    verifier = scram_verifier("pencil", salt)
    head, keys = verifier.split("$", 2)[1:]
    iterations, salt_b64 = head.split(":")
    stored_b64, server_b64 = keys.split(":")
    assert verifier.startswith("SCRAM-SHA-256$4096:") and iterations == "4096"
    assert base64.b64decode(salt_b64) == salt
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    assert base64.b64decode(stored_b64) == hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert base64.b64decode(server_b64) == server_key
    assert scram_verifier("pencil") != scram_verifier("pencil")  # a new salt each time
    assert "pencil" not in scram_verifier("pencil")


def test_alertmanager_web_config_holds_only_a_bcrypt_hash_of_the_password() -> None:
    password = "correct horse battery staple"
    hashed = bcrypt_hash(password, rounds=4)
    assert hashed.startswith("$2b$04$") and password not in hashed
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    assert not bcrypt.checkpw(b"wrong", hashed.encode())
    assert bcrypt_hash(password, rounds=4) != hashed  # a new salt each time
    assert bcrypt_hash(password).startswith("$2b$10$")  # Go's default cost
    text = alertmanager_web_config("chaosdrill", hashed)
    assert yaml.safe_load(text) == {"basic_auth_users": {"chaosdrill": hashed}}
    assert password not in text


def test_basic_auth_keeps_its_password_out_of_its_repr() -> None:
    auth = BasicAuth("chaosdrill", "s3cret-value")
    assert auth.pair() == ("chaosdrill", "s3cret-value")
    assert "s3cret-value" not in repr(auth) and "chaosdrill" in repr(auth)


def test_redis_config_holds_a_hash_and_takes_the_server_commands_away() -> None:
    text = redis_config(6390, Path("/env/redis"), "pw-123")
    assert "pw-123" not in text
    assert redis_acl_hash("pw-123") == "#" + hashlib.sha256(b"pw-123").hexdigest()
    lines = text.splitlines()
    assert "bind 127.0.0.1" in lines and "protected-mode yes" in lines
    [user] = [line for line in lines if line.startswith("user ")]
    assert user.startswith(f"user default on {redis_acl_hash('pw-123')} ~* &* +@all ")
    assert {"-config", "-debug", "-module", "-acl", "-shutdown"} <= set(user.split())
