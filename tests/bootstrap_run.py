"""Running the templates' real bootstraps against the fake Runtime API (tests/runtime_api_fake.py).

Every run gets an empty TMPDIR that must still be empty afterwards, a deadline, and its whole process group killed at
the end, whatever the bootstrap left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime_scaffold.templates import get_language

from .conftest import NPM_LANGUAGES, interpreter
from .runtime_api_fake import FakeRuntimeAPI

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "cookiecutters"
SLUG = "{{cookiecutter.project_slug}}"
PROJECT = {language: TEMPLATES / language / SLUG for language in ("bash", "php", *NPM_LANGUAGES)}
CONFORMANCE = {"bash": "conformance.handler", "php": "src/conformance.conformance",
               **dict.fromkeys(NPM_LANGUAGES, "src/conformance.handler")}
SAMPLE = {"bash": "function.handler", "php": "src/hello.hello", **dict.fromkeys(NPM_LANGUAGES, "src/hello.handler")}
# Runs the host's php, or the pinned bun, deno and node: marked slow, like every test that needs an external tool
# beyond bash. ALL_LANGS for the Runtime API basics every runtime passes; LANGS for what the bash and PHP bootstraps
# add (tests/test_javascript_runtime.py covers the others').
ALL_LANGS = ["bash", *(pytest.param(language, marks=pytest.mark.slow) for language in ("php", *NPM_LANGUAGES))]
LANGS = ["bash", pytest.param("php", marks=pytest.mark.slow)]


@dataclass
class Run:
    returncode: int
    stderr: str
    stdout: str = ""


def runtime_argv(lang: str, *, php_options: tuple[str, ...] = ()) -> list[str]:
    """How the host runs LANG's runtime, as its bootstrap does on Lambda with the layer's binary."""
    bootstrap = PROJECT[lang] / "runtime" / "bootstrap"
    if lang == "bash":
        return ["bash", str(bootstrap)]
    if lang == "php":
        return ["php", *php_options, str(bootstrap)]  # #!/opt/bin/php exists only in the layer on Lambda
    defaults = get_language(lang).defaults
    return [interpreter(lang), *str(defaults["_interpreter_args"]).split(),
            str(PROJECT[lang] / "runtime" / str(defaults["_runtime_entry"]))]


def bootstrap_env(
    lang: str,
    api: FakeRuntimeAPI | str,
    tmp_path: Path,
    *,
    handler: str | None = None,
    task_root: Path | None = None,
    environment: dict[str, str] | None = None,
) -> dict[str, str]:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmpdir),
        "AWS_LAMBDA_RUNTIME_API": api if isinstance(api, str) else api.runtime_api,
        "_HANDLER": handler or CONFORMANCE[lang],
        "LAMBDA_TASK_ROOT": str(task_root or PROJECT[lang]),
        "AWS_LAMBDA_FUNCTION_NAME": "conform",
        **(environment or {}),
    }


@contextlib.contextmanager
def started(
    lang: str,
    api: FakeRuntimeAPI | str,
    tmp_path: Path,
    *,
    php_options: tuple[str, ...] = (),
    **options: object,
) -> Iterator[subprocess.Popen[bytes]]:
    """A running bootstrap (in a session of its own); on the way out its process group is killed."""
    proc = subprocess.Popen(
        runtime_argv(lang, php_options=php_options),
        env=bootstrap_env(lang, api, tmp_path, **options),  # type: ignore[arg-type]
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def run_bootstrap(
    lang: str,
    api: FakeRuntimeAPI | str,
    tmp_path: Path,
    *,
    timeout: float = 60,
    php_options: tuple[str, ...] = (),
    **options: object,
) -> Run:
    """Run LANG's bootstrap until it exits; fail on a timeout or on anything left in its TMPDIR."""
    with started(lang, api, tmp_path, php_options=php_options, **options) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"{lang} bootstrap still running after {timeout} s")
    assert list((tmp_path / "tmpdir").iterdir()) == [], "the bootstrap left files in TMPDIR"
    return Run(proc.returncode, stderr.decode(errors="replace"), stdout.decode(errors="replace"))


def error_post(api: FakeRuntimeAPI, request_id: str) -> dict[str, object]:
    """The single /error post for REQUEST_ID, checked for the header and the ErrorRequest shape."""
    posts = api.posts_for(request_id)
    assert [p.resource for p in posts] == [f"invocation/{request_id}/error"], posts
    assert posts[0].headers.get("lambda-runtime-function-error-type", "").startswith("Function.")
    body: dict[str, object] = json.loads(posts[0].body)
    assert isinstance(body["errorMessage"], str)
    assert isinstance(body["errorType"], str) and body["errorType"]
    assert isinstance(body["stackTrace"], list)
    assert all(isinstance(line, str) for line in body["stackTrace"])
    return body


def init_error(api: FakeRuntimeAPI, run: Run, error_type: str) -> dict[str, object]:
    assert run.returncode != 0
    assert [(m, r) for m, r, _ in api.requests] == [("POST", "init/error")], "nothing but init/error expected"
    post = api.posts[0]
    assert post.headers["lambda-runtime-function-error-type"] == error_type
    body: dict[str, object] = json.loads(post.body)
    assert body["errorType"] == error_type
    assert isinstance(body["errorMessage"], str) and body["errorMessage"]
    assert isinstance(body["stackTrace"], list)
    return body


def task_root_with(tmp_path: Path, name: str, source: str) -> Path:
    """A task root (tmp_path/task) holding the handler file NAME."""
    task_root = tmp_path / "task"
    task_root.mkdir(exist_ok=True)
    (task_root / name).write_text(source)
    return task_root


def write_bash_handler(tmp_path: Path, body: str) -> Path:
    return task_root_with(tmp_path, "h.sh", body)
