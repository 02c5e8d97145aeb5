"""Fixtures of the integration tests: chaosdrill's wheel installed into a fresh venv."""

from __future__ import annotations

import pytest

from tests.packaging_helpers import InstalledWheel, build_wheel, install_wheel


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    """The working tree's wheel, built once per module and installed into a new venv.

    Building takes a few seconds; installing the dependencies from pip's index takes tens of
    seconds, which the first test of the module that uses this fixture pays for.
    """
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    return install_wheel(wheel, tmp_path_factory.mktemp("venv") / "venv")
