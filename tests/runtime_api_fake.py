"""A scripted Lambda Runtime API (2018-06-01) on 127.0.0.1 for testing bootstraps.

It hands out queued events on GET /runtime/invocation/next and records every request and every POST (headers, body,
and for a chunked body each chunk as it arrived and the trailers), so a test can run a real bootstrap process against
it and check byte for byte what the bootstrap sent back. Beyond the 2018 API it speaks what runtime-api.md §8 adds: a
fresh Lambda-Runtime-Invocation-Id per event, an optional tenant id, 410 for a stale attempt, streamed responses, and
any number of concurrent /next requests (one thread per connection).

A handler under test also has two side doors on the same port, so that a test proves streaming and concurrency by
what happened, not by timing: GET /test/seen/<request id>/<n> answers once that invocation's streamed response has
delivered n chunks, and GET /test/barrier/<n> answers once n callers wait there, the last to come first.

Every reply leaves in one write, as from Lambda's Go server. With ``nodelay=False`` the server keeps Nagle's algorithm
on, and the fake counts the replies that Nagle held back (sent behind data the runtime had not acknowledged yet: the
40 ms stall of a runtime that pipelines requests) and the requests that reached it in more than one TCP segment (a
runtime that writes one request in pieces stalls the same way behind its own Nagle). Both counts come from the
kernel's TCP_INFO, not from a clock.
"""

from __future__ import annotations

import base64
import http.server
import itertools
import json
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

API_PREFIX = "/2018-06-01/runtime/"
# struct tcp_info (linux/tcp.h): tcpi_notsent_bytes, tcpi_min_rtt, tcpi_data_segs_in, tcpi_data_segs_out.
_TCP_INFO_TAIL = struct.Struct("IIII")
_TCP_INFO_TAIL_OFFSET = 144
# Requests larger than this may take several segments whatever the client does (loopback's MSS is about 64 KiB).
SINGLE_SEGMENT_LIMIT = 32 * 1024


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
    client_context: str | None = None
    cognito_identity: str | None = None


@dataclass
class Post:
    """One POST a bootstrap made: resource after /runtime/, lower-cased headers, raw (de-chunked) body; for a chunked
    body also each chunk as framed, in order, and the trailers (lower-cased names)."""

    resource: str
    headers: dict[str, str]
    body: bytes
    client_port: int
    chunks: list[bytes] = field(default_factory=list)
    trailers: dict[str, str] = field(default_factory=dict)
    received: float = 0.0

    @property
    def streamed(self) -> bool:
        return self.headers.get("lambda-runtime-function-response-mode") == "streaming"

    def error_trailer(self) -> dict[str, Any] | None:
        """The decoded Lambda-Runtime-Function-Error-Body trailer, or None."""
        body = self.trailers.get("lambda-runtime-function-error-body")
        if body is None:
            return None
        decoded: dict[str, Any] = json.loads(base64.b64decode(body, validate=True))
        return decoded


@dataclass
class Rules:
    """How the fake answers POSTs: status by resource suffix, request ids whose /response reply closes the
    connection, and request ids whose attempt is over (every post for them gets 410, as after a timeout)."""

    status: dict[str, int] = field(default_factory=dict)
    close_after_response: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)


