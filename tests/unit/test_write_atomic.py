"""chaosdrill.paths.write_atomic: how a whole file is written (env.json, results, reports)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from chaosdrill.paths import write_atomic


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_it_writes_the_whole_content_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "new" / "env.json"
    assert write_atomic(target, '{"a": 1}') == target
    assert target.read_text() == '{"a": 1}'
    write_atomic(target, b"\x00binary")
    assert target.read_bytes() == b"\x00binary"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    write_atomic(tmp_path / "token", "s3cret", mode=0o600)
    assert stat.S_IMODE((tmp_path / "token").stat().st_mode) == 0o600
    assert leftovers(target.parent) == [] and leftovers(tmp_path) == []


def test_a_private_directory_keeps_its_files_private(tmp_path: Path) -> None:
    for folder_mode, want in [(0o700, 0o600), (0o750, 0o640), (0o711, 0o644), (0o755, 0o644)]:
        folder = tmp_path / oct(folder_mode)
        folder.mkdir()
        folder.chmod(folder_mode)
        written = write_atomic(folder / "env.json", "{}")
        assert stat.S_IMODE(written.stat().st_mode) == want, oct(folder_mode)
        secret = write_atomic(folder / "token", "s3cret", mode=0o600)
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_an_error_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    write_atomic(target, "old")
    with pytest.raises(TypeError):
        write_atomic(target, 42)  # type: ignore[arg-type]  # fails while writing
    assert target.read_text() == "old" and leftovers(tmp_path) == []
    folder = tmp_path / "a-directory"
    folder.mkdir()
    with pytest.raises(OSError):
        write_atomic(folder, "x")  # fails at the rename
    assert folder.is_dir() and leftovers(tmp_path) == []


def test_concurrent_writers_of_one_path_never_tear_it(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    contents = {chr(65 + n) * 200_000 for n in range(4)}  # each writer its own content
    write_atomic(target, next(iter(contents)))
    errors: list[BaseException] = []
    seen: set[str] = set()
    done = threading.Event()

    def writer(data: str) -> None:
        try:
            for _ in range(60):
                write_atomic(target, data)
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        while not done.is_set():
            seen.add(target.read_text())

    threads = [threading.Thread(target=writer, args=(c,)) for c in contents]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    assert errors == []
    assert seen <= contents, "a reader saw a torn or empty file"
    assert target.read_text() in contents and leftovers(tmp_path) == []


def test_the_file_then_its_directory_are_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "env.json"
    synced: list[tuple[str, bool]] = []  # (what, was the new content in place)
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        kind = "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        synced.append((kind, target.exists() and target.read_text() == "new"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_atomic(target, "new")
    assert synced == [("file", False), ("dir", True)]
