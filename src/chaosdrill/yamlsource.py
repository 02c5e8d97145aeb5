"""YAML documents that remember where every key and item was written, and their validation.

Scenario and runbook files are written by people, so a mistake must come back as *file,
line, field, what was expected* (:class:`~chaosdrill.errors.InvalidInputError`), never as
a traceback or a silently wrong value. ``yaml.safe_load`` forgets positions and keeps the
last of two equal keys; here the document is composed into PyYAML nodes (which carry their
marks) and built by hand, recording the line of every mapping key and sequence item under
its path (``("steps", 2, "check")``), and refusing duplicate keys. The line where each value's
text starts is kept too (:meth:`YamlDocument.value_line`): for a ``|`` block that is the
line below its key, which is what a message about a line *inside* the value needs.

Limits keep a hostile or mistaken file from doing harm: files over :data:`MAX_BYTES` are
refused before they are read in full, and alias expansion is capped at :data:`MAX_NODES`
nodes and :data:`MAX_DEPTH` levels (a "billion laughs" file or a recursive anchor).

:func:`validate` checks a document against a JSON Schema (the ``jsonschema`` library) and
turns the first problem into an ``InvalidInputError`` with the line of the offending key.
Schemas may carry an ``x-expected`` phrase where jsonschema's own wording would be unclear.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError

from chaosdrill.errors import InvalidInputError

__all__ = [
    "DOCUMENT",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "YamlDocument",
    "describe_value",
    "dotted",
    "load_schema",
    "load_yaml",
    "parse_yaml",
    "validate",
    "yaml_files",
]

MAX_BYTES = 1024 * 1024
"""Largest file accepted (1 MiB): far above any real scenario or runbook."""
MAX_NODES = 100_000
"""Most YAML nodes built from one document, counting every alias expansion."""
MAX_DEPTH = 64
"""Deepest nesting accepted (also stops recursive anchors such as ``&a [*a]``)."""
DOCUMENT = "<document>"
"""The field name used for problems of the document as a whole."""

PathKey = tuple[str | int, ...]


def dotted(path: Sequence[str | int]) -> str:
    """The dotted form of a path: ``("steps", 2, "check")`` -> ``"steps.2.check"``.

    Sequence indices count from 0, as in JSON Pointer and jsonschema.
    """
    return ".".join(str(p) for p in path) if path else DOCUMENT


@dataclass(frozen=True)
class YamlDocument:
    """One parsed YAML document with the line of every key and sequence item.

    Attributes:
        source: the file name (or label) the text came from, used in errors.
        data: the document as plain Python values (dict, list, str, int, float, bool, None).
        lines: 1-based line of each mapping key / sequence item, by path.
        value_lines: 1-based line where each value's text starts, by path: the key's line
            for ``key: value``, the next line for ``key:`` followed by the value, and the
            first line of the text of a ``|`` or ``>`` block scalar.
    """

    source: str
    data: Any
    lines: Mapping[PathKey, int]
    value_lines: Mapping[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int:
        """Line of ``path``, or of its deepest recorded parent (1 for the document)."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), 1)

    def value_line(self, path: Sequence[str | int]) -> int:
        """Line where the text of the value at ``path`` starts (else :meth:`line_of`)."""
        return self.value_lines.get(tuple(path)) or self.line_of(path)

    def error(self, path: Sequence[str | int], message: str) -> InvalidInputError:
        """An InvalidInputError for ``path`` of this document (file, line, dotted field)."""
        return InvalidInputError(
            message, source=self.source, line=self.line_of(path), field=dotted(path)
        )


def load_yaml(path: str | Path, *, allow_empty: bool = False) -> YamlDocument:
    """Read one YAML file into a :class:`YamlDocument`.

    ``allow_empty`` accepts a file without any document (empty, or only comments) as a
    document whose data is None, for file kinds where that means "nothing", such as a
    Prometheus rule file.

    Raises:
        InvalidInputError: the path is missing, a directory or unreadable; the file is
            larger than :data:`MAX_BYTES`, not UTF-8, empty, not valid YAML, holds more
            than one document, or repeats a key. ``line`` is None only for problems of
            the file itself (missing, directory, unreadable, too large), which have no line.
    """
    p = Path(path)
    source = str(p)

    def fail(message: str) -> InvalidInputError:
        return InvalidInputError(message, source=source, field=DOCUMENT)

    if p.is_dir():
        raise fail("is a directory; expected a YAML file")
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise fail("no such file; expected an existing YAML file") from None
    except PermissionError:
        raise fail("permission denied; expected a file this user can read") from None
    except OSError as exc:
        raise fail(f"cannot be read ({exc.strerror or exc}); expected a readable file") from None
    if len(raw) > MAX_BYTES:
        raise fail(f"is larger than {MAX_BYTES // 1024} KiB; expected a small YAML file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidInputError(
            f"byte {raw[exc.start]:#04x} is not UTF-8; expected UTF-8 text",
            source=source,
            line=line,
            field=DOCUMENT,
        ) from None
    return parse_yaml(text, source, allow_empty=allow_empty)


