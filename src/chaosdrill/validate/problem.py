"""One problem ``chaosdrill validate`` found, and how a path and an error become problems.

A :class:`Problem` names the file (as :func:`display` shows it), the line and the field where
known, and what is wrong; :func:`from_error` turns an ``InvalidInputError`` and the further
problems in its notes into problems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from chaosdrill.errors import InvalidInputError

__all__ = ["Problem", "display", "from_error"]


@dataclass(frozen=True)
class Problem:
    """One problem found in one file.

    Attributes:
        file: the file, as given or found (relative to the current directory when inside it).
        line: 1-based line where known.
        field: dotted path of the offending field where known.
        message: what is wrong and what was expected.
    """

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


def display(path: Path) -> str:
    """The path relative to the current directory when inside it, else as given."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


_NOTE = re.compile(r"^also line (\d+), field '([^']*)': (.*)$", re.DOTALL)


def from_error(exc: InvalidInputError, shown: str) -> list[Problem]:
    """An InvalidInputError (and the further problems in its notes) as problems."""
    out = [Problem(shown, exc.line, exc.field, exc.detail)]
    for note in getattr(exc, "__notes__", []):
        match = _NOTE.match(note)
        if match:
            out.append(Problem(shown, int(match.group(1)), match.group(2), match.group(3)))
    return out
