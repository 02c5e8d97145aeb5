"""Faulty releases: a revision whose new code path fails requests, or leaks memory.

A release fault is a real rolling deploy (``env.deploy_revision``) of a revision that
carries the current revision's settings and flags plus the change that breaks it, so the
service behaves exactly as the previous release did apart from the fault. It is reverted
the way an on-call engineer would: ``rollback`` (``kubectl rollout undo``), and only while
the faulty version is the one running, so a revert never undoes someone else's release.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from typing import Any, ClassVar

from chaosdrill.environments.base import Environment, RevisionInfo
from chaosdrill.errors import OperationError
from chaosdrill.faults.base import ActionRule, Fault, register
from chaosdrill.faults.params import check_number, check_text

MAX_REPLICAS = 16  # the most any backend runs (the local one's limit)

__all__ = ["BadRelease", "LeakyRelease"]

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


def current_revision(env: Environment) -> RevisionInfo:
    """The revision the deployment runs now."""
    for rev in env.rollout_history():
        if rev.current:
            return rev
    raise OperationError("the rollout history has no current revision")


class _ReleaseFault(Fault):
    """A deploy of a faulty revision, reverted by rolling back to the release of before.

    ``revert_to_revision`` and ``revert_to_replicas`` are the revision and the replica
    count the deployment had before the fault; :meth:`bind` fills them in from the
    environment before the ledger entry is written, so a revert after a kill -9 in the
    middle of the rollout knows where to return.
    """

    defaults: ClassVar[dict[str, Any]] = {
        "version": "",
        "revert_to_revision": None,
        "revert_to_replicas": None,
    }

    def validate(self) -> None:
        """Check the version string and the revision and replica count to return to."""
        check_text(
            self.kind,
            self.params,
            "version",
            pattern=_VERSION,
            expected="a version of letters, digits and . _ + - (up to 64)",
        )
        check_number(
            self.kind, self.params, "revert_to_revision", minimum=1, integer=True, optional=True
        )
        check_number(
            self.kind,
            self.params,
            "revert_to_replicas",
            minimum=0,
            maximum=MAX_REPLICAS,
            integer=True,
            optional=True,
        )

    def bind(self, env: Environment) -> Fault:
        """The fault with the current revision and replica count as where a revert returns."""
        if self.params["revert_to_revision"] is not None:
            return self
        status = env.deployment_status()
        return type(self)(
            **{
                **self.params,
                "revert_to_revision": status.revision,
                "revert_to_replicas": status.desired,
            }
        )

    @abstractmethod
    def change(self) -> tuple[dict[str, Any], dict[str, bool]]:
        """Settings and flags the faulty release adds to the current revision's."""

    def inject(self, env: Environment) -> None:
        """Roll out the faulty revision to every replica (new ones UP before old ones go).

        Raises:
            OperationError: if the faulty version is already running (inject it once), or
                the rollout fails.
        """
        current = current_revision(env)
        version = self.params["version"]
        if current.version == version:
            raise OperationError(
                f"version {version} already runs (revision {current.revision}); "
                f"fault {self.kind!r} is already active"
            )
        settings, flags = self.change()
        env.deploy_revision(version, {**current.settings, **settings}, {**current.flags, **flags})

    def revert(self, env: Environment) -> None:
        """Back to the revision and replica count of before, if the faulty version runs.

        The truth decides, not a record: the environment first makes its records agree
        with what runs and finishes a rollout a killed process left half-done; then, if any
        replica serves the faulty version (or the deployment is on its way to it), every
        replica is replaced by one of the revision of before, and the replica count of
        before is restored. A faulty version no replica serves any more (someone rolled
        back, or deployed a fix) is left alone: a revert never undoes another release.
        """
        env.reconcile()
        if not self.is_active(env):
            return
        to = self.params["revert_to_revision"]
        # unbound (an entry written before faults were bound): undo the last rollout
        env.rollback(to_revision=None if to is None else int(to))
        replicas = self.params["revert_to_replicas"]
        if replicas is not None and env.deployment_status().desired != replicas:
            env.scale(int(replicas))
        if self.is_active(env):
            raise OperationError(
                f"rolled back, but version {self.params['version']} still runs: the revision "
                "rolled back to carries it too; deploy a good revision"
            )

    def is_active(self, env: Environment) -> bool:
        """True while any replica serves the faulty version, or the current revision is it."""
        if current_revision(env).version == str(self.params["version"]):
            return True
        return any(
            rep.version == self.params["version"] for rep in env.deployment_status().replicas
        )


@register
class BadRelease(_ReleaseFault):
    """A release whose new checkout path fails a share of enrollments with 500.

    Flag ``new_checkout`` on, with ``checkout_failure_rate`` = ``failure_rate``: that share
    of ``POST /api/enrollments`` answers 500 (no row is written). Users see failed
    purchases; the error-rate alert fires.
    """

    kind = "bad-release"

    subsystem = "the deployment: what was rolled out last?"
    scenario = "high-error-rate"
    resolved_by = (ActionRule("rollback"), ActionRule("deploy_revision"))
    description = "deploy a revision whose new checkout code fails a share of enrollments"
    defaults: ClassVar[dict[str, Any]] = {
        **_ReleaseFault.defaults,
        "version": "1.1.0-bad",
        "failure_rate": 0.6,
    }

    def validate(self) -> None:
        """Check the version and that the failure rate is a share from 0 to 1."""
        super().validate()
        check_number(self.kind, self.params, "failure_rate", minimum=0.0, maximum=1.0)

    def requires(self) -> tuple[str, ...]:
        """Revisions, and the flag whose code path fails."""
        return ("revisions", "flag:new_checkout")

    def change(self) -> tuple[dict[str, Any], dict[str, bool]]:
        """Turn ``new_checkout`` on with the failure rate."""
        return {"checkout_failure_rate": float(self.params["failure_rate"])}, {"new_checkout": True}


@register
class LeakyRelease(_ReleaseFault):
    """A release whose new recommendations code keeps every request's data forever.

    Flag ``recommendations_cache`` on with ``leak_kib_per_request`` KiB retained per API
    request: each replica's resident memory grows with traffic until it is replaced.
    """

    kind = "leaky-release"

    subsystem = "the deployment: what was rolled out last?"
    scenario = "memory-leak"
    resolved_by = (ActionRule("rollback"), ActionRule("deploy_revision"))
    description = "deploy a revision whose new code retains memory on every request"
    defaults: ClassVar[dict[str, Any]] = {
        **_ReleaseFault.defaults,
        "version": "1.1.0-leaky",
        "leak_kib_per_request": 512,
    }

    def validate(self) -> None:
        """Check the version and the leak size (1 KiB to 64 MiB per request)."""
        super().validate()
        check_number(
            self.kind, self.params, "leak_kib_per_request", minimum=1, maximum=65536, integer=True
        )

    def requires(self) -> tuple[str, ...]:
        """Revisions, and the flag whose code leaks."""
        return ("revisions", "flag:recommendations_cache")

    def change(self) -> tuple[dict[str, Any], dict[str, bool]]:
        """Turn ``recommendations_cache`` on with the leak size."""
        return {"leak_kib_per_request": int(self.params["leak_kib_per_request"])}, {
            "recommendations_cache": True
        }
