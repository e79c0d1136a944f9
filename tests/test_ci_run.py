""".ci/run installs Debian packages as root, through sudo when it is not root, and says in one line that it needs
root when neither is possible; it installs Python packages into .venv, as the README's quick start does.

The real script runs against stand-ins for the system tools (id, dpkg-query, apt-get, sudo, npm) on a PATH of
their own, so nothing is installed: each stand-in records how it was called, and `npm` stops the script where the
Node step begins."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

CI_RUN = REPO_ROOT / ".ci" / "run"
REAL_TOOLS = ("bash", "dirname", "grep", "env", "cat")


def stand_ins(tmp_path: Path, *, uid: int, installed: bool, sudo: bool) -> tuple[Path, Path]:
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for tool in REAL_TOOLS:
        real = shutil.which(tool)
        assert real, tool
        (bin_dir / tool).symlink_to(real)
    scripts = {
        "id": f'[ "$1" = -u ] && echo {uid}',
        "dpkg-query": "printf 'install ok installed'" if installed else "exit 1",
        "apt-get": f'echo "apt-get $*" >> {log}',
        "npm": f'echo "npm $*" >> {log}; exit 42',
    }
    if sudo:
        scripts["sudo"] = f'echo "sudo $*" >> {log}; exec "$@"'
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!{shutil.which('bash')}\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir, log


def ci_run(bin_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "bash"), str(CI_RUN)], env={"PATH": str(bin_dir), "HOME": str(bin_dir)},
                          capture_output=True, text=True, timeout=60)


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_not_root_without_sudo_says_so_in_one_line(tmp_path: Path) -> None:
    bin_dir, log = stand_ins(tmp_path, uid=1000, installed=False, sudo=False)
    result = ci_run(bin_dir)
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(".ci/run: installing Debian packages needs root: run it as root, or where sudo is "
                           "installed (missing: php-cli php-curl shellcheck")
    assert calls(log) == [], "nothing may be run after the refusal"


def test_not_root_with_sudo_installs_through_sudo(tmp_path: Path) -> None:
    bin_dir, log = stand_ins(tmp_path, uid=1000, installed=False, sudo=True)
    result = ci_run(bin_dir)
    assert result.returncode == 42, result.stderr  # stopped by the npm stand-in, after apt-get
    made = calls(log)
    assert made[0] == "sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq"
    assert made[1] == "apt-get update -qq"
    assert made[2].startswith("sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
                              "php-cli php-curl shellcheck curl zip unzip python3-venv")
    assert made[4].startswith("npm ci")


def test_root_installs_without_sudo(tmp_path: Path) -> None:
    bin_dir, log = stand_ins(tmp_path, uid=0, installed=False, sudo=True)
    assert ci_run(bin_dir).returncode == 42
    made = calls(log)
    assert made[0] == "apt-get update -qq" and made[1].startswith("apt-get install")
    assert not [call for call in made if call.startswith("sudo")]


def test_nothing_missing_needs_no_root(tmp_path: Path) -> None:
    bin_dir, log = stand_ins(tmp_path, uid=1000, installed=True, sudo=False)
    result = ci_run(bin_dir)
    assert result.returncode == 42, result.stderr
    assert [call.split()[0] for call in calls(log)] == ["npm"]


def quick_start() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```\n", 2)[1]
    return block.strip().splitlines()


def test_the_quick_start_and_ci_use_the_same_venv() -> None:
    first, second = quick_start()
    assert first.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install . && scaffold new ")
    assert second == "bash .ci/run"
    script = CI_RUN.read_text()
    assert "python3 -m venv .venv" in script and ".venv/bin/python -m pytest" in script
    assert not re.search(r"^\s*(python3|pip3?) .*install", script, re.MULTILINE), "no install into the system Python"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to another user")
def test_as_a_real_non_root_user() -> None:
    """The same refusal with the real `id`, as user nobody (the stand-ins still replace dpkg-query and apt-get)."""
    # pytest's tmp_path sits below a folder only root may enter; nobody needs one it can read.
    scratch = Path(tempfile.mkdtemp(prefix="ci-run-test-"))
    try:
        scratch.chmod(0o755)
        bin_dir, log = stand_ins(scratch, uid=0, installed=False, sudo=False)
        (bin_dir / "id").unlink()
        (bin_dir / "id").symlink_to(shutil.which("id") or "/usr/bin/id")
        # A copy of the script: the checkout itself may sit below a folder nobody cannot enter (mktemp -d).
        script = scratch / "checkout" / ".ci" / "run"
        script.parent.mkdir(parents=True)
        shutil.copy2(CI_RUN, script)
        result = subprocess.run([shutil.which("setpriv") or "setpriv", "--reuid=65534", "--regid=65534",
                                 "--clear-groups", str(bin_dir / "bash"), str(script)],
                                env={"PATH": str(bin_dir), "HOME": str(scratch)}, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 1, result.stderr
        assert len(result.stderr.splitlines()) == 1 and "needs root" in result.stderr
        assert calls(log) == []
    finally:
        shutil.rmtree(scratch)