def parse_yaml(text: str, source: str = "<string>", *, allow_empty: bool = False) -> YamlDocument:
    """Parse YAML text (one document) keeping the line of every key and item.

    Raises:
        InvalidInputError: as :func:`load_yaml`, for the text's own problems.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None and allow_empty:
            return YamlDocument(source, None, {(): 1})
        if node is None:
            raise InvalidInputError(
                "the file is empty; expected a YAML mapping of keys to values",
                source=source,
                line=1,
                field=DOCUMENT,
            )
        builder = _Builder(loader, source)
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = f"{exc.problem or 'invalid YAML'}; expected valid YAML"
        if "but found another document" in (exc.problem or ""):
            problem = "a second YAML document starts here; expected exactly one document"
        raise InvalidInputError(
            problem,
            source=source,
            line=mark.line + 1 if mark else None,
            field=DOCUMENT,
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(
            f"{exc}; expected valid YAML", source=source, field=DOCUMENT
        ) from None
    finally:
        loader.dispose()
    return YamlDocument(source, data, builder.lines, builder.value_lines)


class _Builder:
    """Builds plain values from composed nodes, recording lines and refusing duplicates."""

    def __init__(self, loader: yaml.SafeLoader, source: str) -> None:
        self.loader = loader
        self.source = source
        self.lines: dict[PathKey, int] = {(): 1}
        self.value_lines: dict[PathKey, int] = {}
        self.count = 0

    def _fail(self, node: yaml.Node, path: PathKey, message: str) -> InvalidInputError:
        return InvalidInputError(
            message, source=self.source, line=node.start_mark.line + 1, field=dotted(path)
        )

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self._fail(
                node, path, f"more than {MAX_NODES} values (aliases?); expected a small file"
            )
        if len(path) > MAX_DEPTH:
            raise self._fail(
                node, path, f"nested deeper than {MAX_DEPTH} levels (a recursive anchor?)"
            )
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self._fail(key_node, path, "expected a plain text key")
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in out:
                    raise self._fail(
                        key_node,
                        (*path, key),
                        f"duplicate key {key!r} (first at line {first[key]}); "
                        "expected each key once",
                    )
                first[key] = line
                self.lines[(*path, key)] = line
                self.value_lines[(*path, key)] = _text_line(value_node)
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                self.lines[(*path, i)] = item.start_mark.line + 1
                self.value_lines[(*path, i)] = _text_line(item)
                items.append(self.build(item, (*path, i)))
            return items
        return self.loader.construct_object(node, deep=True)


def _text_line(node: yaml.Node) -> int:
    """1-based line where a node's text starts (a block scalar's text: below its indicator)."""
    line: int = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        line += 1
    return line


# --- validation against a JSON Schema ---------------------------------------------------

_TYPE_WORDS = {
    "object": "a mapping (key: value)",
    "array": "a list",
    "string": "text",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing (null)",
}


def describe_value(value: Any) -> str:
    """A short phrase for a value as the file's author wrote it (for error messages)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        keys = ", ".join(map(str, list(value)[:6])) + (", ..." if len(value) > 6 else "")
        return f"a mapping with the keys {keys}" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int | float):
        return str(value)
    return f"a {type(value).__name__} ({value!s:.40})"


def validate(doc: YamlDocument, schema: Mapping[str, Any]) -> None:
    """Validate ``doc.data`` against a JSON Schema (draft 2020-12).

    Raises:
        InvalidInputError: for the first problem in file order, naming the line and dotted
            field and saying what was expected; later problems are attached as notes.
    """
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(doc.data))
    if not errors:
        return
    # a missing key is often the other half of a misspelt one: report the misspelling first
    errors.sort(key=lambda e: e.validator == "required")
    problems = [_explain(doc, e, schema) for e in errors]
    problems.sort(key=lambda p: (p[3], p[0], -len(p[1]), p[2]))
    line, path, message, _ = problems[0]
    err = InvalidInputError(message, source=doc.source, line=line, field=dotted(path))
    seen = {(line, tuple(path))}
    for other_line, other_path, other_message, _ in problems[1:]:
        if len(seen) > 10 or (other_line, tuple(other_path)) in seen:
            continue
        seen.add((other_line, tuple(other_path)))
        err.add_note(f"also line {other_line}, field {dotted(other_path)!r}: {other_message}")
    raise err


