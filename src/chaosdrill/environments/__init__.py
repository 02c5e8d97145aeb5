"""Environment backends behind one interface, :class:`Environment`."""

from chaosdrill.environments.base import Endpoints, Environment, MonitoringSettings
from chaosdrill.environments.opening import (
    BACKENDS,
    DEFAULT_NAME,
    NAME_VARIABLE,
    HeldEnvironment,
    environment_name,
    hold_environment,
    open_environment,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_NAME",
    "NAME_VARIABLE",
    "Endpoints",
    "Environment",
    "HeldEnvironment",
    "MonitoringSettings",
    "environment_name",
    "hold_environment",
    "open_environment",
]
