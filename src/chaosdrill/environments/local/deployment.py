"""Service deployment operations: rollout restart, scale, deploy, rollback, flags, logs, top.

Every replica change is made so users do not notice: a new replica is started, answers
HTTP and is UP in HAProxy before an old one is drained (no new requests, in-flight ones
finish) and stopped.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psutil

from chaosdrill.environments.base import (
    DeploymentStatus,
    LogQuery,
    ProcessUsage,
    ReplicaStatus,
    RevisionInfo,
)
from chaosdrill.environments.local import components
from chaosdrill.environments.local.context import LocalContext
from chaosdrill.environments.local.lifecycle import publish_servers, publish_targets
from chaosdrill.environments.local.state import EnvState, Replica
from chaosdrill.environments.readiness import HttpStatus, free_ports, wait_until
from chaosdrill.errors import InvalidInputError, OperationError
from chaosdrill.paths import write_atomic

__all__ = ["MAX_REPLICAS", "DeploymentOps"]

MAX_REPLICAS = 16
REPLICA_READY_TIMEOUT = 30.0
_FLAG_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class DeploymentOps:
    """Deployment operations of the local environment (mixed into LocalEnvironment)."""

    ctx: LocalContext

    @contextlib.contextmanager
    def _mutate(self) -> Iterator[EnvState]:
        """Lock the environment, reload its state, save it afterwards."""
        with self.ctx.state.locked():
            self.ctx.state = EnvState.load(self.ctx.root)
            try:
                yield self.ctx.state
            finally:
                self.ctx.state.save()

    # replicas ------------------------------------------------------------------
    def _start_replicas(self, revision: int, count: int) -> list[Replica]:
        """Start ``count`` replicas at once; return when all are UP in HAProxy.

        Starting them together (a surge) rather than one by one keeps a rollout of N
        replicas at about the time of one. If any fails, every new one is removed again.
        """
        st, sup = self.ctx.state, self.ctx.supervisor
        new: list[Replica] = []
        for _ in range(count):
            used = set(st.ports.values()) | {r.port for r in [*st.replicas, *new]}
            rep = Replica(
                name=f"app-{st.next_serial}",
                port=free_ports(1, avoid=used)[0],
                revision=revision,
            )
            st.next_serial += 1
            sup.add(components.app_program(self.ctx, rep))
            sup.start_program(rep.name)
            new.append(rep)
        # in the file before HAProxy hears of them: a restart in between keeps them
        publish_servers(self.ctx, [*st.replicas, *new])

        def ready(rep: Replica) -> None:
            wait_until(
                HttpStatus(f"http://127.0.0.1:{rep.port}/health", (200, 503)),
                REPLICA_READY_TIMEOUT,
                abort=lambda: sup.exited_reason(rep.name),
            )
            self.ctx.haproxy.add_server(rep.name, rep.port)
            self.ctx.haproxy.wait_up(rep.name)

        with ThreadPoolExecutor(max_workers=max(1, count)) as pool:
            futures = {rep.name: pool.submit(ready, rep) for rep in new}
        failed = {n: f.exception() for n, f in futures.items() if f.exception() is not None}
        if failed:
            name, exc = next(iter(failed.items()))
            tail = self.ctx.tail(name)
            publish_servers(self.ctx)
            for rep in new:
                self.ctx.haproxy.remove_server(rep.name)
                sup.remove(rep.name)
            err = OperationError(f"replica {name} (revision {revision}) not ready: {exc}")
            if tail:
                err.add_note(f"last lines of the {name} log:\n{tail}")
            raise err
        st.replicas.extend(new)
        publish_targets(self.ctx)
        st.save()
        return new

    def _retire_replica(self, rep: Replica) -> None:
        st = self.ctx.state
        publish_servers(self.ctx, [r for r in st.replicas if r.name != rep.name])
        self.ctx.haproxy.remove_server(rep.name)
        st.replicas = [r for r in st.replicas if r.name != rep.name]
        publish_targets(self.ctx)
        self.ctx.supervisor.remove(rep.name)
        (self.ctx.root / "runtime" / f"{rep.name}.json").unlink(missing_ok=True)
        st.save()

    def _replace_all(self, revision: int) -> None:
        """Every replica replaced: the new ones UP first, then the old ones drained."""
        old = list(self.ctx.state.replicas)
        self._start_replicas(revision, len(old))
        for rep in old:
            self._retire_replica(rep)

    # operations ------------------------------------------------------------------
    def deployment_status(self) -> DeploymentStatus:
        """Replicas with pid, supervisor state and load-balancer state."""
        st = EnvState.load(self.ctx.root)
        self.ctx.state = st
        info = {i["name"]: i for i in self.ctx.supervisor.all_info()}
        lb = {name: s.status for name, s in self.ctx.haproxy.stats().items()}
        reps = [
            ReplicaStatus(
                r.name,
                r.port,
                r.revision,
                info.get(r.name, {}).get("pid") or None,
                info.get(r.name, {}).get("statename", "ABSENT"),
                lb.get(r.name, "absent"),
            )
            for r in st.replicas
        ]
        ready = sum(1 for r in reps if r.state == "RUNNING" and r.load_balancer.startswith("UP"))
        current = st.revision(st.current_revision)
        return DeploymentStatus(len(reps), ready, current["revision"], current["version"], reps)

    def rollout_restart(self) -> None:
        """Replace every replica, one at a time (``kubectl rollout restart``)."""
        with self._mutate() as st:
            self._replace_all(st.current_revision)

    def scale(self, replicas: int) -> None:
        """Run exactly ``replicas`` replicas (0 to 16)."""
        if (
            isinstance(replicas, bool)
            or not isinstance(replicas, int)
            or not (0 <= replicas <= MAX_REPLICAS)
        ):
            raise InvalidInputError(
                f"expected an integer from 0 to {MAX_REPLICAS}, got {replicas!r}", field="replicas"
            )
        with self._mutate() as st:
            if len(st.replicas) < replicas:
                self._start_replicas(st.current_revision, replicas - len(st.replicas))
            while len(st.replicas) > replicas:
                self._retire_replica(st.replicas[-1])

    def deploy_revision(
        self,
        version: str,
        settings: dict[str, Any] | None = None,
        flags: dict[str, bool] | None = None,
    ) -> int:
        """Add a revision and roll it out to every replica; return its number."""
        if not isinstance(version, str) or not version.strip():
            raise InvalidInputError("expected a non-empty version string", field="version")
        with self._mutate() as st:
            number = max(int(r["revision"]) for r in st.revisions) + 1
            rev = {
                "version": version,
                "revision": number,
                "settings": dict(settings or {}),
                "flags": dict(flags or {}),
            }
            _validate_revision(rev)
            st.revisions.append(rev)
            write_atomic(st.revision_file(number), json.dumps(rev, indent=2))
            st.revision_history.append(number)
            try:
                self._replace_all(number)
            except OperationError:
                st.revision_history.pop()
                raise
            return number

    def rollback(self) -> int:
        """Roll back to the revision before the current one (``kubectl rollout undo``)."""
        with self._mutate() as st:
            if len(st.revision_history) < 2:
                raise OperationError("no previous revision to roll back to")
            target: int = st.revision_history[-2]
            st.revision_history.append(target)
            self._replace_all(target)
            return target

    def rollout_history(self) -> list[RevisionInfo]:
        """Every revision, the current one marked."""
        st = EnvState.load(self.ctx.root)
        return [
            RevisionInfo(
                r["revision"],
                r["version"],
                r["settings"],
                r["flags"],
                current=r["revision"] == st.current_revision,
            )
            for r in st.revisions
        ]

    def get_flags(self) -> dict[str, bool]:
        """Effective flags: the current revision's, overridden by those set at runtime."""
        st = EnvState.load(self.ctx.root)
        return {**st.revision(st.current_revision)["flags"], **st.flag_overrides}

    def set_flag(self, name: str, enabled: bool) -> dict[str, bool]:
        """Set a flag on every running replica and for replicas started later."""
        if not isinstance(name, str) or not _FLAG_NAME.match(name):
            raise InvalidInputError("expected a flag name of a-z, 0-9 and _", field="flag")
        if not isinstance(enabled, bool):
            raise InvalidInputError(f"expected true or false, got {enabled!r}", field="enabled")
        with self._mutate() as st:
            st.flag_overrides[name] = enabled
            self._push_flag(st, name, lambda _rep: enabled, "setting")
        return self.get_flags()

    def _push_flag(
        self, st: EnvState, name: str, value: Callable[[Replica], bool], verb: str
    ) -> None:
        """Rewrite each replica's runtime revision and set the flag through its admin API."""
        headers = {"Authorization": f"Bearer {self.ctx.admin_token()}"}
        for rep in st.replicas:
            components.write_runtime_revision(self.ctx, rep)
            try:
                httpx.put(
                    f"http://127.0.0.1:{rep.port}/admin/flags/{name}",
                    json={"enabled": value(rep)},
                    headers=headers,
                    timeout=2.0,
                ).raise_for_status()
            except httpx.HTTPError as exc:
                raise OperationError(f"{verb} flag {name} on {rep.name}: {exc}") from exc

    def clear_flag(self, name: str) -> dict[str, bool]:
        """Remove a flag set at runtime: each replica goes back to its revision's value.

        The override leaves the state and every replica's runtime revision file (so a
        replica restarted by the supervisor starts with the revision's value), and the
        revision's value is set on each running replica through its admin API. Clearing a
        flag that has no override is fine.
        """
        if not isinstance(name, str) or not _FLAG_NAME.match(name):
            raise InvalidInputError("expected a flag name of a-z, 0-9 and _", field="flag")
        with self._mutate() as st:
            st.flag_overrides.pop(name, None)
            self._push_flag(
                st,
                name,
                lambda rep: bool(st.revision(rep.revision)["flags"].get(name, False)),
                "clearing",
            )
        return self.get_flags()

    def logs(self, query: LogQuery) -> list[str]:
        """Last ``tail`` lines of a component's log (matching ``grep`` if given)."""
        self.ctx.state = EnvState.load(self.ctx.root)
        self.ctx.require_component(query.component)
        name = query.component
        path = (
            self.ctx.root / "logs" / f"{name}.log"
            if name != "supervisord"
            else (self.ctx.supervisor.log)
        )
        try:
            with open(path, "rb") as fh:
                fh.seek(0, 2)
                fh.seek(max(0, fh.tell() - 8 * 1024 * 1024))
                lines = fh.read().decode(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        if query.grep:
            pattern = re.compile(query.grep)
            lines = [ln for ln in lines if pattern.search(ln)]
        return lines[-query.tail :] if query.tail > 0 else lines

    def top(self) -> list[ProcessUsage]:
        """CPU share (over 0.2 s) and resident memory of each replica."""
        status = self.deployment_status()
        procs: list[tuple[str, psutil.Process]] = []
        for rep in status.replicas:
            if rep.pid:
                with contextlib.suppress(psutil.Error):
                    p = psutil.Process(rep.pid)
                    p.cpu_percent(None)
                    procs.append((rep.name, p))
        time.sleep(0.2)
        out = []
        for name, p in procs:
            with contextlib.suppress(psutil.Error):
                out.append(ProcessUsage(name, p.pid, p.cpu_percent(None), p.memory_info().rss))
        return out


def _validate_revision(rev: dict[str, Any]) -> None:
    from revenue_engine.revision import Revision

    try:
        Revision.from_dict(rev)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(str(exc), field="revision") from exc
