"""Reading an experiment file: size, encoding, JSON, Chaos Toolkit's own validation.

An experiment is a Chaos Toolkit experiment (JSON) with a ``chaosdrill`` extension; this
module only reads and checks the file itself. What the drill asks for (fault, alert,
runbooks, targets) is resolved from it by :mod:`chaosdrill.scenarios.spec`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from chaosdrill.errors import InvalidInputError
from chaosdrill.yamlsource import YamlDocument, parse_yaml

__all__ = [
    "MAX_EXPERIMENT_BYTES",
    "ExperimentLines",
    "activities",
    "load_experiment",
    "read_experiment_text",
]

MAX_EXPERIMENT_BYTES = 1024 * 1024


def read_experiment_text(path: Path) -> str:
    """The file's text: a regular, readable, UTF-8 file of at most MAX_EXPERIMENT_BYTES.

    Raises:
        InvalidInputError: a directory, too large, unreadable, not UTF-8 (with the byte
            offset of the first bad byte) or empty.
    """
    source = str(path)
    if path.is_dir():
        raise InvalidInputError("expected an experiment file, got a directory", source=source)
    try:
        size = path.stat().st_size
        if size > MAX_EXPERIMENT_BYTES:
            raise InvalidInputError(
                f"file is {size} bytes; at most {MAX_EXPERIMENT_BYTES}", source=source
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read the file: {exc.strerror}", source=source) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InvalidInputError(
            f"not UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {exc.start}; "
            "expected a UTF-8 JSON experiment",
            source=source,
            line=line,
        ) from None
    if not text.strip():
        raise InvalidInputError("the file is empty; expected a JSON experiment", source=source)
    return text


def load_experiment(path: Path) -> dict[str, Any]:
    """Read and validate an experiment file (JSON), with Chaos Toolkit's own validation.

    Raises:
        InvalidInputError: naming the file (and line or field where known).
    """
    from chaoslib.exceptions import ChaosException
    from chaoslib.experiment import ensure_experiment_is_valid

    source = str(path)
    text = read_experiment_text(path)
    try:
        experiment = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"not valid JSON: {exc.msg}", source=source, line=exc.lineno
        ) from None
    if not isinstance(experiment, dict):
        raise InvalidInputError("expected a JSON object", source=source, line=1)
    extensions = experiment.get("extensions")
    if extensions is not None and not isinstance(extensions, list):
        raise InvalidInputError(
            f"expected a list of extensions, got {type(extensions).__name__}",
            source=source,
            line=ExperimentLines(text, source).line(("extensions",)),
            field="extensions",
        )
    try:
        ensure_experiment_is_valid(experiment)
    except ChaosException as exc:
        raise InvalidInputError(f"Chaos Toolkit says: {exc}", source=source) from None
    return experiment


def activities(experiment: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every activity of an experiment with its path: hypothesis probes, method, rollbacks."""
    hypothesis = experiment.get("steady-state-hypothesis")
    if isinstance(hypothesis, dict):
        for i, activity in enumerate(hypothesis.get("probes") or []):
            yield ("steady-state-hypothesis", "probes", i), activity
    for key in ("method", "rollbacks"):
        for i, activity in enumerate(experiment.get(key) or []):
            yield (key, i), activity


class ExperimentLines:
    """Lines of an experiment's fields (JSON is YAML, so yamlsource can tell them)."""

    def __init__(self, text: str, source: str) -> None:
        self._text = text
        self._source = source
        self._doc: YamlDocument | None = None
        self._parsed = False

    @property
    def doc(self) -> YamlDocument | None:
        """The parsed document (parsed when first needed; None if it cannot be)."""
        if not self._parsed:
            self._parsed = True
            with contextlib.suppress(InvalidInputError):
                self._doc = parse_yaml(self._text, self._source)
        return self._doc

    def line(self, path: Sequence[str | int]) -> int | None:
        """Line of ``path`` (or of its deepest parent) where known."""
        doc = self.doc
        return None if doc is None else doc.line_of(path)