class FakeRuntimeAPI:
    """Runtime API fake. Use as a context manager; `runtime_api` is the value for AWS_LAMBDA_RUNTIME_API."""

    def __init__(self, *, nodelay: bool = True, prefix: str = "") -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.invocation_ids: dict[str, str | None] = {}
        self.posts: list[Post] = []
        self.requests: list[tuple[str, str, int]] = []
        self.rules = Rules()
        self.nodelay = nodelay
        self.prefix = prefix.rstrip("/")
        self.nagle_holds = 0
        self.split_requests: list[str] = []
        self.open_nexts = 0
        self.max_open_nexts = 0
        self.on_chunk: Callable[[Post, bytes], None] | None = None
        self._hold = 0  # see hold_events_until_open_nexts
        self._held: list[Event] = []  # the events of the nexts held there, one each
        self._stop = threading.Event()
        self._lock = threading.Condition()
        self._changed = self._lock  # notified on every new post, chunk and /next
        self.streamed: dict[str, list[bytes]] = {}  # request id -> chunks received so far
        self._barrier: list[threading.Event] = []  # the callers waiting at /test/barrier
        self.barrier_order: list[int] = []  # the arrival number of each caller, in the order released
        self._ids = itertools.count(1)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> FakeRuntimeAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    @property
    def runtime_api(self) -> str:
        return self.address + self.prefix

    def add(
        self,
        body: bytes,
        *,
        trace_id: str | None = "auto",
        deadline_ms: int | None = None,
        chunked: bool = False,
        delay: float = 0.0,
        tenant_id: str | None = None,
        client_context: str | None = None,
        cognito_identity: str | None = None,
        invocation_id: str | None = "auto",
    ) -> str:
        """Queue an invocation; returns its request id."""
        n = next(self._ids)
        request_id = f"8476a536-e9f4-11e8-9739-{n:012d}"
        if trace_id == "auto":
            trace_id = f"Root=1-5bef4de7-ad49b0e87f6ef6c8{n:08x};Parent=9a9197af755a6419;Sampled=1"
        if invocation_id == "auto":
            invocation_id = f"attempt-{n}"
        self.invocation_ids[request_id] = invocation_id
        self.events.put(
            Event(
                body=body,
                request_id=request_id,
                trace_id=trace_id,
                deadline_ms=deadline_ms if deadline_ms is not None else int(time.time() * 1000) + 300_000,
                arn="arn:aws:lambda:us-east-1:123456789012:function:conform",
                chunked=chunked,
                delay=delay,
                invocation_id=invocation_id,
                tenant_id=tenant_id,
                client_context=client_context,
                cognito_identity=cognito_identity,
            )
        )
        return request_id

    def add_status(self, status: int = 500) -> None:
        """Queue a GET /next that answers with an error status (500: the runtime must exit)."""
        self.events.put(Event(b"", "", None, 0, "", status=status))

    def hold_events_until_open_nexts(self, count: int) -> None:
        """Answer no /next until COUNT of them are open at once (a runtime serving fewer in parallel never gets
        an event, so a test of concurrency needs no clock)."""
        with self._lock:
            self._hold = count

    def wait_for_waiting_next(self, count: int, timeout: float = 30.0) -> bool:
        """Whether ``count`` GET /next requests were open at the same moment within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self.max_open_nexts >= count, timeout)

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

    def _next_event(self) -> Event | None:
        with self._lock:
            self.open_nexts += 1
            self.max_open_nexts = max(self.max_open_nexts, self.open_nexts)
            self._lock.notify_all()
            held = bool(self._hold)
            if held and self.open_nexts >= self._hold:
                # Released: each held next gets one of the first events now, so that a fast worker's next /next,
                # sent before a slow thread wakes, cannot take a second one.
                while len(self._held) < self._hold and not self.events.empty():
                    self._held.append(self.events.get_nowait())
                self._hold = 0
            while self._hold and not self._stop.is_set():
                self._lock.wait(0.05)
            if held and self._held:
                self.open_nexts -= 1
                return self._held.pop(0)
        try:
            while not self._stop.is_set():
                try:
                    return self.events.get(timeout=0.05)
                except queue.Empty:
                    continue
            return None
        finally:
            with self._lock:
                self.open_nexts -= 1


def tcp_info_tail(sock: socket.socket) -> tuple[int, int, int, int]:
    """(notsent_bytes, min_rtt, data_segs_in, data_segs_out) of a connected TCP socket."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    values: tuple[int, int, int, int] = _TCP_INFO_TAIL.unpack_from(info, _TCP_INFO_TAIL_OFFSET)
    return values


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a bootstrap that exits mid-request (as after a 500) is expected, not worth a traceback


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def setup(self) -> None:
        super().setup()
        if self.fake.nodelay:
            # Like Lambda's own server (Go sets TCP_NODELAY): a reply never waits for the runtime's ACK.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._segments_seen = tcp_info_tail(self.connection)[2]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def fake(self) -> FakeRuntimeAPI:
        fake: FakeRuntimeAPI = self.server.fake
        return fake

    def _record(self) -> str:
        path = self.path
        if self.fake.prefix:
            if not path.startswith(self.fake.prefix + "/"):
                return ""
            path = path.removeprefix(self.fake.prefix)
        resource = path.removeprefix(API_PREFIX) if path.startswith(API_PREFIX) else ""
        with self.fake._lock:
            self.fake.requests.append((self.command, resource or self.path, self.client_address[1]))
        return resource

    def _request_read(self, size: int) -> None:
        """Count the data segments this request took (a buffered rfile may have read ahead of it, so only when
        nothing more than the request itself can have arrived: the runtime waits for our reply)."""
        segments = tcp_info_tail(self.connection)[2]
        if size <= SINGLE_SEGMENT_LIMIT and segments - self._segments_seen > 1:
            with self.fake._lock:
                self.fake.split_requests.append(f"{self.command} {self.path}: {segments - self._segments_seen}")
        self._segments_seen = segments

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        self._send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _send(self, data: bytes) -> None:
        self.wfile.write(data)
        if not self.fake.nodelay and tcp_info_tail(self.connection)[0] > 0:
            with self.fake._lock:
                self.fake.nagle_holds += 1

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
        self._request_read(len(self.raw_requestline))
        if self._side_door():
            return
        if resource != "invocation/next":
            self._reply(404, b'{"errorMessage":"not found","errorType":"NotFound"}')
            return
        event = self.fake._next_event()
        if event is None:
            self.close_connection = True
            return
        if event.delay:
            time.sleep(event.delay)
        if event.status != 200:
            self._reply(event.status, b'{"errorMessage":"container error","errorType":"ContainerError"}')
            return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": event.request_id,
            "Lambda-Runtime-Deadline-Ms": str(event.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": event.arn,
        }
        optional = {
            "Lambda-Runtime-Trace-Id": event.trace_id,
            "Lambda-Runtime-Invocation-Id": event.invocation_id,
            "Lambda-Runtime-Aws-Tenant-Id": event.tenant_id,
            "Lambda-Runtime-Client-Context": event.client_context,
            "Lambda-Runtime-Cognito-Identity": event.cognito_identity,
        }
        headers.update({name: value for name, value in optional.items() if value is not None})
        headers["Content-Type"] = "application/json"
        if not event.chunked:
            self._reply(200, event.body, headers)
            return
        head = ["HTTP/1.1 200 OK", *(f"{n}: {v}" for n, v in headers.items()), "Transfer-Encoding: chunked"]
        parts = [("\r\n".join(head) + "\r\n\r\n").encode("latin-1")]
        for i in range(0, len(event.body), 1000):
            chunk = event.body[i : i + 1000]
            parts.append(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        parts.append(b"0\r\n\r\n")
        self._send(b"".join(parts))

    def _read_chunked(self, post: Post) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                break
            chunk = self.rfile.read(size)
            assert self.rfile.read(2) == b"\r\n", "a chunk must end with CRLF"
            post.chunks.append(chunk)
            body += chunk
            with self.fake._changed:
                self.fake.streamed.setdefault(post.resource.split("/")[1], []).append(chunk)
                self.fake._changed.notify_all()
            if self.fake.on_chunk is not None:
                self.fake.on_chunk(post, chunk)
        while (line := self.rfile.readline(65536)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            post.trailers[name.strip().lower()] = value.strip()
        return bytes(body)

    def do_POST(self) -> None:
        resource = self._record()
        headers = {k.lower(): v for k, v in self.headers.items()}
        post = Post(resource, headers, b"", self.client_address[1])
        if "chunked" in headers.get("transfer-encoding", "").lower():
            post.body = self._read_chunked(post)
        else:
            post.body = self.rfile.read(int(headers.get("content-length", "0")))
        post.received = time.monotonic()
        self._request_read(len(post.body) + 1024)
        with self.fake._changed:
            self.fake.posts.append(post)
            self.fake._changed.notify_all()
        rules = self.fake.rules
        parts = resource.split("/")
        request_id = parts[1] if len(parts) > 1 else ""
        status = next((s for suffix, s in rules.status.items() if resource.endswith(suffix)), 202)
        if request_id in rules.gone:
            status = 410
        extra = {}
        if resource.endswith("/response") and request_id in rules.close_after_response:
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
        elif status == 410:
            self._reply(
                410, b'{"errorMessage":"Invoke timeout","errorType":"ErrorRuntimeInvokeTimeout"}', extra
            )
        else:
            self._reply(status, b'{"errorMessage":"scripted error","errorType":"Scripted"}', extra)
