"""The ``recommendations_cache`` feature: a deliberate, realistic memory leak.

While the flag is on, each API request stores a "recommendations" blob that nothing ever
evicts, so resident memory grows with traffic until the process is restarted, like an
unbounded in-process cache. Turning the flag off stops the growth but frees nothing:
recovery takes a restart (or rolling back the revision), as with a real leak.
"""

from __future__ import annotations

__all__ = ["RecommendationsCache"]


class RecommendationsCache:
    """Unbounded per-process store of request blobs.

    Blobs are filled with a non-zero byte so their pages are really written and count in
    resident memory (zero-filled allocations may stay virtual).
    """

    def __init__(self, kib_per_request: int) -> None:
        self._blob_size = kib_per_request * 1024
        self._blobs: list[bytes] = []
        self._bytes = 0

    def remember(self) -> None:
        """Retain one more blob of the configured size (no-op when the size is 0)."""
        if self._blob_size:
            self._blobs.append(b"\xa5" * self._blob_size)
            self._bytes += self._blob_size

    @property
    def retained_bytes(self) -> int:
        """Bytes retained so far."""
        return self._bytes
