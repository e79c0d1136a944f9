"""Sandbox folders that carry a proof of life of their emulator, the sweep that removes dead emulators' folders,
and the janitor that removes them at once when this emulator is killed.

A folder's ``.owner`` file is ``flock``-ed by its emulator for the folder's whole life; the kernel drops the lock
when that process dies, however it dies. So a lock anyone can take means the owner is gone, and only then is a
folder removed: several emulators (and versions) run on one machine at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from runtime_scaffold.emulator import containment
from runtime_scaffold.emulator.containment import FOLDER_PREFIX, OWNER_FILE


class SandboxFolder:
    """A sandbox's temporary folder, locked by this process for as long as it exists."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd: int | None = lock_fd
        self._removing = threading.Lock()  # a sandbox is closed from its invoker's thread and from close() at once

    @classmethod
    def create(cls, *, prefix: str, temp_dir: str | None = None) -> SandboxFolder:
        """A fresh ``<prefix>XXXXXXXX`` folder; ``prefix`` starts with ``scaffold-`` so that sweeps look at it."""
        if not prefix.startswith(FOLDER_PREFIX):
            raise ValueError(f"a sandbox folder's prefix starts with {FOLDER_PREFIX!r}, not {prefix!r}")
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=temp_dir))
        # Locked before it gets the name sweeps look for, so no sweep ever sees a live folder's owner unlocked.
        staged = path / f"{OWNER_FILE}-new"
        fd = os.open(staged, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.rename(staged, path / OWNER_FILE)
        _JANITOR.watch(str(path))
        return cls(path, fd)

    @property
    def marker(self) -> str:
        """What the sandbox's processes carry in their environment (containment.MARKER)."""
        return str(self.path)

    def remove(self) -> None:
        """Delete the folder and give up its lock; safe to call again, from any thread."""
        with self._removing:
            if self._lock_fd is None:
                return
            shutil.rmtree(self.path, ignore_errors=True)
            os.close(self._lock_fd)  # only once: a second close could hit an unrelated file given the same number
            self._lock_fd = None
        _JANITOR.forget(str(self.path))


def sweep_stale_folders(*, temp_dir: str | None = None) -> int:
    """Remove the sandbox folders whose emulator is gone, after killing what still runs of their sandboxes; how
    many were removed. Live emulators' folders, other users' and folders without an owner file (written by an
    older runtime-scaffold, which may still be running) are left alone."""
    locked: dict[str, int] = {}
    with contextlib.suppress(OSError), os.scandir(temp_dir or tempfile.gettempdir()) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if (entry.name.startswith(FOLDER_PREFIX) and entry.is_dir(follow_symlinks=False)
                        and entry.stat(follow_symlinks=False).st_uid == os.getuid()):
                    fd = containment.try_lock(Path(entry.path) / OWNER_FILE)
                    if fd is not None:
                        locked[entry.path] = fd
    containment.remove_unowned(locked)
    return len(locked)


class _Janitor:
    """This process's side of the janitor (containment's ``--janitor``): a pipe it names its folders on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folders: set[str] = set()
        self._process: subprocess.Popen[bytes] | None = None
        self._pipe: int | None = None
        os.register_at_fork(after_in_child=self._after_fork)

    @property
    def pid(self) -> int | None:
        """The janitor's pid while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def _after_fork(self) -> None:
        # A forked child owns none of its parent's folders, and its copy of the pipe would hide the parent's death.
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                os.close(self._pipe)
        self._lock = threading.Lock()
        self._folders, self._process, self._pipe = set(), None, None

    def _send(self, action: str, folder: str) -> None:
        if self._pipe is not None:
            try:  # one short line: a single write, atomic on a pipe
                os.write(self._pipe, json.dumps([action, folder]).encode() + b"\n")
            except OSError:
                self._close_pipe()

    def _close_pipe(self) -> None:
        if self._pipe is not None:
            os.close(self._pipe)
        self._pipe = None

    def _start(self) -> None:
        script = Path(containment.__file__)
        if not containment.supported() or not script.is_file() or not sys.executable:
            return  # folders are then cleaned by the next sweep only
        read_end, write_end = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", str(script), "--janitor"], stdin=read_end,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/",  # pins no folder or mount
                start_new_session=True)  # a Ctrl-C, or a kill of our process group, leaves it to clean up
        except OSError:
            os.close(write_end)
            return
        finally:
            os.close(read_end)
        self._pipe = write_end
        for folder in self._folders:
            self._send("watch", folder)

    def watch(self, folder: str) -> None:
        with self._lock:
            self._folders.add(folder)
            if self._process is None or self._process.poll() is not None:  # the first folder, or it was killed
                self._close_pipe()
                self._start()
            else:
                self._send("watch", folder)

    def forget(self, folder: str) -> None:
        with self._lock:
            self._folders.discard(folder)
            self._send("forget", folder)


_JANITOR = _Janitor()


def janitor_pid() -> int | None:
    """The pid of this process's janitor, once a sandbox folder has started it."""
    return _JANITOR.pid
