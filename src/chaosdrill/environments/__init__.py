"""Environment backends behind one interface, :class:`Environment`."""

from chaosdrill.environments.base import BasicAuth, Endpoints, Environment, MonitoringSettings
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
    "BasicAuth",
    "Endpoints",
    "Environment",
    "HeldEnvironment",
    "MonitoringSettings",
    "environment_name",
    "hold_environment",
    "open_environment",
]
