"""The end of an execution environment: SIGTERM to the bootstrap, SIGKILL to what is left after the grace period
(docs/runtime-api.md §8.5); a reset after a failure kills at once."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

from runtime_scaffold.emulator import LocalLambda, RuntimeHooks, Shutdown
from runtime_scaffold.emulator.sandbox import SHUTDOWN_GRACE_S

from .conftest import wait_dead
from .emulator_fixtures import write_project

Factory = Callable[..., LocalLambda]

# Answers events; on SIGTERM writes "terminated" to $MARKER and exits 0 (TERM_MODE=exit), ignores it (ignore), or
# dies of it, leaving a child `sleep` behind (orphan: its pid goes to $MARKER first).
BOOTSTRAP = textwrap.dedent('''\
    import http.client, os, signal, subprocess, sys
    marker, mode = os.environ["MARKER"], os.environ.get("TERM_MODE", "exit")
    def on_term(number, frame):
        with open(marker, "w") as file:
            file.write("terminated")
        os._exit(0)
    if mode == "exit":
        signal.signal(signal.SIGTERM, on_term)
    elif mode == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        child = subprocess.Popen(["sleep", "60"])
        with open(marker, "w") as file:
            file.write(str(child.pid))
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    while True:
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        reply = conn.getresponse()
        body = reply.read()
        rid = reply.getheader("Lambda-Runtime-Aws-Request-Id")
        if body == b'"hang"':
            while True:
                signal.pause()
        conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", body)
        conn.getresponse().read()
''')


class ShutdownRecorder(RuntimeHooks):
    def __init__(self) -> None:
        self.shutdowns: list[Shutdown] = []
        self.lock = threading.Lock()

    def shut_down(self, sandbox_id: str, shutdown: Shutdown) -> None:
        with self.lock:
            self.shutdowns.append(shutdown)


def project(tmp_path: Path, mode: str) -> tuple[Path, Path]:
    marker = tmp_path / "marker"
    root = write_project(tmp_path / mode, bootstrap=BOOTSTRAP, timeout=1,
                         environment={"MARKER": str(marker), "TERM_MODE": mode})
    return root, marker


def run_and_close(root: Path, local_lambda: Factory, payload: bytes = b'"hi"') -> Shutdown:
    recorder = ShutdownRecorder()
    local = local_lambda(root, hooks=recorder)
    local.invoke("hello", payload)
    local.close()
    assert len(recorder.shutdowns) == 1, recorder.shutdowns
    return recorder.shutdowns[0]


def test_closing_sends_sigterm_and_a_runtime_that_exits_on_it_is_not_killed(tmp_path: Path,
                                                                           local_lambda: Factory) -> None:
    root, marker = project(tmp_path, "exit")
    shutdown = run_and_close(root, local_lambda)
    assert marker.read_text() == "terminated"
    assert shutdown == Shutdown(returncode=0, in_grace=True, leftovers=(), grace_s=SHUTDOWN_GRACE_S)


def test_a_runtime_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path,
                                                                        local_lambda: Factory) -> None:
    root, _ = project(tmp_path, "ignore")
    shutdown = run_and_close(root, local_lambda)
    assert (shutdown.returncode, shutdown.in_grace) == (-9, False)


def test_what_a_runtime_leaves_behind_is_seen_and_killed(tmp_path: Path, local_lambda: Factory) -> None:
    root, marker = project(tmp_path, "orphan")
    shutdown = run_and_close(root, local_lambda)
    child = int(marker.read_text())
    assert shutdown.returncode == -15 and shutdown.in_grace  # it died of the SIGTERM...
    assert shutdown.leftovers == (child,)  # ...and left its child `sleep` running...
    assert wait_dead(child)  # ...which the end of the environment killed


def test_a_reset_after_a_timeout_kills_without_sigterm(tmp_path: Path, local_lambda: Factory) -> None:
    root, marker = project(tmp_path, "exit")
    recorder = ShutdownRecorder()
    local = local_lambda(root, hooks=recorder)
    assert local.invoke("hello", b'"hang"').error_type == "Sandbox.Timedout"
    assert not marker.exists() and recorder.shutdowns == []  # Lambda resets a timed-out environment at once
