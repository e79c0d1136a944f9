"""Response streaming through `scaffold serve` against the same bootstrap behind a bare streaming Runtime API.

    python benchmarks/streaming.py [--rounds 7] [--megabytes 64]

One small Python bootstrap (the tests' streaming one, ``tests/emulator_fixtures.py``) streams each event's answer
(``{"bytes": N, "chunk": K}``: N bytes in K-byte HTTP chunks, the first at once). It runs twice, in turns:

- floor: a bare Runtime API (raw sockets, one thread, no framing of its own) hands it the event and reads its
  chunked /response; time to first byte is from the event's first byte sent to the first chunk's data read;
- serve: `scaffold serve` (a process of its own, uvloop), called over InvokeWithResponseStream by a raw HTTP
  client; time to first byte is from the request sent to the first PayloadChunk read, so it adds the Invoke API,
  the event-stream framing and a second hop on loopback.

MB/s is the whole answer (``--megabytes`` in 64 KiB chunks) over the time from the event to its last byte.
Medians of ``--rounds``; the ratios are what to compare, on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from emulator_fixtures import STREAMING_BOOTSTRAP, ServeProcess, write_project  # noqa: E402

KIB = 1024


class BareRuntimeApi:
    """/next and a streamed /response, with nothing else: the floor the bootstrap itself sets."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        host, port = self._listener.getsockname()[:2]
        self.address = f"{host}:{port}"
        self._conn: socket.socket | None = None
        self._buffer = bytearray()
        self._at = 0

    def _fill(self) -> None:
        assert self._conn is not None
        data = self._conn.recv(1 << 20)
        if not data:
            raise ConnectionError("the bootstrap closed its connection")
        if self._at > (1 << 20):  # drop what was read, now and then, rather than on every piece
            del self._buffer[:self._at]
            self._at = 0
        self._buffer += data

    def _read_until(self, marker: bytes) -> bytes:
        while (end := self._buffer.find(marker, self._at)) < 0:
            self._fill()
        head, self._at = bytes(self._buffer[self._at:end]), end + len(marker)
        return head

    def _skip(self, size: int) -> None:
        while len(self._buffer) - self._at < size:
            self._fill()
        self._at += size

    def invoke(self, event: bytes) -> tuple[float, float, int]:
        """Hand ``event`` to the waiting /next; (first byte s, last byte s, bytes) of the streamed answer."""
        if self._conn is None:
            self._conn, _ = self._listener.accept()
            self._conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._read_until(b"\r\n\r\n")  # GET /next
        started = time.perf_counter()
        self._conn.sendall(b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\nLambda-Runtime-Deadline-Ms: "
                           b"9999999999999\r\nContent-Length: %d\r\n\r\n%s" % (len(event), event))
        self._read_until(b"\r\n\r\n")  # the POST's head
        first, size = 0.0, 0
        while (length := int(self._read_until(b"\r\n"), 16)) > 0:
            self._skip(length + 2)
            first = first or time.perf_counter()
            size += length
        self._read_until(b"\r\n")
        done = time.perf_counter()
        self._conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
        return first - started, done - started, size


def invoke_through_serve(conn: http.client.HTTPConnection, event: bytes) -> tuple[float, float, int]:
    """One InvokeWithResponseStream on a kept-alive connection, as an SDK makes it. The event-stream messages
    are walked by their preludes (botocore's parser, which copies its buffer per message, would measure itself:
    the tests check the framing with it)."""
    started = time.perf_counter()
    conn.request("POST", "/2021-11-15/functions/hello/response-streaming-invocations", event)
    reply = conn.getresponse()
    buffer, at, first, size = bytearray(), 0, 0.0, 0
    while data := reply.read1(1 << 20):
        buffer += data
        while len(buffer) - at >= 12:
            total, headers = struct.unpack_from(">II", buffer, at)
            if len(buffer) - at < total:
                break
            if b"PayloadChunk" in buffer[at + 12:at + 12 + headers]:
                first = first or time.perf_counter()
                size += total - headers - 16
            at += total
        del buffer[:at]
        at = 0
    done = time.perf_counter()
    return first - started, done - started, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--megabytes", type=int, default=64)
    options = parser.parse_args()
    total = options.megabytes * KIB * KIB
    small = json.dumps({"bytes": 4 * KIB, "chunk": KIB}).encode()
    large = json.dumps({"bytes": total, "chunk": 64 * KIB}).encode()
    with tempfile.TemporaryDirectory() as folder:
        project = write_project(Path(folder) / "p", bootstrap=STREAMING_BOOTSTRAP, timeout=120)
        bare = BareRuntimeApi()
        bootstrap = project / "runtime" / "bootstrap"
        floor_process = subprocess.Popen([str(bootstrap)], env={"AWS_LAMBDA_RUNTIME_API": bare.address},
                                         stdout=subprocess.DEVNULL)
        figures: dict[str, dict[str, list[float]]] = {"floor": {"ttfb": [], "mbs": []},
                                                      "serve": {"ttfb": [], "mbs": []}}
        try:
            with ServeProcess(project, stderr=subprocess.DEVNULL) as serve:
                host, port = serve.address.rsplit(":", 1)
                conn = http.client.HTTPConnection(host, int(port))
                runs = (("floor", bare.invoke), ("serve", lambda event: invoke_through_serve(conn, event)))
                for _, run in runs:
                    run(small)  # warm: the bootstrap started, the connections made
                for _ in range(options.rounds):
                    for name, run in runs:
                        first, _, _ = run(small)
                        figures[name]["ttfb"].append(first * 1000)
                        _, done, size = run(large)
                        assert size == total, (name, size)
                        figures[name]["mbs"].append(size / done / 1e6)
        finally:
            floor_process.kill()
            floor_process.wait(timeout=10)
    floor_ttfb, serve_ttfb = (statistics.median(figures[n]["ttfb"]) for n in ("floor", "serve"))
    floor_mbs, serve_mbs = (statistics.median(figures[n]["mbs"]) for n in ("floor", "serve"))
    print(f"medians of {options.rounds} rounds; {options.megabytes} MiB in 64 KiB chunks for MB/s")
    print(f"{'':24}{'time to first byte':>20}{'MB/s':>12}")
    print(f"{'bare Runtime API':24}{floor_ttfb:>17.2f} ms{floor_mbs:>12.0f}")
    print(f"{'scaffold serve':24}{serve_ttfb:>17.2f} ms{serve_mbs:>12.0f}")
    print(f"{'serve / floor':24}{serve_ttfb / floor_ttfb:>19.2f}x{serve_mbs / floor_mbs:>11.2f}x")


if __name__ == "__main__":
    main()
