"""What every fault is: ``inject()``, an idempotent ``revert()``, and ``is_active()``.

A fault is recorded in the fault ledger *before* it is applied, and ``revert()`` must work
from the fault's parameters and the environment alone (the process that injected it may have
been killed with -9), any number of times.

Parameters that name a secret (a password, a token) are written nowhere in clear: the ledger
and ``to_dict()`` (the timeline, results, reports) hold them redacted
(:mod:`chaosdrill.faults.redaction`), so ``revert()`` and ``is_active()`` must not need them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from chaosdrill.environments.base import Environment
from chaosdrill.errors import InvalidInputError
from chaosdrill.faults.redaction import redact

__all__ = ["HARMFUL", "REGISTRY", "ActionRule", "Fault", "make_fault", "register"]


@dataclass(frozen=True)
class ActionRule:
    """An operation a person may run, optionally with arguments matching ``matches``.

    ``op`` is an Environment operation's name (as runbooks and ``chaosdrill ops`` call them);
    ``matches`` is a regular expression searched, case-insensitively, in the arguments as
    text (for SQL, the statement).
    """

    op: str
    matches: str = ""

    def applies(self, op: str, args: str) -> bool:
        """Whether an operation with these arguments (as text) is this rule's."""
        return op == self.op and (not self.matches or bool(re.search(self.matches, args, re.I)))


#: Operations that make any incident worse: the database or the cache taken down, a
#: failover while the primary is healthy (it may lose acknowledged writes).
HARMFUL: tuple[ActionRule, ...] = (
    ActionRule("crash_primary"),
    ActionRule("stop_database"),
    ActionRule("promote_replica"),
    ActionRule("stop_cache"),
    ActionRule("freeze_cache"),
)


class Fault(ABC):
    """One concrete cause of a scenario, applied to a real environment.

    Subclasses set ``kind`` (registry name), ``scenario`` and ``description``, declare their
    parameters with defaults in ``defaults`` and implement the three operations.
    """

    kind: ClassVar[str]
    scenario: ClassVar[str]
    description: ClassVar[str]
    subsystem: ClassVar[str] = ""
    """Where to look (a training session's second hint), without naming the cause."""
    resolved_by: ClassVar[tuple[ActionRule, ...]] = ()
    """Operations that remove the cause (a trainee's action that helped)."""
    harms: ClassVar[tuple[ActionRule, ...]] = HARMFUL
    """Operations known to make this incident worse (a trainee's action that harmed)."""
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise InvalidInputError(
                f"unknown parameter(s) {', '.join(sorted(unknown))} for fault {self.kind!r}; "
                f"expected: {', '.join(sorted(self.defaults)) or 'none'}",
                field="fault.params",
            )
        self.params: dict[str, Any] = {**self.defaults, **params}
        self.validate()

    def validate(self) -> None:  # noqa: B027 - an optional hook
        """Check ``self.params``; raise InvalidInputError naming the field."""

    def requires(self) -> tuple[str, ...]:
        """What the fault needs of the target (capabilities, see ``chaosdrill.targets.spec``).

        Checked against the target before a drill starts; the default needs only the
        database every target has.
        """
        return ()

    def bind(self, env: Environment) -> Fault:
        """The fault with what its revert needs from before the injection filled in.

        Called before the ledger entry is written, so that a revert after a kill -9 in the
        middle of ``inject`` still knows, from the entry alone, what the environment looked
        like before (the release to return to, the node that was the primary). The default
        needs nothing and returns the fault itself.
        """
        return self

    @abstractmethod
    def inject(self, env: Environment) -> None:
        """Apply the fault."""

    @abstractmethod
    def revert(self, env: Environment) -> None:
        """Undo the fault; idempotent, and works without anything ``inject`` remembered."""

    @abstractmethod
    def is_active(self, env: Environment) -> bool:
        """True while the fault is still in effect."""

    def to_dict(self) -> dict[str, Any]:
        """Kind and parameters, secrets redacted: what the ledger and reports may hold."""
        return {"kind": self.kind, "params": redact(self.params)}


REGISTRY: dict[str, type[Fault]] = {}


def register(cls: type[Fault]) -> type[Fault]:
    """Class decorator adding a fault to the registry under its ``kind``."""
    REGISTRY[cls.kind] = cls
    return cls


def make_fault(kind: str, params: dict[str, Any] | None = None) -> Fault:
    """Build a registered fault; unknown kinds are a caller's mistake."""
    from chaosdrill import faults  # noqa: F401 - registers the built-in faults

    if kind not in REGISTRY:
        raise InvalidInputError(
            f"unknown fault {kind!r}; expected one of: {', '.join(sorted(REGISTRY))}",
            field="fault.kind",
        )
    return REGISTRY[kind](**(params or {}))
