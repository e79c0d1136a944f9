"""A scripted Lambda Runtime API (2018-06-01) on 127.0.0.1 for testing bootstraps.

It hands out queued events on GET /runtime/invocation/next and records every request and every POST body, so a
test can run a real bootstrap process against it and check byte for byte what the bootstrap sent back.

For today's features (docs/runtime-api.md §8) it also sends Lambda-Runtime-Invocation-Id and, when asked,
Lambda-Runtime-Aws-Tenant-Id; reads chunked POST bodies (response streaming) chunk by chunk with their trailers;
counts the GET /next requests held open at once (Managed Instances concurrency); and offers a handler under test
two side doors on the same port, so that a test proves streaming and concurrency by what happened, not by
timing: GET /test/seen/<request id>/<n> answers once that invocation's streamed response has delivered n
chunks, and GET /test/barrier/<n> answers once n callers wait there, the last to come first.
"""

from __future__ import annotations

import http.server
import itertools
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

API_PREFIX = "/2018-06-01/runtime/"


@dataclass
class Event:
    """One scripted answer to GET /next: an invocation, or an error status for the runtime."""

    body: bytes
    request_id: str
    trace_id: str | None
    deadline_ms: int
    arn: str
    chunked: bool = False
    delay: float = 0.0
    status: int = 200
    invocation_id: str | None = None
    tenant_id: str | None = None


@dataclass
class Post:
    """One POST a bootstrap made: resource after /runtime/, lower-cased headers, raw body."""

    resource: str
    headers: dict[str, str]
    body: bytes
    client_port: int
    chunks: list[bytes] = field(default_factory=list)  # as framed by a chunked body, in order
    trailers: dict[str, str] = field(default_factory=dict)  # lower-cased names


@dataclass
class Rules:
    """How the fake answers POSTs: status by resource suffix, and request ids whose /response reply closes the
    connection."""

    status: dict[str, int] = field(default_factory=dict)
    close_after_response: set[str] = field(default_factory=set)


