"""Build hook: ship the top-level `cookiecutters/` folder, with every symbolic link replaced by a real copy.

The templates live beside the package (`cookiecutters/<lang>/`, the design card's layout) and share files by
linking to `cookiecutters/_shared`. Archives cannot be trusted with links (hatchling skips them), so:
- the sdist gets `cookiecutters/` as real files, so a wheel built from the sdist (what `python -m build` and
  `pip install <sdist>` do) finds the same tree as a wheel built from a checkout;
- the wheel gets it as `runtime_scaffold/cookiecutters/`, where `runtime_scaffold.templates` looks first.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

TEMPLATES = "cookiecutters"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".serverless", "node_modules")


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":  # an editable install reads the checkout's cookiecutters/ directly
            return
        source = Path(self.root) / TEMPLATES
        if not source.is_dir():
            raise RuntimeError(f"{source} is missing: the templates must be built into the package")
        self._scratch = Path(tempfile.mkdtemp(prefix="scaffold-build-"))
        copy = self._scratch / TEMPLATES
        shutil.copytree(source, copy, symlinks=False, ignore=IGNORED)  # links become the files they point to
        target = "runtime_scaffold/cookiecutters" if self.target_name == "wheel" else TEMPLATES
        build_data["force_include"][str(copy)] = target

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
