"""Wheel build hook: replace each symbolic link under the bundled cookiecutters with a real copy.

The language templates share files by linking to `cookiecutters/_shared`; a wheel cannot carry links, and
hatchling skips them. Each link's target is copied to a scratch folder and force-included at the link's path.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = Path("src/runtime_scaffold")


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        self._scratch = Path(tempfile.mkdtemp(prefix="scaffold-wheel-"))
        for number, link in enumerate(sorted((root / PACKAGE / "cookiecutters").rglob("*"))):
            if not link.is_symlink():
                continue
            copy = self._scratch / str(number)
            shutil.copytree(link.resolve(), copy)
            build_data["force_include"][str(copy)] = str(link.relative_to(root / "src"))

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
