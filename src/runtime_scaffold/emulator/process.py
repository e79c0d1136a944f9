"""A bootstrap process as the event loop sees it: started once, its exit noticed at once, its group killed.

The exit is a pidfd readable on the loop (Linux 5.3+); elsewhere a thread waits for the process and tells the
loop. The process is reaped with ``wait4``, whose resource usage gives its peak memory even after a crash, when
``/proc`` has already forgotten it; while it runs, its peak is read from ``/proc`` now and then, never on every
invocation (VmHWM is a high-water mark: a read 100 ms old is at most that much behind).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import math
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from runtime_scaffold.emulator.logs import peak_memory_mb

# How often a running bootstrap's peak memory is read from /proc while invocations run.
MEMORY_SAMPLE_S = 0.1

# Process groups of running bootstraps. They live in their own sessions, so a terminal's Ctrl-C never reaches them;
# if cleanup itself is interrupted (a second Ctrl-C), the interpreter's exit still kills them.
_LIVE_GROUPS: set[int] = set()


@atexit.register
def _kill_live_groups() -> None:
    for group in list(_LIVE_GROUPS):
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)


def describe_exit(returncode: int) -> str:
    """Lambda's words for how a runtime ended (Go's os.ProcessState as RIE prints it)."""
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name[3:].lower()
        except ValueError:
            name = str(-returncode)
        name = {"term": "terminated", "kill": "killed", "segv": "segmentation fault", "abrt": "aborted",
                "int": "interrupt", "hup": "hangup", "pipe": "broken pipe"}.get(name, name)
        return f"Runtime exited with error: signal: {name}"
    return f"Runtime exited with error: exit status {returncode}"


def group_members(group: int, *, besides: int) -> tuple[int, ...] | None:
    """The live processes (not zombies) of process group ``group`` other than ``besides``; None without /proc."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    members = []
    for name in names:
        if not name.isdigit() or int(name) == besides:
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as file:
                fields = file.read().rsplit(b")", 1)[1].split()  # after the command name, which may hold spaces
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == group:
            members.append(int(name))
    return tuple(members)


def spawn(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], output_fd: int) -> subprocess.Popen[bytes]:
    """Start a bootstrap in a session (and process group) of its own, stdout and stderr on ``output_fd``.

    The one place a bootstrap is started: containment (a subreaper, a parent-death signal) goes here.
    """
    process = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=output_fd,
                               stderr=output_fd, start_new_session=True)
    _LIVE_GROUPS.add(process.pid)
    return process


class BootstrapProcess:
    """A running bootstrap; :attr:`exited` is a future of its exit status, set on the loop."""

    def __init__(self, popen: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self.popen = popen
        self.pid = popen.pid
        self._loop = loop
        self.exited: asyncio.Future[int] = loop.create_future()
        self.peak_mb = 0
        # After terminate(): what was left of its group when it exited, read before the group is killed.
        self.leftovers: tuple[int, ...] | None = None
        self._terminated = False
        try:
            self._pidfd: int | None = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # not Linux >= 5.3
            self._pidfd = None
        if self._pidfd is not None:
            loop.add_reader(self._pidfd, self._reap)
        else:
            threading.Thread(target=self._wait_in_thread, name=f"wait-{self.pid}", daemon=True).start()

    @property
    def returncode(self) -> int | None:
        return self.exited.result() if self.exited.done() else None

    def alive(self) -> bool:
        """Whether it still runs, asked of the kernel now: its exit may not have reached the loop yet."""
        if self.exited.done():
            return False
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except (AttributeError, ChildProcessError):
            return self.popen.poll() is None

    def _reap(self) -> None:
        assert self._pidfd is not None
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = None
        if self._terminated:
            self.leftovers = group_members(self.pid, besides=self.pid)
        # While the leader is a zombie its group id cannot be reused: end the helpers it left, then reap it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        try:
            _, status, usage = os.wait4(self.pid, 0)
            returncode = os.waitstatus_to_exitcode(status)
            self.popen.returncode = returncode
            self.peak_mb = max(self.peak_mb, math.ceil(usage.ru_maxrss / 1024))  # kB on Linux
        except ChildProcessError:  # reaped elsewhere
            returncode = self.popen.wait()
        self._exit(returncode)

    def _wait_in_thread(self) -> None:
        returncode = self.popen.wait()
        if self._terminated:  # reaped already: the group's id lives on while any member does
            self.leftovers = group_members(self.pid, besides=self.pid)
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            self._loop.call_soon_threadsafe(self._exit, returncode)

    def _exit(self, returncode: int) -> None:
        _LIVE_GROUPS.discard(self.pid)  # its number may be reused from now on
        if not self.exited.done():
            self.exited.set_result(returncode)

    def terminate(self) -> None:
        """SIGTERM to the bootstrap alone, as Lambda's shutdown sends it; ending its children is its own job."""
        if not self.exited.done():
            self._terminated = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGTERM)

    def kill_group(self) -> None:
        """SIGKILL the bootstrap and every process left in its group (Lambda resets the whole environment)."""
        if not self.exited.done():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def sample_memory(self) -> None:
        if not self.exited.done():
            self.peak_mb = max(self.peak_mb, peak_memory_mb(self.pid) or 0)

    def close(self) -> None:
        """Stop watching (the loop is going away); the process itself is killed with :meth:`kill_group`."""
        if self._pidfd is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
