"""A minimal Lambda Runtime API (2018-06-01) for benchmarks/bootstraps.py.

Raw sockets, a thread per connection, TCP_NODELAY, every reply in one write and 100-continue answered at
once: the server should cost as little as possible and favour no client. It timestamps each event as it
starts sending it and each /response once its whole body has been read.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from typing import BinaryIO


def _read_chunked(rfile: BinaryIO) -> bytes:
    """A chunked request body (trailers skipped)."""
    parts = []
    while size := int(rfile.readline().split(b";")[0], 16):
        parts.append(rfile.read(size))
        rfile.readline()
    while rfile.readline() not in (b"\r\n", b"\n", b""):
        pass
    return b"".join(parts)


def read_request(conn: socket.socket, rfile: BinaryIO, line: bytes) -> tuple[bytes, bytes, bytes]:
    """Method, target and body (plain or chunked) of the request whose request line is ``line``; answers
    100-continue."""
    method, target = line.split(b" ")[:2]
    headers: dict[bytes, bytes] = {}
    while (header := rfile.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"expect", b"").lower() == b"100-continue":
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        return method, target, _read_chunked(rfile)
    return method, target, rfile.read(int(headers.get(b"content-length", b"0")))


class BenchServer:
    """Runtime API with just enough HTTP/1.1 for the clients measured here."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._events: queue.Queue[bytes | None] = queue.Queue()
        self.first_next = threading.Event()
        self.first_next_ns = 0
        self.responses: queue.Queue[tuple[int, int, bytes]] = queue.Queue()  # (sent_ns, done_ns, body)
        self._sent_ns = 0
        self._ids = 0
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    @property
    def address(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}"

    def put(self, event: bytes | None) -> None:
        """Queue an event (None: answer the next /next with 500)."""
        self._events.put(event)

    def close(self) -> None:
        self._stop.set()
        self._accepter.join(timeout=5)
        self._listener.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        # Blocking reads, no timeout: a runtime slowed by the machine's load must not lose its connection mid-body.
        # close() shuts the connections down, which ends these reads.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conns.append(conn)
        rfile = conn.makefile("rb")
        try:
            while not self._stop.is_set():
                line = rfile.readline()
                if not line:
                    return
                method, target, body = read_request(conn, rfile, line)
                if method == b"GET":
                    if not self._next(conn, target):
                        return
                    continue

                done = time.perf_counter_ns()
                if target.endswith(b"/response"):
                    self.responses.put((self._sent_ns, done, body))
                conn.sendall(
                    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
                    b'{"status":"OK"}\n'
                )
        except (OSError, ValueError):
            return
        finally:
            with contextlib.suppress(OSError):
                rfile.close()
                conn.close()

    def _next(self, conn: socket.socket, target: bytes) -> bool:
        if not self.first_next.is_set():
            self.first_next_ns = time.perf_counter_ns()
            self.first_next.set()
        while True:
            if self._stop.is_set():
                return False
            try:
                event = self._events.get(timeout=0.1)
                break
            except queue.Empty:
                continue
        if event is None:
            body = b'{"errorMessage":"benchmark over","errorType":"Benchmark.Over"}'
            conn.sendall(
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            return True
        self._ids += 1
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-%012d\r\n"
            b"Lambda-Runtime-Deadline-Ms: %d\r\n"
            b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n"
            b"Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;"
            b"Parent=9a9197af755a6419;Sampled=1\r\n"
            b"Content-Length: %d\r\n\r\n" % (self._ids, int(time.time() * 1000) + 300_000, len(event))
        )
        self._sent_ns = time.perf_counter_ns()
        conn.sendall(head + event)
        return True
