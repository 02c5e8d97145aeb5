"""The local environment backend: real programs on 127.0.0.1, made and destroyed per drill."""

from chaosdrill.environments.local.environment import LocalEnvironment, list_environments
from chaosdrill.environments.local.state import EnvSettings

__all__ = ["EnvSettings", "LocalEnvironment", "list_environments"]
