"""The built wheel carries the templates: installed into a fresh virtual environment, it renders the same projects."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from .conftest import LANGUAGES, REPO_ROOT, render
from .test_new import tree


@pytest.mark.slow
def test_wheel_installed_in_a_fresh_venv_renders_every_language(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO_ROOT)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("runtime_scaffold-*.whl")
    env_dir = tmp_path / "venv"
    # Site packages of this interpreter supply click, cookiecutter... offline; the wheel itself is installed
    # into the venv, and the check below proves the venv's copy is the one that runs.
    venv.EnvBuilder(with_pip=True, system_site_packages=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    location = subprocess.run([str(python), "-c", "import runtime_scaffold; print(runtime_scaffold.__file__)"],
                              check=True, capture_output=True, text=True).stdout
    assert location.startswith(str(env_dir)), location

    for language in LANGUAGES:
        out = tmp_path / f"from-wheel-{language}"
        subprocess.run([str(env_dir / "bin" / "scaffold"), "new", "--lang", language, "--no-input", "-o", str(out)],
                       check=True, capture_output=True, timeout=120)
        expected = render(language, tmp_path)
        assert tree(out / expected.name) == tree(expected)