class FakeRuntimeAPI:
    """Runtime API fake. Use as a context manager; `address` is the host:port for AWS_LAMBDA_RUNTIME_API."""

    def __init__(self) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.posts: list[Post] = []
        self.requests: list[tuple[str, str, int]] = []
        self.rules = Rules()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._changed = threading.Condition(self._lock)
        self.waiting_next = 0  # GET /next requests held open right now
        self.most_waiting_next = 0
        self.streamed: dict[str, list[bytes]] = {}  # request id -> chunks received so far
        self._barrier: list[threading.Event] = []
        self.barrier_order: list[int] = []  # the arrival number of each caller, in the order released
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> FakeRuntimeAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def add(
        self,
        body: bytes,
        *,
        trace_id: str | None = "auto",
        deadline_ms: int | None = None,
        chunked: bool = False,
        delay: float = 0.0,
        tenant_id: str | None = None,
        invocation_id: str | None = "auto",
    ) -> str:
        """Queue an invocation; returns its request id."""
        n = next(self._ids)
        request_id = f"8476a536-e9f4-11e8-9739-{n:012d}"
        if trace_id == "auto":
            trace_id = f"Root=1-5bef4de7-ad49b0e87f6ef6c8{n:08x};Parent=9a9197af755a6419;Sampled=1"
        self.events.put(
            Event(
                body=body,
                request_id=request_id,
                trace_id=trace_id,
                deadline_ms=deadline_ms if deadline_ms is not None else int(time.time() * 1000) + 300_000,
                arn="arn:aws:lambda:us-east-1:123456789012:function:conform",
                chunked=chunked,
                delay=delay,
                invocation_id=f"attempt-{n}" if invocation_id == "auto" else invocation_id,
                tenant_id=tenant_id,
            )
        )
        return request_id

    def add_status(self, status: int = 500) -> None:
        """Queue a GET /next that answers with an error status (500: the runtime must exit)."""
        self.events.put(Event(b"", "", None, 0, "", status=status))

    def wait_for_waiting_next(self, count: int, timeout: float = 30.0) -> bool:
        """Whether ``count`` GET /next requests were open at the same moment within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self.most_waiting_next >= count, timeout)

    def wait_for_posts(self, count: int, timeout: float = 30.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.posts) >= count, timeout)

    def posts_for(self, request_id: str) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if p.resource.startswith(f"invocation/{request_id}/")]

    def response(self, request_id: str) -> bytes:
        posts = self.posts_for(request_id)
        assert [p.resource for p in posts] == [f"invocation/{request_id}/response"], posts
        return posts[0].body


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a bootstrap that exits mid-request (as after a 500) is expected, not worth a traceback


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def setup(self) -> None:
        super().setup()
        # Like Lambda's own server (Go sets TCP_NODELAY): headers and body sent apart must not wait on Nagle.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def fake(self) -> FakeRuntimeAPI:
        fake: FakeRuntimeAPI = self.server.fake
        return fake

    def _record(self) -> str:
        resource = self.path.removeprefix(API_PREFIX)
        with self.fake._lock:
            self.fake.requests.append((self.command, resource, self.client_address[1]))
        return resource

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _side_door(self) -> bool:
        parts = self.path.split("/")
        if self.path.startswith("/test/seen/") and len(parts) == 5:
            request_id, count = parts[3], int(parts[4])
            with self.fake._changed:
                seen = self.fake._changed.wait_for(lambda: len(self.fake.streamed.get(request_id, [])) >= count, 20)
            self._reply(200 if seen else 408, b"seen" if seen else b"not seen")
            return True
        if self.path.startswith("/test/barrier/") and len(parts) == 4:
            self._wait_at_barrier(int(parts[3]))
            return True
        return False

    def _wait_at_barrier(self, count: int) -> None:
        fake = self.fake
        mine = threading.Event()
        with fake._changed:
            number = len(fake._barrier)
            fake._barrier.append(mine)
            if len(fake._barrier) == count:
                # Released last come, first served: the invocations answer in another order than they began.
                threading.Thread(target=self._release, args=(list(fake._barrier),), daemon=True).start()
        released = mine.wait(20)
        with fake._changed:
            if released:
                fake.barrier_order.append(number)
        self._reply(200 if released else 408, b"released" if released else b"barrier not reached")

    def _release(self, waiting: list[threading.Event]) -> None:
        fake = self.fake
        with fake._changed:
            answered = len(fake.posts)
        for event in reversed(waiting):
            event.set()
            answered += 1
            with fake._changed:  # the next one goes once this one's invocation has answered
                fake._changed.wait_for(lambda goal=answered: len(fake.posts) >= goal, 20)

    def do_GET(self) -> None:
        resource = self._record()
        if self._side_door():
            return
        if resource != "invocation/next":
            self._reply(404, b'{"errorMessage":"not found","errorType":"NotFound"}')
            return
        with self.fake._changed:
            self.fake.waiting_next += 1
            self.fake.most_waiting_next = max(self.fake.most_waiting_next, self.fake.waiting_next)
            self.fake._changed.notify_all()
        try:
            event = self._next_event()
        finally:
            with self.fake._changed:
                self.fake.waiting_next -= 1
        if event is None:
            return
        self._send_event(event)

    def _next_event(self) -> Event | None:
        while True:
            if self.fake._stop.is_set():
                self.close_connection = True
                return None
            try:
                return self.fake.events.get(timeout=0.05)
            except queue.Empty:
                continue

    def _send_event(self, event: Event) -> None:
        if event.delay:
            time.sleep(event.delay)
        if event.status != 200:
            self._reply(event.status, b'{"errorMessage":"container error","errorType":"ContainerError"}')
            return
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", event.request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(event.deadline_ms))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", event.arn)
        if event.trace_id is not None:
            self.send_header("Lambda-Runtime-Trace-Id", event.trace_id)
        if event.invocation_id is not None:
            self.send_header("Lambda-Runtime-Invocation-Id", event.invocation_id)
        if event.tenant_id is not None:
            self.send_header("Lambda-Runtime-Aws-Tenant-Id", event.tenant_id)
        self.send_header("Content-Type", "application/json")
        if event.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(event.body), 1000):
                chunk = event.body[i : i + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(event.body)))
            self.end_headers()
            self.wfile.write(event.body)

    def _read_chunked(self, request_id: str) -> tuple[list[bytes], dict[str, str]]:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                break
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
            with self.fake._changed:
                self.fake.streamed.setdefault(request_id, []).append(chunks[-1])
                self.fake._changed.notify_all()
        trailers: dict[str, str] = {}
        while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            trailers[name.strip().lower()] = value.strip()
        return chunks, trailers

    def do_POST(self) -> None:
        resource = self._record()
        chunks: list[bytes] = []
        trailers: dict[str, str] = {}
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, trailers = self._read_chunked(resource.split("/")[1])
            body = b"".join(chunks)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.fake._changed:
            self.fake.posts.append(Post(resource, headers, body, self.client_address[1], chunks, trailers))
            self.fake._changed.notify_all()
        rules = self.fake.rules
        status = next((s for suffix, s in rules.status.items() if resource.endswith(suffix)), 202)
        extra = {}
        parts = resource.split("/")
        if resource.endswith("/response") and parts[1] in rules.close_after_response:
            extra["Connection"] = "close"
            self.close_connection = True
        if status == 202:
            self._reply(202, b'{"status":"OK"}', extra)
        elif status == 413:
            self._reply(
                413,
                b'{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).",'
                b'"errorType":"RequestEntityTooLarge"}',
                extra,
            )
        else:
            self._reply(status, b'{"errorMessage":"scripted error","errorType":"Scripted"}', extra)
