"""Shared test helpers: render projects, and run the real tools the way a user would."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import platform
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from runtime_scaffold.emulator import LocalLambda
from runtime_scaffold.project import load_project
from runtime_scaffold.templates import get_language, render_project

REPO_ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("bash", "bun", "deno", "node", "php")
# Languages whose layer's binary comes from the npm registry; the tests run them with the same pinned binaries,
# installed for this machine by `npm ci --prefix tests/support/runtimes` (.ci/run).
NPM_LANGUAGES = ("bun", "deno", "node")
RUNTIMES = REPO_ROOT / "tests" / "support" / "runtimes"
ARCHITECTURES = ("x86_64", "arm64")
# Serverless Framework v3, its open-source fork osls 3, and osls 4 (AWS SDK v3, stricter validation; installed
# under the alias osls4, package.json) must each package and invoke a generated project as it is.
FRAMEWORKS = {
    "serverless": REPO_ROOT / "node_modules" / "serverless" / "bin" / "serverless.js",
    "osls": REPO_ROOT / "node_modules" / "osls" / "bin" / "serverless.js",
    "osls4": REPO_ROOT / "node_modules" / "osls4" / "bin" / "serverless.js",
}
OFFLINE_AWS = REPO_ROOT / "tests" / "support" / "offline-aws.js"


def render(language: str, tmp_path: Path, **options: object) -> Path:
    """Render a project with default answers (and any options) into a fresh folder under tmp_path."""
    out = tmp_path / f"out-{language}-{len(list(tmp_path.iterdir()))}"
    return render_project(language, output_dir=out, **options)  # type: ignore[arg-type]


def require_tool(name: str) -> str:
    """The path of a tool the tests need; CI installs it (.ci/run), so its absence is a failure, not a skip."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run .ci/run (or install it) before the tests")
    return path


@functools.cache
def _interpreters_bin() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="scaffold-interpreters-"))
    atexit.register(shutil.rmtree, folder, True)
    architecture = "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"
    for language in NPM_LANGUAGES:
        defaults = get_language(language).defaults
        binary = RUNTIMES / "node_modules" / defaults[f"_npm_package_{architecture}"] / defaults["_npm_binary"]
        if binary.is_file():
            (folder / language).symlink_to(binary)
    return folder


def interpreter(language: str) -> str:
    """The pinned bun, deno or node binary (the one the layer gets) for this machine."""
    path = _interpreters_bin() / language
    if not path.exists():
        pytest.fail(f"no {language} in {RUNTIMES}/node_modules: run `npm ci --prefix {RUNTIMES}` (.ci/run does)")
    return str(path)


def interpreter_environment(*languages: str) -> dict[str, str]:
    """This process's environment with the pinned interpreters of ``languages`` first on PATH, as a user who has
    them installed: what the local runner falls back to before the layer is built."""
    folder = Path(interpreter(languages[0])).parent if languages else _interpreters_bin()
    for language in languages:
        interpreter(language)
    return {**os.environ, "PATH": f"{folder}:{os.environ.get('PATH', os.defpath)}"}


def handler_files_missing(language: str, names: list[str]) -> list[str]:
    """The handlers of the template (hello's ``_handler``, web's ``_web_handler``) with no file among ``names``
    (function.sh, src/hello.php, src/hello.ts, src/web.mjs...: the module with the language's extension)."""
    defaults = get_language(language).defaults
    modules = {str(defaults[key]).rsplit(".", 1)[0] for key in ("_handler", "_web_handler")}
    return sorted(modules - {name.rsplit(".", 1)[0] for name in names})


def scaffold_bin() -> str:
    """The `scaffold` installed with the package under test: the one next to this interpreter, else on PATH."""
    beside = Path(sys.executable).with_name("scaffold")
    return str(beside) if beside.is_file() else require_tool("scaffold")


