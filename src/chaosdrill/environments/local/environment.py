"""``LocalEnvironment``: real processes on 127.0.0.1 under one state directory."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from chaosdrill.environments import holding
from chaosdrill.environments.base import (
    BasicAuth,
    ComponentStatus,
    Endpoints,
    MonitoringSettings,
)
from chaosdrill.environments.local import components, lifecycle
from chaosdrill.environments.local.cache import CacheOps
from chaosdrill.environments.local.context import LocalContext
from chaosdrill.environments.local.database import DatabaseOps
from chaosdrill.environments.local.deployment import MAX_REPLICAS, DeploymentOps
from chaosdrill.environments.local.postgres import db_os_user
from chaosdrill.environments.local.programs import Programs, find_programs
from chaosdrill.environments.local.state import (
    STATE_FILE,
    EnvSettings,
    EnvState,
    name_lock,
    pager_db,
    state_root,
)
from chaosdrill.environments.readiness import ConfigReloaded, NotReady, wait_until
from chaosdrill.errors import (
    BrokenStateError,
    EnvironmentExistsError,
    EnvironmentNotFoundError,
    InvalidInputError,
    OperationError,
)
from chaosdrill.load import LoadRun, LoadSpec, active_run, start_load
from chaosdrill.pager import Page, PagerStore
from chaosdrill.targets.spec import TargetSpec
from chaosdrill.workspace import current as current_workspace

__all__ = ["LocalEnvironment", "list_environments", "validate_name"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def validate_name(name: str) -> str:
    """Check an environment name (a-z, 0-9, '-', up to 32 characters)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            "expected 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit, "
            f"got {name!r}",
            field="name",
        )
    return name


def _validate_settings(settings: EnvSettings) -> None:
    checks: list[tuple[str, bool, str]] = [
        (
            "replicas",
            1 <= settings.replicas <= MAX_REPLICAS,
            f"an integer from 1 to {MAX_REPLICAS}",
        ),
        ("scrape_interval_s", 0.1 <= settings.scrape_interval_s <= 300, "0.1 to 300 seconds"),
        (
            "evaluation_interval_s",
            0.1 <= settings.evaluation_interval_s <= 300,
            "0.1 to 300 seconds",
        ),
        ("group_wait_s", 0.0 < settings.group_wait_s <= 600, "more than 0, up to 600 seconds"),
        ("enrollments", 0 <= settings.enrollments <= 50_000_000, "0 to 50,000,000"),
        ("courses", 1 <= settings.courses <= 100_000, "1 to 100,000"),
        ("pool_size", 1 <= settings.pool_size <= 80, "1 to 80"),
    ]
    for field, ok, expected in checks:
        value = getattr(settings, field)
        if isinstance(value, bool) or not ok:
            raise InvalidInputError(f"expected {expected}, got {value!r}", field=field)


def _with_target(settings: EnvSettings) -> EnvSettings:
    """``settings`` with the workspace's target when they name none (the reference: None)."""
    if settings.target is not None:
        return settings
    spec = current_workspace().target()
    return settings if spec.reference else dataclasses.replace(settings, target=spec.to_dict())


def _refuse_other_target(env: LocalEnvironment) -> None:
    """Refuse an environment that runs another target than the workspace's."""
    wanted, running = current_workspace().target(), env.target()
    if (wanted.name, wanted.reference) != (running.name, running.reference):
        raise InvalidInputError(
            f"environment {env.name!r} runs the target {running.name!r}, but this "
            f"workspace's target is {wanted.name!r} ({wanted.source}); take it down "
            f"(`chaosdrill env down --name {env.name}`) or use another --name",
            field="target",
        )


def _env_root(name: str) -> Path:
    return state_root() / "envs" / validate_name(name)


def list_environments() -> list[str]:
    """Names of environments that have a state directory."""
    base = state_root() / "envs"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / STATE_FILE).exists())


