"""What ``sandbox.localdomain`` means inside a sandbox: an address of its own on the loopback network.

On Lambda, extensions listen on ``sandbox.localdomain`` (or ``sandbox``) and subscribe with
``http://sandbox.localdomain:PORT``; AWS's examples bind their listener to that name, so it must resolve in
the sandbox's processes. Here each sandbox with external extensions gets an address of 127.0.0.0/8 of its own
(127.77.x.y: every address of that network is the loopback interface on Linux, so two sandboxes' listeners on
the same port do not collide) and its processes see an ``/etc/hosts`` that maps both names to it:

- when the machine already resolves ``sandbox.localdomain`` (an ``/etc/hosts`` line such as
  ``127.0.0.1 sandbox.localdomain sandbox``), that address is used as it is;
- else each process of the sandbox starts in a private mount namespace of its own where a copy of
  ``/etc/hosts`` with that line is mounted over the real one (``unshare --mount`` as root; as another user
  ``unshare --user --map-root-user --mount``, then a second user namespace that maps the user back, so
  processes keep their own uid). It costs two or three more exec calls per process; the pid stays the same.
- where neither works (no util-linux ``unshare``, user namespaces disabled, as Ubuntu 24.04's AppArmor does for
  unprivileged users), the names do not resolve in the sandbox, the Telemetry API still delivers to
  127.0.0.1, and the log says once how to add the ``/etc/hosts`` line.

Telemetry delivery to a ``sandbox.localdomain`` destination goes to the same address.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

NAMES = ("sandbox.localdomain", "sandbox")
HOSTS_LINE_HINT = "127.0.0.1 sandbox.localdomain sandbox"
_PROBE_TIMEOUT_S = 5.0
# Mount the sandbox's hosts file ($0) over /etc/hosts, then run the command ("$@").
_MOUNT = 'mount --bind "$0" /etc/hosts && exec "$@"'
_lock = threading.Lock()
_in_use: set[str] = set()
_probed: list[list[str] | None] = []  # the wrapper that works here, once probed


@dataclass(frozen=True)
class HostsView:
    """How the processes of one sandbox see ``sandbox.localdomain``."""

    address: str  # where sandbox.localdomain leads: the Telemetry API delivers there
    prefix: tuple[str, ...] = ()  # the command to start each process with; empty: the machine's own /etc/hosts
    note: str | None = None  # why the names cannot be resolved in the sandbox, for the log

    def release(self) -> None:
        with _lock:
            _in_use.discard(self.address)


def _resolved_by_machine() -> str | None:
    try:
        return socket.gethostbyname(NAMES[0])
    except OSError:
        return None


def _allocate() -> str:
    with _lock:
        while True:
            address = f"127.77.{random.randint(0, 255)}.{random.randint(1, 254)}"
            if address not in _in_use:
                _in_use.add(address)
                return address


def _wrappers() -> list[list[str]]:
    unshare = shutil.which("unshare")
    if unshare is None or not shutil.which("mount"):
        return []
    if os.geteuid() == 0:
        return [[unshare, "--mount", "--propagation", "private", "--", "sh", "-c", _MOUNT]]
    back = f'mount --bind "$0" /etc/hosts && exec {unshare} --user --map-user={os.getuid()} ' \
           f'--map-group={os.getgid()} -- "$@"'
    return [[unshare, "--user", "--map-root-user", "--mount", "--propagation", "private", "--", "sh", "-c", back]]


def _probe() -> list[str] | None:
    """The first wrapper that really mounts a hosts file here, tried once per process."""
    with _lock:
        if _probed:
            return _probed[0]
    found = None
    with tempfile.TemporaryDirectory(prefix="scaffold-hosts-") as folder:
        hosts = Path(folder) / "hosts"
        hosts.write_text(f"127.77.0.1 {' '.join(NAMES)}\n")
        for wrapper in _wrappers():
            try:
                done = subprocess.run([*wrapper, str(hosts), "getent", "hosts", NAMES[0]], capture_output=True,
                                      timeout=_PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if done.returncode == 0 and b"127.77.0.1" in done.stdout:
                found = wrapper
                break
    with _lock:
        if not _probed:
            _probed.append(found)
        return _probed[0]


def hosts_view(folder: Path) -> HostsView:
    """The view of one sandbox whose folder is ``folder`` (its hosts file is written there). Blocking: call it
    off the loop."""
    resolved = _resolved_by_machine()
    if resolved is not None:
        return HostsView(resolved)
    wrapper = _probe()
    if wrapper is None:
        return HostsView("127.0.0.1", note=(
            "sandbox.localdomain does not resolve in this sandbox (a private /etc/hosts needs root or user "
            f"namespaces here); an extension listening on it fails: add '{HOSTS_LINE_HINT}' to /etc/hosts"))
    address = _allocate()
    hosts = folder / "hosts"
    with contextlib.suppress(OSError):
        machine = Path("/etc/hosts").read_text(errors="replace")
        hosts.write_text(machine.rstrip("\n") + "\n" if machine.strip() else "")
    with open(hosts, "a") as file:
        file.write(f"{address} {' '.join(NAMES)}\n")
    return HostsView(address, (*wrapper, str(hosts)))
