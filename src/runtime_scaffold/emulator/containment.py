"""Containment of a sandbox's processes on Linux: find all of them again, kill all of them, and clean up after
an emulator that is gone.

* **A marker every descendant inherits.** A sandbox's bootstrap gets ``_SCAFFOLD_SANDBOX=<its folder>`` in its
  environment; fork, ``setsid``, double forks and exec all keep it, so a handler's ``setsid sleep 321 &`` is still
  found through ``/proc/<pid>/environ`` after it left the bootstrap's process group and session. A child that
  cleared its environment is still found through its parent while that runs (``/proc/<pid>/stat``).
* **Kills that never hit a stranger.** Processes are signalled through pidfds opened after checking their start
  time, so a pid reused between the scan and the kill is never hit; a kill scans again until nothing is left,
  since a process may fork between the scan and its kill.
* **The janitor.** This module, run as a script (``python -I -S containment.py --janitor``: the standard library
  only, so it starts in milliseconds), reads the folders an emulator owns from a pipe that emulator alone writes
  to (see :mod:`folders`); at end of file the emulator is gone, ``kill -9`` included, and the janitor kills what
  is left of its sandboxes and removes their folders. So this module imports nothing from runtime_scaffold.

Elsewhere (no ``/proc``) nothing is found, nothing is killed, and the callers' own process-group kills remain.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import sys
import time
from collections import deque
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

MARKER = "_SCAFFOLD_SANDBOX"
FOLDER_PREFIX = "scaffold-"
OWNER_FILE = ".owner"
# A killed process normally goes within milliseconds; one stuck in the kernel (D state) is given this long.
KILL_TIMEOUT_S = 5.0
# How long the janitor waits for a dead emulator's locks to be released before it judges a folder.
JANITOR_LOCK_WAIT_S = 5.0


def supported() -> bool:
    """Whether processes can be found again here (Linux with /proc)."""
    return sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    state: str  # R, S, D, Z (zombie), ...
    start: int  # clock ticks since boot: with the pid, names one process for good

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def process_info(pid: int) -> ProcessInfo | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            data = file.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()  # the command name may hold spaces and parentheses
    return ProcessInfo(pid, int(fields[1]), fields[0].decode(), int(fields[19]))


def process_table() -> dict[int, ProcessInfo]:
    table: dict[int, ProcessInfo] = {}
    with contextlib.suppress(OSError), os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                info = process_info(int(entry.name))
                if info is not None:
                    table[info.pid] = info
    return table


def _needle(marker: str) -> bytes:
    return b"\0" + os.fsencode(f"{MARKER}={marker}") + b"\0"


def _environment(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            return b"\0" + file.read()
    except OSError:  # gone, a kernel thread, or not ours to read
        return b""


def descendants(table: dict[int, ProcessInfo], roots: Collection[int]) -> list[int]:
    """``roots`` and every process below them in ``table``, parents before children."""
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found: list[int] = []
    queue = deque(pid for pid in roots if pid in table)
    seen = set(queue)
    while queue:
        pid = queue.popleft()
        found.append(pid)
        for child in children.get(pid, ()):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return found


def members_by_marker(markers: Collection[str], table: dict[int, ProcessInfo] | None = None,
                      *, skip: Collection[int] = ()) -> dict[str, list[int]]:
    """For each marker, the processes that carry it and everything below them (one /proc scan for all)."""
    table = process_table() if table is None else table
    needles = {marker: _needle(marker) for marker in markers}
    roots: dict[str, list[int]] = {marker: [] for marker in markers}
    for pid in table:
        if pid in skip or pid == os.getpid():
            continue
        environment = _environment(pid)
        for marker, needle in needles.items():
            if needle in environment:
                roots[marker].append(pid)
    return {marker: descendants(table, pids) for marker, pids in roots.items()}


class _Signalled:
    """One process sent SIGKILL, held by a pidfd where the kernel has them so its pid cannot be reused under us."""

    def __init__(self, info: ProcessInfo) -> None:
        """Raises ProcessLookupError when that process is gone, PermissionError when it is not ours to kill."""
        self.info = info
        self.pidfd: int | None = None
        try:
            self.pidfd = os.pidfd_open(info.pid)
        except ProcessLookupError:
            raise
        except (AttributeError, OSError):  # no pidfds here (kernel < 5.3): plain kill, after the same check
            pass
        try:
            current = process_info(info.pid)
            if current is None or current.start != info.start:  # the pid now names another process
                raise ProcessLookupError(info.pid)
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            else:
                os.kill(info.pid, signal.SIGKILL)
        except OSError:
            self.close()
            raise

    def gone(self) -> bool:
        if self.pidfd is not None:
            return bool(select.select([self.pidfd], [], [], 0)[0])  # readable once it has exited
        current = process_info(self.info.pid)
        return current is None or current.start != self.info.start or not current.alive

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def kill_marked(markers: Collection[str], *, timeout_s: float = KILL_TIMEOUT_S) -> int:
    """SIGKILL every process of these sandboxes and wait (bounded) until they are gone; how many were killed.

    Scans again after each round, since a process may fork between the scan and its kill."""
    if not markers or not supported():
        return 0
    deadline = time.monotonic() + timeout_s
    killed: set[tuple[int, int]] = set()  # (pid, start): counted once, however many rounds it takes to go
    refused: set[tuple[int, int]] = set()  # processes we may not signal (another user's, after a setuid exec)
    while time.monotonic() < deadline:
        table = process_table()
        members = members_by_marker(markers, table)
        targets = [table[pid] for pids in members.values() for pid in pids
                   if table[pid].alive and (pid, table[pid].start) not in refused]
        if not targets:
            break
        signalled = []
        for info in targets:
            try:
                signalled.append(_Signalled(info))
            except ProcessLookupError:
                continue
            except PermissionError:
                refused.add((info.pid, info.start))
            killed.add((info.pid, info.start))
        while signalled and time.monotonic() < deadline:
            for each in [each for each in signalled if each.gone()]:
                each.close()
                signalled.remove(each)
            if signalled:
                time.sleep(0.005)
        for each in signalled:
            each.close()
    return len(killed - refused)


class SandboxProcesses:
    """The processes of one sandbox: its bootstrap, and everything started below it however it detached."""

    def __init__(self, *, marker: str) -> None:
        self.marker = marker
        self._root: ProcessInfo | None = None

    @property
    def environment(self) -> dict[str, str]:
        """Variables to add to the bootstrap's environment (last, so nothing inherited overrides them)."""
        return {MARKER: self.marker}

    def started(self, pid: int) -> None:
        """Note the bootstrap's pid: the process a Runtime API connection comes from almost always."""
        self._root = process_info(pid)

    def root(self) -> int | None:
        """The bootstrap's pid while that very process runs (not a later process given the same number)."""
        root = self._root
        if root is None:
            return None
        current = process_info(root.pid)
        return root.pid if current is not None and current.start == root.start and current.alive else None

    def candidates(self) -> Iterator[int]:
        """The sandbox's processes, most likely holder of a new connection first: the bootstrap, then the newest
        processes (a runtime that runs curl per request has just started it), each tested on its own, so that
        the search stops at the holder instead of reading the whole process table first."""
        root = self.root()
        if root is not None:
            yield root
        try:
            pids = sorted((int(name) for name in os.listdir("/proc") if name.isdigit()), reverse=True)
        except OSError:
            return
        verdicts: dict[int, bool] = {} if root is None else {root: True}
        for pid in pids:
            if pid not in (root, os.getpid()) and self._is_member(pid, verdicts):
                yield pid

    def _is_member(self, pid: int, verdicts: dict[int, bool]) -> bool:
        """Whether ``pid`` carries the marker or descends from a process that does (``verdicts`` caches)."""
        needle, chain, verdict = _needle(self.marker), [], False
        while pid not in verdicts:
            chain.append(pid)
            if needle in _environment(pid):
                verdict = True
                break
            info = process_info(pid)
            if info is None or info.ppid <= 1:
                break
            pid = info.ppid
        else:
            verdict = verdicts[pid]
        for each in chain:
            verdicts[each] = verdict
        return verdict

    def members(self) -> list[int]:
        table = process_table()
        return [pid for pid in members_by_marker([self.marker], table)[self.marker] if table[pid].alive]

    def kill_all(self, *, timeout_s: float = KILL_TIMEOUT_S) -> int:
        """SIGKILL every process of the sandbox (the bootstrap too, if it runs; not reaped: its parent's
        ``Popen`` does that) and wait until they are gone; how many were killed."""
        return kill_marked([self.marker], timeout_s=timeout_s)