class LocalEnvironment(DeploymentOps, DatabaseOps, CacheOps):
    """A local environment of real processes; create with :meth:`up`, attach with :meth:`attach`.

    Usable as a context manager: ``with LocalEnvironment.up("demo") as env: ...`` takes it
    down on exit. ``down()`` twice is fine; operations after ``down()`` are refused.
    """

    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx
        self.name = ctx.state.name
        self._closed = False

    # lifecycle -------------------------------------------------------------------
    @classmethod
    def up(
        cls,
        name: str = "default",
        settings: EnvSettings | None = None,
        progress: Callable[[str], None] = lambda _: None,
    ) -> LocalEnvironment:
        """Bring a new environment up; refuse a name that is already up.

        A state directory left by a crashed run (no supervisor alive) is cleared first,
        unless a drill that still runs holds it. Ups and downs of one name take turns
        (:func:`~chaosdrill.environments.local.state.name_lock`): of two concurrent ups, one
        brings it up and the other is refused.

        Raises:
            EnvironmentExistsError: the name is up.
            EnvironmentBusyError: the name's crashed environment is held by a live drill.
        """
        settings = _with_target(settings or EnvSettings())
        root = _env_root(name)
        _validate_settings(settings)
        programs = find_programs()
        with name_lock(name):
            return cls._up(name, root, settings, programs, progress)

    @classmethod
    def _up(
        cls,
        name: str,
        root: Path,
        settings: EnvSettings,
        programs: Programs,
        progress: Callable[[str], None] = lambda _: None,
    ) -> LocalEnvironment:
        """:meth:`up`, with the name's lock held by the caller."""
        if (root / STATE_FILE).exists():
            stale = cls._load(root)
            if stale.ctx.supervisor.alive():
                raise EnvironmentExistsError(
                    f"environment {name!r} is already up (state in {root}); use it, or take "
                    f"it down first with `chaosdrill env down --name {name}`"
                )
            holding.refuse_if_held(root, name)
            lifecycle.bring_down(stale.ctx)
        elif root.exists():
            holding.refuse_if_held(root, name)
            lifecycle.clear_state_dir(root)
        root.mkdir(mode=0o700, parents=True)
        state = lifecycle.new_state(name, root, settings, db_os_user())
        ctx = LocalContext(state, programs)
        lifecycle.bring_up(ctx, progress)
        return cls(ctx)

    @classmethod
    def _load(cls, root: Path) -> LocalEnvironment:
        return cls(LocalContext(EnvState.load(root), find_programs()))

    @classmethod
    def attach(cls, name: str = "default") -> LocalEnvironment:
        """The running environment of this name."""
        root = _env_root(name)
        if not (root / STATE_FILE).exists():
            raise EnvironmentNotFoundError(
                f"no environment named {name!r} is up; start one with "
                f"`chaosdrill env up --name {name}`"
            )
        return cls._load(root)

    @classmethod
    def take_down(cls, name: str = "default", *, force: bool = False) -> None:
        """Take the environment ``name`` down, even when its state is torn or stale.

        With a readable state this is :meth:`down`; with a torn or missing ``env.json`` in
        a state directory that is still there, every process carrying the environment's
        marker is stopped and the directory removed all the same.

        Raises:
            EnvironmentBusyError: a drill that still runs holds it (``force``: take it
                down all the same; that drill then fails).
        """
        root = _env_root(name)
        with name_lock(name):
            if not force:
                holding.refuse_if_held(root, name)
            try:
                environment = cls.attach(name)
            except (BrokenStateError, EnvironmentNotFoundError):
                if not root.exists():
                    raise
                lifecycle.clear_state_dir(root)
                return
            environment.bring_down()

    @classmethod
    def open(
        cls,
        name: str = "default",
        time_scale: float = 1.0,
        replicas: int | None = None,
        claim: holding.Claim | None = None,
    ) -> tuple[LocalEnvironment, bool, holding.Hold | None]:
        """The running environment ``name`` as it is, else a new one at ``time_scale``.

        Returns the environment, whether the caller owns it (brought it up, so takes it
        down) and, with a ``claim``, the hold taken for it. Attaching, bringing up and
        taking the hold happen under the name's lock, so no other opener sees the
        environment half up or gets in between. A state directory whose supervisor is gone
        (a crashed run) is cleared and brought up again. ``time_scale`` and ``replicas``
        apply only to a new environment: the caller re-times one it attached to, once it
        holds it.

        Raises:
            EnvironmentBusyError: with a ``claim``, another live process holds it;
                nothing was changed.
        """
        root = _env_root(name)
        with name_lock(name):
            env: LocalEnvironment | None = None
            with contextlib.suppress(EnvironmentNotFoundError):
                found = cls.attach(name)
                env = found if found.alive() else None
            if env is not None:
                _refuse_other_target(env)
            if claim is not None and env is not None:
                return env, False, claim.take(env.root, name)
            if env is not None:
                return env, False, None
            settings = _with_target(EnvSettings.for_time_scale(time_scale))
            if replicas is not None:
                settings = dataclasses.replace(settings, replicas=replicas)
            _validate_settings(settings)
            env = cls._up(name, root, settings, find_programs())
            return env, True, claim.take(env.root, name) if claim is not None else None

    def alive(self) -> bool:
        """True while the environment's supervisor runs (False after a crash or ``down()``)."""
        return not self._closed and self.ctx.supervisor.alive()

    def down(self) -> None:
        """Stop every process, free every port, remove the state directory.

        Waits for an up or down of the same name under way in another process.
        """
        if self._closed:
            return
        with name_lock(self.name):
            self.bring_down()

    def bring_down(self) -> None:
        """:meth:`down`, with the name's lock already held by the caller."""
        if self._closed:
            return
        lifecycle.bring_down(self.ctx)
        self._closed = True

    def __enter__(self) -> LocalEnvironment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    @property
    def backend(self) -> str:
        """``"local"``: the backend's name, as plans and drill results spell it."""
        return "local"

    @property
    def root(self) -> Path:
        """The state directory."""
        return self.ctx.root

    def target(self) -> TargetSpec:
        """The target this environment runs (from its state)."""
        return self.ctx.state.target

    @property
    def state(self) -> EnvState:
        """The current state (as last read)."""
        return self.ctx.state

    def admin_token(self) -> str:
        """The environment's admin token (for the service's admin surface)."""
        return self.ctx.admin_token()

    def apply_time_scale(self, k: float) -> None:
        """Re-time monitoring for a drill k times faster than production, without a restart.

        Rewrites Prometheus' intervals and the alert rules (windows and ``for:`` divided by
        ``k``) and Alertmanager's timers, then has both reload and returns once the new
        configuration is in effect.
        """
        fresh = EnvSettings.for_time_scale(k)
        with self.ctx.state.locked():
            st = self.ctx.state = EnvState.load(self.ctx.root)
            st.settings = dataclasses.replace(
                st.settings,
                scrape_interval_s=fresh.scrape_interval_s,
                evaluation_interval_s=fresh.evaluation_interval_s,
                group_wait_s=fresh.group_wait_s,
                time_scale=fresh.time_scale,
            )
            lifecycle.write_monitoring(self.ctx)
            st.save()
        ep = self.endpoints()
        self._reload("prometheus", ep.prometheus_url)
        self._reload("alertmanager", ep.alertmanager_url, self.alertmanager_auth())

    def _reload(
        self, name: str, url: str, auth: BasicAuth | None = None, timeout: float = 15.0
    ) -> None:
        """Make ``name`` re-read its configuration: SIGHUP through the supervisor.

        Neither has its HTTP reload on (Prometheus' lifecycle API, which also offers
        ``/-/quit`` to any local process, is off; Alertmanager's ``/-/reload`` is not used).
        Returns when the server's own metrics show the reload.
        """
        pair = auth.pair() if auth is not None else None
        reloaded = ConfigReloaded.before(f"{url}/metrics", name, pair)
        self.ctx.supervisor.signal(name, "HUP")
        try:
            wait_until(reloaded, timeout)
        except (TimeoutError, OperationError) as exc:
            err = OperationError(f"reloading {name}: {exc}")
            err.add_note(self.ctx.tail(name))
            raise err from None

    def start_load(self, spec: LoadSpec | None = None, drill: str | None = None) -> LoadRun:
        """Start user load against the service; ``env down`` also stops it."""
        return start_load(
            self.root / "load",
            self.endpoints().service_url,
            spec or LoadSpec(),
            {lifecycle.ENV_MARKER: str(self.root)},
            drill=drill,
        )

    def active_load(self) -> LoadRun | None:
        """The load run still running against this environment, if any."""
        return active_run(self.root / "load")

    def monitoring(self) -> MonitoringSettings:
        """Monitoring's current timing, as last written by ``up`` or ``apply_time_scale``."""
        self.ctx.state = EnvState.load(self.ctx.root)
        s = self.ctx.state.settings
        from chaosdrill.environments.local.monitoring import SLOW_WHEN_DOWN

        return MonitoringSettings(
            s.scrape_interval_s,
            s.evaluation_interval_s,
            s.group_wait_s,
            s.time_scale,
            slower_jobs={
                job: floor for job, floor in SLOW_WHEN_DOWN.items() if s.scrape_interval_s < floor
            },
        )

    def pages(
        self, alertname: str | None = None, since_monotonic: float | None = None
    ) -> list[Page]:
        """Notifications the pager has committed to its store, oldest first."""
        db = pager_db(self.root)
        if not db.exists():
            return []
        return PagerStore(db).pages(alertname=alertname, since_monotonic=since_monotonic)

    def last_promotion(self, since_monotonic: float | None = None) -> dict[str, Any] | None:
        """The latest replica promotion (optionally: only if after ``since_monotonic``)."""
        st = self.ctx.state = EnvState.load(self.ctx.root)
        for promotion in reversed(st.promotions):
            if since_monotonic is None or promotion["at_monotonic"] >= since_monotonic:
                return promotion
        return None

    # discovery -------------------------------------------------------------------
    def endpoints(self) -> Endpoints:
        """URLs of the service (through HAProxy), Prometheus, Alertmanager and the pager."""
        p = self.ctx.state.ports
        return Endpoints(
            service_url=f"http://127.0.0.1:{p['haproxy']}",
            prometheus_url=f"http://127.0.0.1:{p['prometheus']}",
            alertmanager_url=f"http://127.0.0.1:{p['alertmanager']}",
            pager_url=f"http://127.0.0.1:{p['pager']}",
            load_balancer_metrics_url=f"http://127.0.0.1:{p['haproxy-stats']}/metrics",
        )

    def alertmanager_auth(self) -> BasicAuth:
        """Alertmanager's user and its password (read from ``secrets/alertmanager.password``).

        Every path of Alertmanager's HTTP server asks for them (basic auth), so that no
        other local process can post an alert that pages or a silence that hides one.
        """
        return self.ctx.alertmanager_auth()

    def components(self) -> list[ComponentStatus]:
        """Every part with pid, port, supervisor state and a live health check."""
        st = self.ctx.state = EnvState.load(self.ctx.root)
        info = {i["name"]: i for i in self.ctx.supervisor.all_info()}
        names = [n for n in self.ctx.component_names() if n != "supervisord"]
        ports = {**st.ports, **{r.name: r.port for r in st.replicas}}

        def health(name: str) -> str:
            try:
                components.readiness(self.ctx, name).check()
            except NotReady as exc:
                return f"failing: {str(exc)[:80]}"
            except KeyError:
                return "-"
            return "ok"

        with ThreadPoolExecutor(max_workers=8) as pool:
            healths = dict(zip(names, pool.map(health, names), strict=True))
        rows = [
            ComponentStatus(
                n,
                info.get(n, {}).get("pid") or None,
                ports.get(n),
                info.get(n, {}).get("statename", "ABSENT"),
                healths[n],
            )
            for n in names
        ]
        rows.append(
            ComponentStatus(
                "supervisord",
                self.ctx.supervisor.pid(),
                None,
                "RUNNING" if self.ctx.supervisor.alive() else "STOPPED",
                "ok" if self.ctx.supervisor.alive() else "failing",
            )
        )
        return rows
