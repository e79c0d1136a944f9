"""A release carries the templates: `python -m build` makes the sdist, then the wheel from that sdist (what a
release and `pip install <sdist>` do); the wheel installed in a fresh virtual environment renders every language
byte for byte as the checkout does."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import pytest

from .conftest import LANGUAGES, REPO_ROOT, render
from .test_new import tree


@pytest.mark.slow
def test_wheel_built_from_the_sdist_renders_every_language(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # Without --sdist/--wheel, build makes the sdist and then builds the wheel from the unpacked sdist.
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO_ROOT)],
                   check=True, capture_output=True, timeout=600)
    (sdist,) = dist.glob("runtime_scaffold-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = archive.getmembers()
    assert not [m.name for m in members if m.issym() or m.islnk()], "the sdist must not rely on links"
    names = {m.name.split("/", 1)[1] for m in members if "/" in m.name}
    for language in LANGUAGES:
        assert f"cookiecutters/{language}/templates/shared/serverless.base.yml" in names
        assert f"cookiecutters/{language}/hooks/pre_gen_project.py" in names
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
