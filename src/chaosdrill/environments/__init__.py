"""Environment backends behind one interface, :class:`Environment`."""

from chaosdrill.environments.base import Endpoints, Environment, MonitoringSettings
from chaosdrill.environments.opening import (
    BACKENDS,
    DEFAULT_NAME,
    NAME_VARIABLE,
    environment_name,
    open_environment,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_NAME",
    "NAME_VARIABLE",
    "Endpoints",
    "Environment",
    "MonitoringSettings",
    "environment_name",
    "open_environment",
]
