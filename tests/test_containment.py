"""The containment module on its own, with real processes: finding a sandbox's processes however they detached,
killing exactly those, folders' proof of life, the sweep, the janitor, and the Runtime API's peer check."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime_scaffold.emulator import containment, peers
from runtime_scaffold.emulator.folders import SandboxFolder, janitor_pid, sweep_stale_folders

from .conftest import pid_alive, wait_dead

pytestmark = pytest.mark.skipif(not containment.supported(), reason="containment needs Linux's /proc")


def sleepers(token: str) -> list[int]:
    """Live `sleep <token>` processes (each test's sleeps sleep a unique number of seconds)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                command = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if command.startswith(b"sleep\0" + token.encode()) and pid_alive(int(name)):
                found.append(int(name))
    return found


def wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def token() -> Iterator[str]:
    """A unique sleep length: `sleep 321.<digits>` is how this test's processes are told from any other; any
    left when the test ends (it failed) are killed."""
    value = f"321.{uuid.uuid4().int % 10**9:09d}"
    yield value
    for pid in sleepers(value):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def reaper() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; whatever is left of them is killed and reaped afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


# A bootstrap stand-in that detaches two sleeps the ways daemons do (setsid, and fork + setsid + fork through a
# shell that exits), clears the environment of a third, then waits.
ESCAPES = textwrap.dedent("""\
    setsid sleep {token} </dev/null >/dev/null 2>&1 &
    setsid sh -c 'sleep {token} & exit' </dev/null >/dev/null 2>&1 &
    env -i sleep {token} &
    exec sleep {token}
""")


def start_sandbox(marker: str, token: str, reaper: list[subprocess.Popen[bytes]], *,
                  others: int = 0) -> subprocess.Popen[bytes]:
    """Start ESCAPES and wait until its four sleeps run (``others``: sleeps of this token already running)."""
    process = subprocess.Popen(["bash", "-c", ESCAPES.format(token=token)], start_new_session=True,
                               env={**os.environ, containment.MARKER: marker})
    reaper.append(process)
    assert wait_for(lambda: len(sleepers(token)) == others + 4), sleepers(token)
    return process


def test_kill_all_kills_every_process_of_the_sandbox_however_detached(
        token: str, reaper: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", token], start_new_session=True)  # same command, not in the sandbox
    reaper.append(bystander)
    assert wait_for(lambda: sleepers(token) == [bystander.pid])  # Popen returns before exec has set argv
    processes = containment.SandboxProcesses(marker=str(tmp_path / "scaffold-a"))
    root = start_sandbox(processes.marker, token, reaper, others=1)
    processes.started(root.pid)
    members = processes.members()
    assert root.pid in members and bystander.pid not in members and len(members) == 4
    assert processes.kill_all() == 4
    assert root.wait(timeout=10) == -signal.SIGKILL
    assert sleepers(token) == [bystander.pid]  # gone already when kill_all returns; the stranger untouched
    assert processes.kill_all() == 0
    assert processes.root() is None  # that pid is no longer the bootstrap's


def test_another_sandbox_is_left_alone(token: str, reaper: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    one = containment.SandboxProcesses(marker=str(tmp_path / "scaffold-one"))
    other = containment.SandboxProcesses(marker=str(tmp_path / "scaffold-one-two"))  # a marker's prefix is not it
    start_sandbox(other.marker, token, reaper)
    assert one.members() == [] and one.kill_all() == 0
    assert len(sleepers(token)) == 4
    assert other.kill_all() == 4


def test_owned_folder_survives_sweeps_and_is_removed_once(tmp_path: Path) -> None:
    folder = SandboxFolder.create(prefix="scaffold-own-", temp_dir=str(tmp_path))
    assert (folder.path / containment.OWNER_FILE).is_file() and folder.marker == str(folder.path)
    assert sweep_stale_folders(temp_dir=str(tmp_path)) == 0  # this very process's lock counts as alive
    other = subprocess.run([sys.executable, "-c", "import sys; from runtime_scaffold.emulator.folders import "
                            "sweep_stale_folders as s; print(s(temp_dir=sys.argv[1]))", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert other.stdout.strip() == "0", other.stderr  # nor does another emulator's sweep take it
    assert folder.path.is_dir()
    folder.remove()
    folder.remove()
    assert not folder.path.exists()


def test_folders_without_an_owner_file_are_not_swept(tmp_path: Path) -> None:
    older = tmp_path / "scaffold-hello-abcd1234"  # what a runtime-scaffold without containment writes
    older.mkdir()
    unrelated = tmp_path / "not-scaffold"
    unrelated.mkdir()
    (unrelated / containment.OWNER_FILE).write_text("1\n")
    assert sweep_stale_folders(temp_dir=str(tmp_path)) == 0
    assert older.is_dir() and unrelated.is_dir()
    with pytest.raises(ValueError, match="scaffold-"):
        SandboxFolder.create(prefix="elsewhere-", temp_dir=str(tmp_path))


# An emulator stand-in: makes a sandbox folder, starts a detached sandbox process in it, says so, then waits.
OWNER = textwrap.dedent("""\
    import os, subprocess, sys, time
    from runtime_scaffold.emulator import containment
    from runtime_scaffold.emulator.folders import SandboxFolder
    folder = SandboxFolder.create(prefix="scaffold-owner-", temp_dir=sys.argv[1])
    subprocess.Popen(["setsid", "sleep", sys.argv[2]], env={**os.environ, containment.MARKER: folder.marker})
    print(folder.path, flush=True)
    time.sleep(300)
""")


def start_owner(tmp_path: Path, token: str, reaper: list[subprocess.Popen[bytes]], *,
                janitor: bool) -> tuple[subprocess.Popen[bytes], Path]:
    code = OWNER if janitor else OWNER.replace("from runtime_scaffold.emulator.folders import SandboxFolder",
                                               "from runtime_scaffold.emulator import folders\n"
                                               "folders._JANITOR._start = lambda: None\n"
                                               "SandboxFolder = folders.SandboxFolder")
    owner = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), token], stdout=subprocess.PIPE,
                             start_new_session=True)
    reaper.append(owner)
    assert owner.stdout is not None
    path = Path(owner.stdout.readline().decode().strip())
    assert path.is_dir() and wait_for(lambda: len(sleepers(token)) == 1)
    return owner, path


def test_sweep_removes_a_killed_emulators_folder_and_kills_what_it_left(
        tmp_path: Path, token: str, reaper: list[subprocess.Popen[bytes]]) -> None:
    owner, path = start_owner(tmp_path, token, reaper, janitor=False)
    assert sweep_stale_folders(temp_dir=str(tmp_path)) == 0  # alive: left alone
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait(timeout=10)
    assert path.is_dir() and len(sleepers(token)) == 1  # nothing else cleans up here (no janitor)
    assert sweep_stale_folders(temp_dir=str(tmp_path)) == 1
    assert not path.exists() and sleepers(token) == []


def test_the_janitor_cleans_up_as_soon_as_its_emulator_is_killed(
        tmp_path: Path, token: str, reaper: list[subprocess.Popen[bytes]]) -> None:
    owner, path = start_owner(tmp_path, token, reaper, janitor=True)
    children = [info.pid for info in containment.process_table().values() if info.ppid == owner.pid]
    janitors = [pid for pid in children if pid not in sleepers(token)]  # the other child is the sandbox's
    assert len(janitors) == 1 and b"--janitor" in Path(f"/proc/{janitors[0]}/cmdline").read_bytes()
    os.killpg(owner.pid, signal.SIGKILL)  # the emulator's whole process group: the janitor has its own session
    owner.wait(timeout=10)
    assert wait_for(lambda: not path.exists() and not sleepers(token)), (path.exists(), sleepers(token))
    assert wait_dead(janitors[0])


def test_this_process_has_one_janitor_for_all_its_folders(tmp_path: Path) -> None:
    first = SandboxFolder.create(prefix="scaffold-j-", temp_dir=str(tmp_path))
    pid = janitor_pid()
    second = SandboxFolder.create(prefix="scaffold-j-", temp_dir=str(tmp_path))
    try:
        assert pid is not None and pid_alive(pid) and janitor_pid() == pid
    finally:
        first.remove()
        second.remove()


# -- the peer check --------------------------------------------------------------------------------------------


CONNECT = "import socket, sys, time; s = socket.create_connection(('{host}', {port})); time.sleep(60)"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(30)
        yield server


def connect_from(listener: socket.socket, command: list[str], reaper: list[subprocess.Popen[bytes]],
                 marker: str | None = None) -> tuple[subprocess.Popen[bytes], socket.socket]:
    env = dict(os.environ)
    if marker is not None:
        env[containment.MARKER] = marker
    process = subprocess.Popen(command, env=env, start_new_session=True)
    reaper.append(process)
    connection, _ = listener.accept()
    return process, connection


def python_connect(listener: socket.socket) -> list[str]:
    host, port = listener.getsockname()[:2]
    return [sys.executable, "-c", CONNECT.format(host=host, port=port)]


def test_peer_inside_knows_the_bootstrap_its_children_and_escapees_and_refuses_others(
        listener: socket.socket, reaper: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    processes = containment.SandboxProcesses(marker=str(tmp_path / "scaffold-p"))
    client = python_connect(listener)
    # The bootstrap connects itself, and so do a child and a child that cleared its environment.
    script = f"{shlex.join(client)} & env -i {shlex.join(client)} & exec {shlex.join(client)}"
    bootstrap = subprocess.Popen(["bash", "-c", script], env={**os.environ, containment.MARKER: processes.marker},
                                 start_new_session=True)
    reaper.append(bootstrap)
    processes.started(bootstrap.pid)
    own = [listener.accept()[0] for _ in range(3)]
    assert all(peers.peer_inside(connection, processes) for connection in own)
    _, escaped = connect_from(listener, ["setsid", "--fork", *client], reaper, processes.marker)
    assert peers.peer_inside(escaped, processes)  # detached, but still the sandbox's
    _, stranger = connect_from(listener, client, reaper)
    assert not peers.peer_inside(stranger, processes)
    _, neighbour = connect_from(listener, client, reaper, str(tmp_path / "scaffold-q"))
    assert not peers.peer_inside(neighbour, processes)  # another sandbox's bootstrap
    for connection in (*own, escaped, stranger, neighbour):
        connection.close()
    processes.kill_all()


def test_a_connection_whose_client_is_gone_is_refused(listener: socket.socket, tmp_path: Path) -> None:
    processes = containment.SandboxProcesses(marker=str(tmp_path / "scaffold-p"))
    subprocess.run([sys.executable, "-c", "import socket, sys; socket.create_connection(('127.0.0.1', "
                    f"{listener.getsockname()[1]})).close()"], env={**os.environ, containment.MARKER:
                   processes.marker}, check=True, timeout=60)
    connection, _ = listener.accept()
    with connection:
        assert not peers.peer_inside(connection, processes)


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_both_inode_lookups_agree(family: int) -> None:
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    try:
        server = socket.create_server((host, 0), family=family)
    except OSError:
        pytest.skip(f"no {host} here")
    with server, socket.create_connection(server.getsockname()[:2]) as client:
        accepted, peer = server.accept()
        with accepted:
            inode = os.fstat(client.fileno()).st_ino
            assert peers.socket_inode(peer, accepted.getsockname()) == inode
            assert peers.proc_net_inode(peer, accepted.getsockname()) == inode
            assert peers.holds(os.getpid(), inode)
    if family == socket.AF_INET:  # an IPv6 socket reaching an IPv4 listener: its peer is v4-mapped
        with socket.create_server(("127.0.0.1", 0)) as server, socket.socket(socket.AF_INET6) as client:
            client.connect(("::ffff:127.0.0.1", server.getsockname()[1]))
            accepted, peer = server.accept()
            with accepted:
                inode = os.fstat(client.fileno()).st_ino
                assert peers.socket_inode(peer, accepted.getsockname()) == inode
                assert peers.proc_net_inode(peer, accepted.getsockname()) == inode


def test_a_folder_removed_from_many_threads_at_once_closes_its_lock_once(tmp_path: Path) -> None:
    # A sandbox is closed by its invoker's thread and by LocalLambda.close() at the same time.
    for _ in range(20):
        folder = SandboxFolder.create(prefix="scaffold-race-", temp_dir=str(tmp_path))
        errors: list[BaseException] = []
        barrier = threading.Barrier(4)

        def remove(folder: SandboxFolder = folder, errors: list[BaseException] = errors,
                   barrier: threading.Barrier = barrier) -> None:
            barrier.wait(10)
            try:
                folder.remove()
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=remove) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert errors == [] and not folder.path.exists()
