"""chaosdrill as a library: a local environment, a database failover, and back.

Run: .venv/bin/python examples/use_as_lib.py
"""

from __future__ import annotations

import time

import httpx

from chaosdrill import EnvSettings, LocalEnvironment


def main() -> None:
    """Bring an environment up, fail its database over, and take it down."""
    with LocalEnvironment.up("example", EnvSettings(replicas=2, enrollments=20_000)) as env:
        url = env.endpoints().service_url
        print("health:", httpx.get(f"{url}/health").json())
        env.crash_primary()
        print("after crash:", httpx.get(f"{url}/health").status_code)
        print("promoted:", env.promote_replica())
        print(env.check_database())
        body = {"course_id": 1, "student_email": "lib@example.org"}
        started = time.monotonic()
        while httpx.post(f"{url}/api/enrollments", json=body).status_code != 201:
            time.sleep(0.1)  # the service's pool replaces its broken connections
        print(f"writes succeed again {time.monotonic() - started:.1f} s after the promotion")


if __name__ == "__main__":
    main()