def serverless_command(*args: str, framework: str = "serverless", env: Mapping[str, str] | None = None
                       ) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run the real Serverless Framework (FRAMEWORKS) offline: dummy
    credentials; every AWS SDK call is answered by the preload, never sent; the project's plugin runs this
    checkout's `scaffold` (SCAFFOLD_BIN). ``env`` adds or overrides variables."""
    entry = FRAMEWORKS[framework]
    if not entry.exists():
        pytest.fail(f"{entry} is missing: run `npm ci` in {REPO_ROOT} (.ci/run does)")
    full_env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIAOFFLINETESTS",
        "AWS_SECRET_ACCESS_KEY": "offline",
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
        "SLS_AWS_REQUEST_MAX_RETRIES": "0",
        # osls 4's AWS SDK v3 warns on every run that its releases from 2027 on want Node 22; noise here.
        "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
        "NODE_OPTIONS": f"--require {OFFLINE_AWS}",
        "SCAFFOLD_BIN": scaffold_bin(),
        **(env or {}),
    }
    return [require_tool("node"), str(entry), *args], full_env


def serverless(project: Path, *args: str, framework: str = "serverless", env: Mapping[str, str] | None = None,
               timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``serverless ARGS`` (see serverless_command) in ``project`` as a user would, and return what it did
    (not checked)."""
    command, full_env = serverless_command(*args, framework=framework, env=env)
    # A process group of its own, so that whatever the plugin starts (scaffold, a bootstrap) goes with it.
    with subprocess.Popen(command, cwd=project, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(f"serverless {' '.join(args)} took over {timeout} s:\n{stdout}\n{stderr}")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # anything of the group left behind
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def serverless_package(project: Path, *, framework: str = "serverless", timeout: float = 180) -> Path:
    """Run the real `serverless package` offline in ``project``; return its .serverless folder."""
    result = serverless(project, "package", framework=framework, timeout=timeout)
    assert result.returncode == 0, f"serverless package failed:\n{result.stdout}\n{result.stderr}"
    return project / ".serverless"


# -- the emulator's fixtures ---------------------------------------------------------------------------


class LogCollector:
    """A log sink that keeps everything for assertions and can wait for a line."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._changed = threading.Condition()

    def __call__(self, data: bytes) -> None:
        with self._changed:
            self._data += data
            self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return self._data.decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: needle in self._data.decode("utf-8", "replace"), timeout)


@pytest.fixture
def logs() -> LogCollector:
    return LogCollector()


@pytest.fixture
def local_lambda(logs: LogCollector) -> Iterator[Callable[..., LocalLambda]]:
    """A factory: local_lambda(project_root, **options) -> an open LocalLambda, closed after the test."""
    opened: list[LocalLambda] = []

    def make(root: Path, **options: object) -> LocalLambda:
        local = LocalLambda(load_project(root), log_sink=logs, **options)  # type: ignore[arg-type]
        opened.append(local)
        return local

    yield make
    for local in opened:
        local.close()


# -- small helpers several test files use ------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process; a zombie still answers kill(0), so /proc tells it apart."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def wait_dead(pid: int, timeout: float = 10.0) -> bool:
    """Whether ``pid`` is gone within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.02)
    return False


def edit_config(project: Path, change: Callable[[dict[str, Any]], object]) -> None:
    """Apply ``change`` to the project's serverless.yml, as a user editing it would."""
    path = project / "serverless.yml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def hello(config: dict[str, Any]) -> dict[str, Any]:
    """The `hello` function's settings in a serverless.yml mapping."""
    function: dict[str, Any] = config["functions"]["hello"]
    return function


def read_until(process: subprocess.Popen[bytes], pattern: bytes, *, timeout: float) -> str:
    """Read ``process``'s stdout until ``pattern`` matches (a server naming its URL, say) and return the match;
    fail the test if the output ends or ``timeout`` seconds pass first."""
    assert process.stdout is not None
    seen, deadline = b"", time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            found = re.search(pattern, seen)
            if found:
                return found.group().decode()
    pytest.fail(f"{process.args!r} printed no {pattern!r} in time:\n{seen.decode(errors='replace')}")
