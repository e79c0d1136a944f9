"""ruff and mypy (configured in pyproject.toml) stay clean."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO_ROOT


def test_ruff() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks", "hatch_build.py",
                             "cookiecutters/_shared/scaffold_escapes.py"],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
