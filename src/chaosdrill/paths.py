"""Where results go, and the one way a file is written for good.

Where: :func:`reports_dir` (the workspace's, see :mod:`chaosdrill.workspace`, which also
resolves every catalogue file). How: :func:`write_atomic`,
used by every writer of a whole file (env.json, drill results, reports, the gate's outputs,
the drill worker's request and outcome files, rule files): a reader, or the file after a
power cut, sees the old content or the new one, never an empty or half-written file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = [
    "fsync_dir",
    "reports_dir",
    "write_atomic",
]


def reports_dir() -> Path:
    """Where drill results go: the workspace's (``$CHAOSDRILL_REPORTS`` first)."""
    from chaosdrill.workspace import current

    return current().reports_dir()


def fsync_dir(directory: Path | str) -> None:
    """Flush a directory's entries (a file created, renamed or removed in it) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path | str, data: str | bytes, *, mode: int = 0o644) -> Path:
    """Replace ``path``'s content with ``data`` so that no one ever sees a part of it.

    The data goes to a temporary file of a unique name in the same directory (so writers
    of one path never share it), which is flushed and fsync'ed, renamed over ``path``
    (``os.replace``, atomic), and the directory is fsync'ed so the rename survives a power
    cut. On any error the temporary file is removed and ``path`` is left as it was.
    The directory is created if needed; ``str`` data is written as UTF-8.

    Args:
        path: the file to write.
        data: its whole new content.
        mode: the file's permissions (0o600 for a file that holds a secret). A directory
            that shuts out its group or others keeps its files from them too: their part
            of ``mode`` is dropped (in a 0700 directory, 0o644 becomes 0o600).

    Returns:
        ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    folder = stat.S_IMODE(os.stat(target.parent).st_mode)
    for part in (0o070, 0o007):  # group, others
        if not folder & part:
            mode &= ~part
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)
    return target
