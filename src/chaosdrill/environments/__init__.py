"""Environment backends behind one interface, :class:`Environment`."""

from chaosdrill.environments.base import Endpoints, Environment

__all__ = ["Endpoints", "Environment"]