def _expected(schema: Any, root: Mapping[str, Any]) -> str:
    """What a (sub)schema accepts, in words (following a local ``$ref``)."""
    if not isinstance(schema, Mapping):
        return "nothing here"
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and "x-expected" not in schema:
        return _expected(root.get("$defs", {}).get(ref.removeprefix("#/$defs/")), root)
    if "x-expected" in schema:
        return str(schema["x-expected"])
    if "enum" in schema:
        return "one of: " + ", ".join(map(str, schema["enum"]))
    types = schema.get("type")
    if isinstance(types, str):
        return _TYPE_WORDS.get(types, types)
    if isinstance(types, list):
        return " or ".join(_TYPE_WORDS.get(t, t) for t in types)
    return "a valid value"


def _explain(
    doc: YamlDocument, error: ValidationError, root: Mapping[str, Any]
) -> tuple[int, list[str | int], str, bool]:
    """Line, path, a plain message, and whether it is a missing key, for one error."""
    path: list[str | int] = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    kind = error.validator
    inst: Any = error.instance
    value: Any = error.validator_value
    if "propertyNames" in error.relative_schema_path:
        path.append(str(inst))
        message = f"{str(inst)!r} is not an accepted key; expected {_expected(schema, root)}"
    elif kind == "required":
        missing = [k for k in value if isinstance(inst, dict) and k not in inst]
        key = missing[0] if missing else "?"
        sub = schema.get("properties", {}).get(key, {})
        message = f"missing required key {key!r}; expected {_expected(sub, root)}"
        line = doc.line_of(path)
        path.append(key)
        return line, path, message, True
    elif kind == "additionalProperties" and isinstance(inst, dict):
        known = sorted(schema.get("properties", {}))
        extra = sorted(k for k in inst if k not in known)
        key = extra[0] if extra else "?"
        path.append(key)
        hint = difflib.get_close_matches(key, known, n=1)
        message = f"unknown key {key!r}; expected one of: {', '.join(known) or 'none'}"
        if hint:
            message += f" (did you mean {hint[0]!r}?)"
    elif "x-expected" in schema:
        message = f"expected {schema['x-expected']}, got {describe_value(inst)}"
    elif kind == "type":
        message = f"expected {_expected(schema, root)}, got {describe_value(inst)}"
    elif kind in ("enum", "const"):
        choices = value if kind == "enum" else [value]
        message = f"expected one of: {', '.join(map(str, choices))}; got {describe_value(inst)}"
    elif kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        sign = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
        bounds = [f"{sign[k]} {schema[k]}" for k in sign if k in schema]
        message = f"expected a number {' and '.join(bounds)}, got {describe_value(inst)}"
    elif kind == "minLength":
        message = f"expected text of at least {value} character(s), got {describe_value(inst)}"
    elif kind == "maxLength":
        message = f"expected text of at most {value} characters"
    elif kind == "minItems":
        message = f"expected a list of at least {value} item(s), got {len(inst)}"
    elif kind == "maxItems":
        message = f"expected a list of at most {value} item(s), got {len(inst)}"
    elif kind == "uniqueItems":
        message = "expected every item once; an item is repeated"
    elif kind == "pattern":
        message = f"expected text matching {value}, got {describe_value(inst)}"
    else:
        message = f"{error.message}; expected {_expected(schema, root)}"
    return doc.line_of(path), path, message, False


@cache
def load_schema(kind: str) -> Mapping[str, Any]:
    """The JSON Schema ``schemas/<kind>.schema.json`` shipped with chaosdrill."""
    text = resources.files("chaosdrill").joinpath("schemas", f"{kind}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def yaml_files(directory: str | Path) -> Iterator[Path]:
    """The ``*.yaml`` files of a directory, sorted; a missing or empty directory is an error."""
    d = Path(directory)
    if not d.is_dir():
        raise InvalidInputError(
            "not a directory; expected a directory of .yaml files", source=str(d), field="<dir>"
        )
    files = sorted(d.glob("*.yaml"))
    if not files:
        raise InvalidInputError(
            "holds no .yaml file; expected at least one", source=str(d), field="<dir>"
        )
    yield from files
