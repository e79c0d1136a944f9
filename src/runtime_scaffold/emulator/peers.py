"""Which process is at the other end of a loopback TCP connection, and whether it belongs to a sandbox.

On Lambda only the execution environment reaches its Runtime API. Here every Runtime API listens on 127.0.0.1,
so each new connection is traced back to a process once, when it is accepted: the kernel is asked for the
client socket's inode by its exact address pair (one ``sock_diag`` netlink request: the kernel looks it up in
its hash table, some 15 us), then the sandbox's processes are searched for a descriptor on that socket, the
bootstrap first (it almost always holds it), then its descendants, then the rest of the sandbox. A connection
no sandbox process holds is an outsider's.

:func:`first_look` is the part cheap enough for an event loop (the inode, then the bootstrap's descriptors); what
it cannot settle is a :class:`Search` of the sandbox's processes, which reads ``/proc`` for every process when the
holder is an outsider (milliseconds), to be run on a thread.

``/proc/net/tcp`` would also give the inode, but the kernel writes the whole table for each read (about 2 ms on
an idle machine, more under load); it is read only where netlink is not allowed. The netlink exchange is one
fixed-size request and reply, so it is written here rather than taken from a netlink library (pyroute2 and
friends bring far more than this one exact-match query).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass
from typing import Protocol

from runtime_scaffold.emulator import containment

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
_ALL_STATES = 0xFFFFFFFF
_NO_COOKIE = 0xFFFFFFFF
_INODE_OFFSET = _NLMSG_HEADER.size + 68  # inet_diag_msg: 4 bytes, the socket id (48), expires..uid, then inode
_REPLY_TIMEOUT_S = 1.0  # the kernel answers at once; this only bounds a wait that should never happen

Address = tuple[str, int] | tuple[str, int, int, int]


class Endpoint(Protocol):
    """What is needed of a connection: a socket.socket, or asyncio's TransportSocket."""

    def getsockname(self) -> Address: ...

    def getpeername(self) -> Address: ...


class LookupUnavailable(Exception):
    """Neither sock_diag nor /proc/net can tell which socket a connection comes from."""


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _diag_inode(client: Address, server: Address) -> int | None:
    family = _family(client[0])

    def address(host: str) -> bytes:
        return socket.inet_pton(family, host).ljust(16, b"\0")

    # struct inet_diag_req_v2 with the client socket's id: its own address first, then the server's.
    socket_id = (struct.pack("!HH", client[1], server[1]) + address(client[0]) + address(server[0])
                 + struct.pack("=III", 0, _NO_COOKIE, _NO_COOKIE))
    request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, _ALL_STATES) + socket_id
    header = _NLMSG_HEADER.pack(_NLMSG_HEADER.size + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_SOCK_DIAG) as netlink:
        netlink.settimeout(_REPLY_TIMEOUT_S)
        netlink.sendto(header + request, (0, 0))
        reply = netlink.recv(8192)
    _, kind, _, _, _ = _NLMSG_HEADER.unpack_from(reply)
    if kind == _NLMSG_ERROR:
        code = -struct.unpack_from("=i", reply, _NLMSG_HEADER.size)[0]
        if code == errno.ENOENT:
            return None
        raise OSError(code, os.strerror(code))
    (inode,) = struct.unpack_from("=I", reply, _INODE_OFFSET)
    return inode or None


def _proc_net_address(host: str, port: int, *, six: bool) -> str:
    """An address as /proc/net/tcp{,6} prints it: 32-bit words of the packed address, in host byte order."""
    packed = socket.inet_pton(_family(host), host)
    if six and len(packed) == 4:
        packed = b"\0" * 10 + b"\xff\xff" + packed  # an IPv4 peer of an IPv6 socket, v4-mapped
    words = struct.unpack(f"={len(packed) // 4}I", packed)
    return "".join(f"{word:08X}" for word in words) + f":{port:04X}"


def proc_net_inode(client: Address, server: Address) -> int | None:
    """The client socket's inode from /proc/net/tcp, then tcp6 (slow: see the module's docstring)."""
    readable = False
    for table, six in (("tcp", False), ("tcp6", True)):
        if not six and ":" in client[0]:
            continue
        needle = (f" {_proc_net_address(client[0], client[1], six=six)}"
                  f" {_proc_net_address(server[0], server[1], six=six)} ")
        try:
            with open(f"/proc/net/{table}") as file:
                text = file.read()
        except OSError:
            continue
        readable = True
        at = text.find(needle)
        if at >= 0:
            fields = text[at:text.find("\n", at)].split()
            inode = int(fields[8])  # local, remote, st, queues, timer, retransmits, uid, timeout, inode
            return inode or None
    if not readable:
        raise LookupUnavailable("neither /proc/net/tcp nor /proc/net/tcp6 can be read")
    return None


def socket_inode(client: Address, server: Address) -> int | None:
    """The inode of the socket at ``client`` connected to ``server`` (this host's), None when there is none."""
    try:
        return _diag_inode(client, server)
    except OSError:  # no sock_diag here (kernel option, seccomp): the slow way
        return proc_net_inode(client, server)


def holds(pid: int, inode: int) -> bool:
    """Whether process ``pid`` has a descriptor on socket ``inode``."""
    target = f"socket:[{inode}]"
    folder = f"/proc/{pid}/fd"
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"{folder}/{name}") == target:
                return True
        except OSError:  # closed meanwhile
            continue
    return False


@dataclass(frozen=True)
class Search:
    """The rest of a peer check: whether a process of the sandbox other than its bootstrap holds the socket."""

    inode: int
    processes: containment.SandboxProcesses
    looked_at: int | None  # the bootstrap, already looked at

    def __call__(self) -> bool:
        return any(holds(pid, self.inode) for pid in self.processes.candidates() if pid != self.looked_at)


def first_look(connection: Endpoint, processes: containment.SandboxProcesses) -> bool | Search:
    """Whether the process that opened ``connection`` (an accepted loopback socket) belongs to the sandbox, as
    far as it can be told at once: True when the bootstrap holds it, False when it has no client on this host
    any more, else the :class:`Search` that tells.

    True wherever that cannot be told (no /proc, no sock_diag and no /proc/net): containment then degrades to
    what it was, it does not lock the bootstrap out."""
    if not containment.supported():
        return True
    try:
        client, server = connection.getpeername(), connection.getsockname()
    except OSError:  # already reset by its client
        return False
    try:
        inode = socket_inode(client, server)
    except LookupUnavailable:
        return True
    if inode is None:  # the client closed it already, or it is not on this host
        return False
    root = processes.root()
    if root is not None and holds(root, inode):
        return True
    return Search(inode, processes, root)


def peer_inside(connection: Endpoint, processes: containment.SandboxProcesses) -> bool:
    """:func:`first_look`, then its search if it needs one."""
    verdict = first_look(connection, processes)
    return verdict if isinstance(verdict, bool) else verdict()