# -- folders whose owner is gone (also run by the janitor) ---------------------------------------------------


def try_lock(path: Path) -> int | None:
    """An fd holding ``path``'s lock, or None when it is missing or someone holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def remove_unowned(locked: dict[str, int]) -> None:
    """Kill what is left of these folders' sandboxes, then delete them (their locks are held by the caller)."""
    kill_marked(list(locked))
    for folder, fd in locked.items():
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


def _janitor_main() -> None:
    """Read the emulator's folders until it is gone, then clean up what it left."""
    for number in (signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    folders: set[str] = set()
    for line in sys.stdin.buffer:
        with contextlib.suppress(ValueError):
            action, folder = json.loads(line)
            if action == "watch":
                folders.add(folder)
            else:
                folders.discard(folder)
    # The emulator's fds close one by one as it exits: its locks may outlive the pipe by a moment.
    locked: dict[str, int] = {}
    deadline = time.monotonic() + JANITOR_LOCK_WAIT_S
    while folders and time.monotonic() < deadline:
        for folder in list(folders):
            owner = Path(folder) / OWNER_FILE
            fd = try_lock(owner)
            if fd is not None:
                locked[folder] = fd
            if fd is not None or not owner.exists():
                folders.discard(folder)
        if folders:
            time.sleep(0.01)
    remove_unowned(locked)


if __name__ == "__main__" and sys.argv[1:] == ["--janitor"]:
    _janitor_main()
