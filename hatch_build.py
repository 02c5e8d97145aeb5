"""Wheel build hook: the editable wheel declares ``chaosdrill`` as its top-level package.

Chaos Toolkit's ``chaos discover chaosdrill`` finds the package to import through
``importlib.metadata.packages_distributions()``, which (on Python 3.11, without a
``top_level.txt``) names a distribution's top-level packages after the ``.py`` files its
RECORD lists. The standard wheel lists ``chaosdrill/**/*.py``. The editable wheel holds
only a ``.pth`` file that puts ``src/`` on ``sys.path``, so nothing would map ``chaosdrill``
to the distribution.

For the editable build this hook adds one file, ``chaosdrill/_editable_install.py``. In
site-packages it sits in a ``chaosdrill`` directory without ``__init__.py``: a namespace
portion, which the import system only uses when no regular package of that name exists on
``sys.path``. ``src/chaosdrill`` is a regular package, so ``import chaosdrill`` still
loads everything from ``src/`` and the file is never imported; its RECORD entry is what
makes ``packages_distributions()`` return ``{"chaosdrill": ["chaosdrill"]}``.

Setting ``force_include_editable`` also replaces any ``force-include`` table for the
editable build, so the editable wheel never copies the catalogue (or anything else) into
site-packages.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MARKER = "chaosdrill/_editable_install.py"
CATALOGUE_DIRS = ("scenarios", "runbooks", "probes", "experiments", "drills")
MARKER_TEXT = '''\
"""Installed by ``pip install -e``: declares ``chaosdrill`` as this distribution's package.

This directory has no ``__init__.py``; the regular package on ``sys.path`` (the
project's ``src/chaosdrill``) is what ``import chaosdrill`` loads, and this module is
never imported.
"""
'''


class EditableTopLevelHook(BuildHookInterface):
    """Add the top-level marker to the editable wheel; leave the standard wheel alone."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Write the marker to a temporary directory and force it into the editable wheel.

        A standard wheel built from an sdist (which keeps no symbolic links) gets the
        catalogue from the top-level directories that ``src/chaosdrill/catalogue/*`` link
        to in the repository.
        """
        self._tmp: str | None = None
        if version != "editable":
            root = Path(self.root)
            for name in CATALOGUE_DIRS:
                linked, real = root / "src/chaosdrill/catalogue" / name, root / name
                if not linked.is_dir() and real.is_dir():
                    build_data["force_include"][str(real)] = f"chaosdrill/catalogue/{name}"
            return
        self._tmp = tempfile.mkdtemp(prefix="chaosdrill-editable-")
        source = Path(self._tmp) / Path(MARKER).name
        source.write_text(MARKER_TEXT)
        build_data["force_include_editable"] = {str(source): MARKER}

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary marker once the wheel is written."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
