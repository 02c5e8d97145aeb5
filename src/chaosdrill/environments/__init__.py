"""Environment backends behind one interface, :class:`Environment`."""

from chaosdrill.environments.base import Endpoints, Environment, MonitoringSettings
from chaosdrill.environments.opening import BACKENDS, open_environment

__all__ = ["BACKENDS", "Endpoints", "Environment", "MonitoringSettings", "open_environment"]
