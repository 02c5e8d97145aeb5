"""Locust users for the target's critical flows (imported only in the load process).

The reference target's: browse the catalogue, view a course, enroll (the revenue event,
recorded in the ledger before it is sent), check my enrollment. A workspace's target: the
flows its chaosdrill.yaml declares, one request each. Importing this module imports Locust,
which patches the standard library for gevent: never import it from the framework itself.
"""

from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass, field
from typing import Any

from locust import constant_throughput, events, task
from locust.contrib.fasthttp import FastHttpUser

from chaosdrill.load.ledger import LedgerWriter
from chaosdrill.load.sli import SliRecorder
from chaosdrill.load.spec import LoadSpec

__all__ = ["RunContext", "make_user_class"]


@dataclass
class RunContext:
    """What every user of this process shares."""

    run_id: str
    spec: LoadSpec
    ledger: LedgerWriter
    sli: SliRecorder
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def next_key(self) -> str:
        """A client key unique across the run's processes."""
        return f"{self.run_id}.{os.getpid()}.{next(self._seq)}"


def make_user_class(ctx: RunContext) -> type[FastHttpUser]:
    """Build the user class for this run (rate, timeouts and weights from the spec)."""
    spec = ctx.spec
    w = spec.weights

    def _on_request(name: str, response_time: float, exception: Any, **_: Any) -> None:
        ctx.sli.record(name, response_time, exception is not None)

    events.request.add_listener(_on_request)  # type: ignore[no-untyped-call]
    if spec.flows is not None:
        return _target_user_class(spec)

    class RevenueEngineUser(FastHttpUser):
        """A learner: browses, looks at courses, enrolls, checks their enrollments."""

        wait_time = constant_throughput(spec.per_user_rate)
        network_timeout = spec.timeout_s
        connection_timeout = spec.timeout_s
        host = "http://127.0.0.1"

        def on_start(self) -> None:
            self.mine: list[int] = []

        def _course(self) -> int:
            return random.randint(1, spec.courses)

        @task(w.get("browse", 0))
        def browse(self) -> None:
            self.client.get("/api/courses", name="browse")

        @task(w.get("view_course", 0))
        def view_course(self) -> None:
            self.client.get(f"/api/courses/{self._course()}", name="view_course")

        @task(w.get("enroll", 0))
        def enroll(self) -> None:
            key, course = ctx.next_key(), self._course()
            ctx.ledger.begin(key, course)
            body = {"course_id": course, "student_email": f"{key}@load.test", "client_key": key}
            with self.client.post(
                "/api/enrollments", json=body, name="enroll", catch_response=True
            ) as resp:
                status = int(resp.status_code or 0)
                if status in (200, 201):
                    data = resp.json()
                    ctx.ledger.finish(key, status, int(data["id"]), int(data["price_cents"]))
                    self.mine.append(int(data["id"]))
                    resp.success()
                else:
                    error = str(getattr(resp, "error", "") or resp.text or "")[:200]
                    ctx.ledger.finish(key, status, error=error)
                    resp.failure(f"enroll answered {status}")

        @task(w.get("my_enrollment", 0))
        def my_enrollment(self) -> None:
            if not self.mine:
                self.browse()
                return
            self.client.get(f"/api/enrollments/{random.choice(self.mine)}", name="my_enrollment")

    return RevenueEngineUser


def _target_user_class(spec: LoadSpec) -> type[FastHttpUser]:
    """Users of a workspace's target: each of its flows is a task with its weight.

    A flow is one request; ``{id}`` in its path or body is drawn from 1 to its ``ids``.
    An answer of 400 or more, or none within the timeout, is a failed request.
    """
    from chaosdrill.targets.spec import Flow

    flows = [Flow.from_dict(f) for f in spec.flows or ()]
    flows = [f for f in flows if spec.weights.get(f.name, 0) > 0]

    def make_task(flow: Flow) -> Any:
        def run(user: FastHttpUser) -> None:
            n = random.randint(1, flow.ids)
            user.client.request(
                flow.method, flow.path_for(n), name=flow.name, json=flow.body_for(n)
            )

        run.__name__ = flow.name
        return run

    class TargetUser(FastHttpUser):
        """A user of the workspace's target, running its declared flows."""

        wait_time = constant_throughput(spec.per_user_rate)
        network_timeout = spec.timeout_s
        connection_timeout = spec.timeout_s
        host = "http://127.0.0.1"
        tasks = {make_task(f): spec.weights[f.name] for f in flows}  # type: ignore[assignment]

    return TargetUser
