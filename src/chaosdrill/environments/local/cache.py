"""Cache operations: status, flush, stop/start, freeze/thaw/restart, the ``test:redis`` check."""

from __future__ import annotations

import secrets
import xmlrpc.client

import redis

from chaosdrill.environments.base import CacheStatus
from chaosdrill.environments.local import components
from chaosdrill.environments.local.context import LocalContext
from chaosdrill.environments.readiness import wait_until
from chaosdrill.errors import OperationError

__all__ = ["CacheOps"]


class CacheOps:
    """Redis operations of the local environment (mixed into LocalEnvironment)."""

    ctx: LocalContext

    def _client(self) -> redis.Redis:
        """A client that authenticates with the environment's password (from its 0600 file)."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.ctx.state.ports["redis"],
            password=self.ctx.state.credentials.redis_password(),
            socket_timeout=1,
            socket_connect_timeout=1,
        )

    def cache_status(self) -> CacheStatus:
        """Whether Redis answers, with its key count and memory."""
        try:
            with self._client() as r:
                keys = int(r.dbsize())
                mem = int(r.info("memory")["used_memory"])
        except redis.RedisError as exc:
            return CacheStatus(False, error=str(exc))
        return CacheStatus(True, keys, mem)

    def flush_cache(self) -> None:
        """Drop every key."""
        try:
            with self._client() as r:
                r.flushall()
        except redis.RedisError as exc:
            raise OperationError(f"cache flush: {exc}") from exc

    def stop_cache(self) -> None:
        """Stop Redis."""
        self.ctx.supervisor.stop_program("redis")

    def start_cache(self) -> None:
        """Start Redis and wait until it accepts connections."""
        self.ctx.supervisor.start_program("redis")
        try:
            wait_until(components.readiness(self.ctx, "redis"), 15)
        except TimeoutError as exc:
            raise OperationError(f"redis not ready: {exc}") from None

    def _signal_cache(self, sig: str) -> bool:
        """Send a signal to Redis through supervisord; False if Redis is not running."""
        try:
            self.ctx.supervisor.api.supervisor.signalProcess("redis", sig)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" in exc.faultString:
                return False
            raise OperationError(f"signal {sig} to redis: {exc.faultString}") from exc
        except OSError as exc:
            raise OperationError(f"signal {sig} to redis: {exc}") from exc
        return True

    def freeze_cache(self) -> None:
        """Make Redis unresponsive without closing it (SIGSTOP).

        Its port stays open and connections are accepted by the kernel, but no command is
        answered: clients wait for their socket timeouts, as with a hung cache server.

        Raises:
            OperationError: if Redis is not running.
        """
        if not self._signal_cache("STOP"):
            raise OperationError("redis is not running; there is nothing to freeze")

    def thaw_cache(self) -> None:
        """Let a frozen Redis run again (SIGCONT); nothing happens if it is not running."""
        self._signal_cache("CONT")

    def restart_cache(self) -> None:
        """Thaw, stop and start Redis, and wait until it accepts connections (data is lost)."""
        self.thaw_cache()
        self.stop_cache()
        self.start_cache()

    def check_cache(self) -> str:
        """The seed's ``test:redis``: write a key, read it back, delete it."""
        key, value = f"chaosdrill:check:{secrets.token_hex(4)}", secrets.token_hex(8)
        try:
            with self._client() as r:
                r.set(key, value, ex=30)
                got = r.get(key)
                r.delete(key)
        except redis.RedisError as exc:
            raise OperationError(f"cache check failed: {exc}") from exc
        if got is None or got.decode() != value:
            raise OperationError("cache check failed: the value read back differs")
        return "ok: write, read and delete succeeded"
