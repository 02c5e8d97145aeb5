"""Choosing a backend when a drill, plan or test session opens its environment."""

from __future__ import annotations

import pytest

from chaosdrill.environments import BACKENDS, open_environment
from chaosdrill.errors import InvalidInputError


def test_the_local_backend_is_known() -> None:
    assert "local" in BACKENDS


def test_an_unknown_backend_is_refused_naming_it_and_the_known_ones() -> None:
    with pytest.raises(InvalidInputError) as caught:
        open_environment("demo", backend="kubernetes")
    message = str(caught.value)
    assert "'kubernetes'" in message
    assert all(name in message for name in BACKENDS)
    assert caught.value.field == "backend"


def test_an_unknown_backend_names_the_file_and_field_that_asked_for_it() -> None:
    with pytest.raises(InvalidInputError) as caught:
        open_environment(
            "demo", backend="testcontainers", source="drills/q.yaml", field="environment.backend"
        )
    assert caught.value.source == "drills/q.yaml"
    assert caught.value.field == "environment.backend"
    assert str(caught.value).startswith("drills/q.yaml field 'environment.backend': ")
