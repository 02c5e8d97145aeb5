"""Settings of a drill from an experiment's configuration and the command line's overrides.

Also the helpers every check of a drill spec uses: errors naming the experiment file, the
dotted field and its line (:class:`FieldErrors`), and the timing and load checks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

from chaosdrill.errors import DrillError, InvalidInputError
from chaosdrill.load.spec import LoadSpec
from chaosdrill.targets.spec import TargetSpec
from chaosdrill.timescale import PRODUCTION, TimeScale

__all__ = [
    "EXTENSION_FIELD",
    "OPTIONS",
    "FieldErrors",
    "Located",
    "Settings",
    "SpecOverrides",
    "dotted",
    "finite_number",
    "resolve_load",
    "resolve_timing",
]

EXTENSION_FIELD = "extensions[chaosdrill]"

P = ParamSpec("P")
T = TypeVar("T")

Located = Callable[[Sequence[str | int]], int | None]
"""The line of a field path in the experiment file (None where unknown)."""


@dataclass(frozen=True)
class SpecOverrides:
    """What the command line (or a plan) sets over the experiment's configuration.

    None leaves the experiment's value (or the default). Times are production seconds.
    """

    env_name: str | None = None
    time_scale: float | None = None
    hold_production_s: float | None = None
    reports: Path | None = None
    recovery_timeout_production_s: float | None = None
    mttd_target_s: float | None = None
    mttr_target_s: float | None = None
    load: Mapping[str, Any] | None = None

    def configuration(self) -> dict[str, Any]:
        """The overrides as Chaos Toolkit configuration keys (the given ones only)."""
        values = {
            "chaosdrill_env": self.env_name,
            "chaosdrill_time_scale": self.time_scale,
            "chaosdrill_hold_s": self.hold_production_s,
            "chaosdrill_reports": str(self.reports) if self.reports else None,
            "chaosdrill_recovery_timeout_s": self.recovery_timeout_production_s,
            "chaosdrill_mttd_target_s": self.mttd_target_s,
            "chaosdrill_mttr_target_s": self.mttr_target_s,
            "chaosdrill_load": dict(self.load) if self.load else None,
        }
        return {k: v for k, v in values.items() if v is not None}


OPTIONS = {
    "chaosdrill_env": "--name",
    "chaosdrill_time_scale": "--time-scale",
    "chaosdrill_hold_s": "--hold",
    "chaosdrill_reports": "--reports",
    "chaosdrill_recovery_timeout_s": "--recovery-timeout",
    "chaosdrill_mttd_target_s": "--mttd-target",
    "chaosdrill_mttr_target_s": "--mttr-target",
    "chaosdrill_load": "--load",
}


class FieldErrors:
    """The errors of one experiment file: each names ``source``, the field and its line.

    By default the first error ends the check (it is raised). With ``collect``, each check
    run through :meth:`attempt` that fails is recorded in :attr:`problems` and the check goes
    on, so every independent problem of a file is found in one pass; what depends on a
    failed value is skipped (see :meth:`checked`), so it adds no problem of its own.
    """

    def __init__(self, source: str, located: Located, *, collect: bool = False) -> None:
        self.source = source
        self.located = located
        self.collect = collect
        self.problems: list[InvalidInputError] = []

    def error(self, message: str, path: Sequence[str | int], name: str | None = None) -> NoReturn:
        """Raise InvalidInputError for ``path`` (its line where known), named ``name``."""
        raise InvalidInputError(
            message,
            source=self.source,
            line=self.located(path) if path else None,
            field=name or dotted(path),
        )

    def rethrow(self, exc: InvalidInputError, path: Sequence[str | int], name: str) -> NoReturn:
        """Re-raise a nested check's error under this file and field."""
        sub = exc.field or ""
        for prefix in ("fault.params", "params"):
            if sub.startswith(prefix):
                sub = sub[len(prefix) :].lstrip(".")
        keys = [*path, *sub.split(".")] if sub else list(path)
        self.error(exc.detail, keys, f"{name}.{sub}" if sub else name)

    def attempt(self, check: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T | None:
        """``check(*args, **kwargs)``; when collecting, its error is recorded and None returned.

        Not collecting, the error propagates (the first problem ends the check).
        """
        try:
            return check(*args, **kwargs)
        except InvalidInputError as exc:
            if not self.collect:
                raise
            self.problems.append(exc)
        except _Skipped:
            pass
        return None

    def checked(self, value: T | None) -> T:
        """The result of a check that passed; a failed one (None) skips what depends on it.

        The skip ends the enclosing :meth:`attempt` without a problem of its own: the
        failed check has recorded its problem already.
        """
        if value is None:
            raise _Skipped("skipped: it depends on a value that has a problem")
        return value


class _Skipped(DrillError):
    """A check skipped because a value it needs failed its own check (already recorded).

    Not an InvalidInputError, so a check that turns a nested InvalidInputError into its own
    does not take a skip for a problem; it never leaves :meth:`FieldErrors.attempt`.
    """


def dotted(path: Sequence[str | int]) -> str:
    """A field path as the errors name it: ``method[0].provider.arguments.kind``."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


def finite_number(
    value: Any,
    path: Sequence[str | int],
    name: str,
    r: FieldErrors,
    *,
    minimum: float,
    strict: bool,
) -> float:
    """A finite number above (``strict``) or at least ``minimum``."""
    if isinstance(value, str) and value.strip():
        with contextlib.suppress(ValueError):
            value = float(value)
    bound = f"above {minimum:g}" if strict else f"at least {minimum:g}"
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        ok = math.isfinite(value) and (value > minimum if strict else value >= minimum)
    if not ok:
        r.error(f"expected a finite number {bound}, got {value!r}", path, name)
    return float(value)


class Settings:
    """The configuration with the overrides over it, and where each value came from."""

    def __init__(self, configuration: Mapping[str, Any] | None, overrides: SpecOverrides) -> None:
        self.values = {**(configuration or {})}
        self.given = overrides.configuration()
        self.values.update(self.given)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` (an empty one counts as unset)."""
        value = self.values.get(key)
        return default if value in (None, "") else value

    def where(self, key: str) -> tuple[tuple[str | int, ...], str]:
        """Where ``key``'s value came from: its path in the file and its name in errors."""
        if key in self.given:
            return (), OPTIONS[key]
        return ("configuration", key), f"configuration.{key}"


_TIMING: tuple[tuple[str, float | None, bool], ...] = (
    ("chaosdrill_time_scale", 1.0, True),
    ("chaosdrill_hold_s", PRODUCTION.hold_s, False),
    ("chaosdrill_recovery_timeout_s", None, True),
    ("chaosdrill_mttd_target_s", None, True),
    ("chaosdrill_mttr_target_s", None, True),
)
"""The timing settings in the order they are checked: key, default, whether 0 is refused."""


def resolve_timing(conf: Settings, r: FieldErrors) -> tuple[TimeScale, float, float | None]:
    """Time scale (1 to 1000), hold (>= 0), recovery timeout and targets (> 0)."""
    attempted: dict[str, float | None] = {}
    for key, default, strict in _TIMING:
        value = conf.get(key, default)
        if value is not None:
            path, name = conf.where(key)
            attempted[key] = r.attempt(
                finite_number, value, path, name, r, minimum=0, strict=strict
            )
    got = {key: r.checked(value) for key, value in attempted.items()}
    targets = {
        attr: got[key]
        for attr, key in (
            ("mttd_target_s", "chaosdrill_mttd_target_s"),
            ("mttr_target_s", "chaosdrill_mttr_target_s"),
        )
        if key in got
    }
    try:
        scale = TimeScale(
            got["chaosdrill_time_scale"], production=dataclasses.replace(PRODUCTION, **targets)
        )
    except InvalidInputError as exc:
        path, name = conf.where("chaosdrill_time_scale")
        r.error(exc.detail, path, name)
    return scale, got["chaosdrill_hold_s"], got.get("chaosdrill_recovery_timeout_s")


def resolve_load(
    ext: Mapping[str, Any],
    at: tuple[str | int, ...],
    conf: Settings,
    r: FieldErrors,
    target: TargetSpec | None = None,
) -> LoadSpec:
    """The extension's load with the overrides' over it, checked as a LoadSpec.

    For a workspace's ``target``, the load runs the target's flows (weights name them).
    """
    given = ext.get("load") or {}
    override = conf.get("chaosdrill_load") or {}
    opath, oname = conf.where("chaosdrill_load")
    sources = (
        (given, (*at, "load"), f"{EXTENSION_FIELD}.load"),
        (override, opath, oname),
    )
    mappings = [r.attempt(_load_mapping, value, path, name, r) for value, path, name in sources]
    known = [f.name for f in dataclasses.fields(LoadSpec) if f.name != "flows"]
    passed = [
        r.attempt(_known_key, key, known, (*path, key), f"{name}.{key}", r)
        for mapping, (_, path, name) in zip(mappings, sources, strict=True)
        for key in mapping or {}
    ]
    for value in [*mappings, *passed]:
        r.checked(value)
    merged = {**given, **override}
    if target is not None and not target.reference:
        merged["flows"] = [f.to_dict() for f in target.flows]
    try:
        return LoadSpec(**merged)
    except InvalidInputError as exc:
        key = exc.field or ""
        path, name = (
            (opath, oname) if key in override else ((*at, "load"), f"{EXTENSION_FIELD}.load")
        )
        r.error(exc.detail, (*path, key) if path else (), f"{name}.{key}")


def _load_mapping(
    value: Any, path: Sequence[str | int], name: str, r: FieldErrors
) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        r.error(f"expected a mapping of LoadSpec fields, got {value!r}", path, name)
    return value


def _known_key(
    key: str, known: Sequence[str], path: Sequence[str | int], name: str, r: FieldErrors
) -> str:
    if key not in known:
        r.error(f"unknown key {key!r}; expected LoadSpec fields: {', '.join(known)}", path, name)
    return key
