"""Service deployment operations: rollout restart, scale, deploy, rollback, flags, logs, top.

Every replica change is made so users do not notice: a new replica is started, answers
HTTP and is UP in HAProxy before an old one is drained (no new requests, in-flight ones
finish) and stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import threading
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
_REPLICA_NAME = re.compile(r"^app-(\d+)$")


def _serial(name: str) -> int:
    match = _REPLICA_NAME.match(name)
    return int(match.group(1)) if match else 0


class DeploymentOps:
    """Deployment operations of the local environment (mixed into LocalEnvironment)."""

    ctx: LocalContext

    @contextlib.contextmanager
    def _mutate(self) -> Iterator[EnvState]:
        """Lock the environment, reload its state, reconcile it, save it afterwards."""
        with self.ctx.state.locked():
            self.ctx.state = EnvState.load(self.ctx.root)
            try:
                self._reconcile_records()
                yield self.ctx.state
            finally:
                self.ctx.state.save()

    # reconciling -----------------------------------------------------------------
    def _reconcile_records(self) -> list[str]:
        """Make the state, the supervisor and HAProxy agree on the replicas; say what changed.

        A replica the supervisor runs that the state does not list was started by an
        operation that never finished (a kill -9 between starting it and recording it): it
        is drained and removed. A replica the state lists that the supervisor no longer has
        leaves the state. HAProxy then routes to exactly the state's replicas, and its
        configuration file and Prometheus' targets are written again.
        """
        st, sup, lb = self.ctx.state, self.ctx.supervisor, self.ctx.haproxy
        fixed: list[str] = []
        programs = {i["name"] for i in sup.all_info() if _REPLICA_NAME.match(i["name"])}
        known = {r.name for r in st.replicas}
        routed = set(lb.stats())
        for name in sorted(programs - known, key=_serial):
            if name in routed:
                lb.remove_server(name)
            sup.remove(name)
            (self.ctx.root / "runtime" / f"{name}.json").unlink(missing_ok=True)
            fixed.append(f"removed replica {name}: started by an operation that never finished")
        for rep in [r for r in st.replicas if r.name not in programs]:
            st.replicas.remove(rep)
            fixed.append(f"forgot replica {rep.name}: the supervisor no longer runs it")
        known = {r.name for r in st.replicas}
        routed = set(lb.stats())
        for name in sorted(routed - known):
            lb.remove_server(name)
            fixed.append(f"HAProxy no longer routes to {name}: no such replica")
        for rep in st.replicas:
            if rep.name not in routed:
                lb.add_server(rep.name, rep.port)
                fixed.append(f"HAProxy routes to {rep.name} again")
        if fixed:
            publish_servers(self.ctx)
            publish_targets(self.ctx)
            st.save()
        return fixed

    def reconcile(self) -> list[str]:
        """Records made to agree with what runs, and an interrupted rollout finished.

        The records: see :meth:`_reconcile_records`. A rollout whose process died (kill -9,
        a power cut) left its target in the state before it started a replica; it is
        finished now: every replica runs the target revision, as many as were asked for,
        and the history records it. Returns a line for each thing it changed.
        """
        with self.ctx.state.locked():
            st = self.ctx.state = EnvState.load(self.ctx.root)
            try:
                fixed = self._reconcile_records()
                pending = st.rollout
                if pending is not None:
                    self._converge(int(pending["revision"]), int(pending["replicas"]))
                    fixed.append(
                        f"finished an interrupted rollout: {pending['replicas']} replica(s) of "
                        f"revision {pending['revision']}"
                    )
            finally:
                st.save()
        return fixed

    # replicas ------------------------------------------------------------------
    def _start_replicas(self, revision: int, count: int) -> list[Replica]:
        """Start ``count`` replicas at once; return when all are UP in HAProxy.

        Starting them together (a surge) rather than one by one keeps a rollout of N
        replicas at about the time of one. Their names and ports are in the state's
        rollout record before the supervisor starts them. If any fails, every new one is
        removed again.
        """
        st, sup = self.ctx.state, self.ctx.supervisor
        new: list[Replica] = []
        for _ in range(count):
            used = set(st.ports.values()) | {r.port for r in [*st.replicas, *new]}
            new.append(
                Replica(
                    name=f"app-{st.next_serial}",
                    port=free_ports(1, avoid=used)[0],
                    revision=revision,
                )
            )
            st.next_serial += 1
        if st.rollout is not None:
            st.rollout["new"] = [dataclasses.asdict(r) for r in new]
        st.save()  # known before they run: a kill from here on leaves nothing unnamed
        for rep in new:
            sup.add(components.app_program(self.ctx, rep))
            sup.start_program(rep.name)
        # in the file before HAProxy hears of them: a restart in between keeps them
        publish_servers(self.ctx, [*st.replicas, *new])

        stopping = threading.Event()

        def ready(rep: Replica) -> None:
            wait_until(
                HttpStatus(f"http://127.0.0.1:{rep.port}/health", (200, 503)),
                REPLICA_READY_TIMEOUT,
                abort=lambda: "interrupted" if stopping.is_set() else sup.exited_reason(rep.name),
            )
            if stopping.is_set():
                raise OperationError("interrupted")
            self.ctx.haproxy.add_server(rep.name, rep.port)
            self.ctx.haproxy.wait_up(rep.name)

        pool = ThreadPoolExecutor(max_workers=max(1, count))
        try:
            futures = {rep.name: pool.submit(ready, rep) for rep in new}
            failed = {n: f.exception() for n, f in futures.items() if f.exception() is not None}
        except BaseException:  # a stop signal: no waiter may register a replica after this
            stopping.set()
            pool.shutdown(wait=True)
            self._discard(new)
            raise
        pool.shutdown(wait=True)
        if failed:
            name, exc = next(iter(failed.items()))
            tail = self.ctx.tail(name)
            self._discard(new)
            err = OperationError(f"replica {name} (revision {revision}) not ready: {exc}")
            if tail:
                err.add_note(f"last lines of the {name} log:\n{tail}")
            raise err
        st.replicas.extend(new)
        if st.rollout is not None:
            st.rollout["new"] = []
        publish_targets(self.ctx)
        st.save()
        return new

    def _discard(self, new: list[Replica]) -> None:
        """Remove replicas that were started but never recorded; the old ones still serve."""
        st = self.ctx.state
        publish_servers(self.ctx)
        routed = set(self.ctx.haproxy.stats())
        for rep in new:
            if rep.name in routed:
                self.ctx.haproxy.remove_server(rep.name)
            self.ctx.supervisor.remove(rep.name)
            (self.ctx.root / "runtime" / f"{rep.name}.json").unlink(missing_ok=True)
        if st.rollout is not None:
            st.rollout["new"] = []
        st.save()

    def _retire_replica(self, rep: Replica) -> None:
        st = self.ctx.state
        publish_servers(self.ctx, [r for r in st.replicas if r.name != rep.name])
        self.ctx.haproxy.remove_server(rep.name)
        st.replicas = [r for r in st.replicas if r.name != rep.name]
        publish_targets(self.ctx)
        self.ctx.supervisor.remove(rep.name)
        (self.ctx.root / "runtime" / f"{rep.name}.json").unlink(missing_ok=True)
        st.save()

    def _converge(self, revision: int, count: int, *, restart: bool = False) -> None:
        """Run exactly ``count`` replicas of ``revision``; record it in the history after.

        The target is written to the state first (its rollout record), so a process killed
        half-way leaves a state that says where it was going, and :meth:`reconcile` (or
        the next operation) gets there. Replicas of another revision (every one, with
        ``restart``) are replaced: the new ones UP first, then the old ones drained.
        Converging to where the deployment already is changes nothing.
        """
        st = self.ctx.state
        st.rollout = {"revision": revision, "replicas": count, "new": []}
        st.save()
        keep = [r for r in st.replicas if r.revision == revision and not restart]
        old = [r for r in st.replicas if r not in keep]
        try:
            if count > len(keep):
                self._start_replicas(revision, count - len(keep))
        except OperationError:
            st.rollout = None  # a replica that never got ready: the old ones still serve
            st.save()
            raise
        # from here a failure leaves the record: reconcile (or the next rollout) finishes it
        for rep in old:
            self._retire_replica(rep)
        while len(st.replicas) > count:
            self._retire_replica(st.replicas[-1])
        if st.revision_history[-1] != revision:
            st.revision_history.append(revision)
        st.rollout = None
        st.save()

    def _target(self, st: EnvState) -> int:
        """The revision the deployment is at or on its way to (an unfinished rollout's)."""
        return int(st.rollout["revision"]) if st.rollout is not None else st.current_revision

    # operations ------------------------------------------------------------------
    def deployment_status(self) -> DeploymentStatus:
        """Replicas with pid, supervisor state, load-balancer state and the version they serve.

        The version comes from each running replica itself (its admin API), not from the
        state: what users get, even when a record is wrong. While a rollout is under way
        (or after one was killed) the replicas it started are listed too, and ``desired``
        is its target count.
        """
        st = EnvState.load(self.ctx.root)
        self.ctx.state = st
        info = {i["name"]: i for i in self.ctx.supervisor.all_info()}
        lb = {name: s.status for name, s in self.ctx.haproxy.stats().items()}
        listed = list(st.replicas)
        if st.rollout is not None:
            known = {r.name for r in listed}
            listed += [
                Replica(**r)
                for r in st.rollout.get("new", [])
                if r["name"] in info and r["name"] not in known
            ]
        states = {r.name: info.get(r.name, {}).get("statename", "ABSENT") for r in listed}

        def served(rep: Replica) -> str | None:
            return self._served_version(rep) if states[rep.name] == "RUNNING" else None

        with ThreadPoolExecutor(max_workers=max(1, len(listed))) as pool:
            versions = list(pool.map(served, listed))
        reps = [
            ReplicaStatus(
                r.name,
                r.port,
                r.revision,
                info.get(r.name, {}).get("pid") or None,
                states[r.name],
                lb.get(r.name, "absent"),
                version,
            )
            for r, version in zip(listed, versions, strict=True)
        ]
        ready = sum(1 for r in reps if r.state == "RUNNING" and r.load_balancer.startswith("UP"))
        desired = int(st.rollout["replicas"]) if st.rollout is not None else len(st.replicas)
        current = st.revision(st.current_revision)
        return DeploymentStatus(desired, ready, current["revision"], current["version"], reps)

    def _served_version(self, rep: Replica) -> str | None:
        """The version a replica says it runs (None if it does not answer).

        The reference target says it on its admin API; a workspace's target may say it as
        ``version`` in its health check's JSON.
        """
        target = self.ctx.state.target
        try:
            if target.reference:
                r = httpx.get(
                    f"http://127.0.0.1:{rep.port}/admin/revision",
                    headers={"Authorization": f"Bearer {self.ctx.admin_token()}"},
                    timeout=2.0,
                )
            else:
                r = httpx.get(f"http://127.0.0.1:{rep.port}{target.health_path}", timeout=2.0)
            r.raise_for_status()
            version = r.json().get("version")
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        return version if isinstance(version, str) else None

    def rollout_restart(self) -> None:
        """Replace every replica (``kubectl rollout restart``)."""
        with self._mutate() as st:
            self._converge(self._target(st), len(st.replicas), restart=True)

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
            self._converge(self._target(st), replicas)

    def deploy_revision(
        self,
        version: str,
        settings: dict[str, Any] | None = None,
        flags: dict[str, bool] | None = None,
    ) -> int:
        """Add a revision and roll it out to every replica; return its number.

        The history records the revision once every replica runs it; a rollout that fails
        leaves the replicas of before serving and the history as it was.
        """
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
            _validate_revision(rev, st.target.reference)
            st.revisions.append(rev)
            write_atomic(st.revision_file(number), json.dumps(rev, indent=2))
            self._converge(number, len(st.replicas))
            return number

    def rollback(self, to_revision: int | None = None) -> int:
        """Roll back to the revision before the current one, or to ``to_revision``.

        ``kubectl rollout undo [--to-revision N]``. The current revision is the one the
        deployment is at or, after an interrupted rollout, on its way to. Rolling back to
        the revision every replica already runs changes nothing, so two rollbacks to one
        revision (two reverts at once) do not undo each other.
        """
        with self._mutate() as st:
            if to_revision is None:
                history = list(st.revision_history)
                if st.rollout is not None and history[-1] != self._target(st):
                    history.append(self._target(st))
                if len(history) < 2:
                    raise OperationError("no previous revision to roll back to")
                target = history[-2]
            else:
                try:
                    st.revision(to_revision)
                except KeyError:
                    raise InvalidInputError(
                        f"no revision {to_revision!r}; expected one of "
                        f"{', '.join(str(r['revision']) for r in st.revisions)}",
                        field="revision",
                    ) from None
                target = to_revision
            self._converge(target, len(st.replicas))
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
        target = st.target
        if not target.reference:
            raise OperationError(
                f"the target {target.name!r} takes no flags at runtime (only the reference "
                "target has an admin API for them); release them in a revision instead "
                "(deploy_revision with flags)"
            )
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


def _validate_revision(rev: dict[str, Any], reference: bool = True) -> None:
    """Check a revision: the reference target's own checks, else settings and flags' shape."""
    if not reference:
        if not all(isinstance(k, str) for k in rev["settings"]):
            raise InvalidInputError("expected setting names as text", field="settings")
        bad = [k for k, v in rev["flags"].items() if not isinstance(v, bool)]
        if bad or not all(_FLAG_NAME.match(str(k)) for k in rev["flags"]):
            raise InvalidInputError(
                "expected flags of a-z, 0-9 and _ set to true or false", field="flags"
            )
        return
    from chaosdrill.targets.revenue_engine.revision import Revision

    try:
        Revision.from_dict(rev)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(str(exc), field="revision") from exc
