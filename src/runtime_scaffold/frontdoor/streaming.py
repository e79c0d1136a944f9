"""A streamed function response, decoded as it arrives into an HTTP status, headers and body chunks.

A handler that streams to a function URL (``invokeMode: RESPONSE_STREAM``) and wants to set the status and
headers sends them first (Node's ``awslambda.HttpResponseStream.from``): the stream's content type is
``application/vnd.awslambda.http-integration-response`` and its bytes are a JSON prelude
``{"statusCode": 201, "headers": {...}, "cookies": [...]}``, eight NUL bytes, then the body. JSON text cannot hold
a raw NUL, so the first NUL ends the prelude. Any other content type is a 200 response of that type whose body is
the whole stream.

The decoder is fed bytes in whatever pieces the network gives and returns events as soon as they are known: one
:class:`ResponseHead`, then :class:`BodyChunk` for each piece of body, so a server can forward the body while the
function is still writing it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from runtime_scaffold.frontdoor.responses import MalformedResponse, response_head

HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
DELIMITER = b"\x00" * 8
# A prelude holds a status and headers; more than this is a stream that forgot its delimiter.
MAX_PRELUDE_BYTES = 64 * 1024


@dataclass(frozen=True)
class ResponseHead:
    status: int
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class BodyChunk:
    data: bytes


StreamEvent = ResponseHead | BodyChunk


class StreamedResponseDecoder:
    """Bytes in, :data:`StreamEvent` out. :meth:`feed` never blocks and keeps only an unfinished prelude;
    :meth:`finish` ends the stream. A broken prelude raises MalformedResponse (before any event is out, so the
    caller can still answer 502)."""

    def __init__(self, content_type: str | None, *, max_prelude_bytes: int = MAX_PRELUDE_BYTES) -> None:
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        self._prelude: bytearray | None = bytearray() if media_type == HTTP_INTEGRATION_CONTENT_TYPE else None
        self._plain_type = content_type or "application/octet-stream"
        self._head_sent = False
        self._nuls_left = len(DELIMITER)
        self._max = max_prelude_bytes

    @property
    def head_sent(self) -> bool:
        return self._head_sent

    def feed(self, data: bytes) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if self._prelude is None:
            if not self._head_sent:
                events.append(ResponseHead(200, (("content-type", self._plain_type),)))
                self._head_sent = True
            if data:
                events.append(BodyChunk(data))
            return events
        view = memoryview(data)
        if not self._head_sent:
            end = data.find(b"\x00")
            if end < 0:
                self._grow(data)
                return events
            self._grow(view[:end])
            events.append(self._head())
            view = view[end:]
        while self._nuls_left and view:  # the delimiter may be split across pieces
            if view[0] != 0:
                raise MalformedResponse("the prelude must be followed by 8 NUL bytes")
            self._nuls_left -= 1
            view = view[1:]
        if view:
            events.append(BodyChunk(bytes(view)))
        return events

    def finish(self) -> list[StreamEvent]:
        """The stream ended. A plain stream that sent nothing still gets its head; a prelude stream must have
        sent its prelude and whole delimiter."""
        if self._prelude is None:
            return self.feed(b"") if not self._head_sent else []
        if not self._head_sent:
            raise MalformedResponse("the stream ended inside its prelude (no 8 NUL bytes)")
        if self._nuls_left:
            raise MalformedResponse("the stream ended inside the 8 NUL bytes after its prelude")
        return []

    def _grow(self, piece: bytes | memoryview) -> None:
        assert self._prelude is not None
        self._prelude += piece
        if len(self._prelude) > self._max:
            raise MalformedResponse(f"the prelude is over {self._max} bytes without its 8 NUL bytes")

    def _head(self) -> ResponseHead:
        assert self._prelude is not None
        try:
            prelude = json.loads(bytes(self._prelude))
        except ValueError:
            raise MalformedResponse("the prelude is not JSON") from None
        if not isinstance(prelude, dict):
            raise MalformedResponse("the prelude is not a JSON object")
        status, headers = response_head({"statusCode": 200, **prelude})
        self._head_sent = True
        self._prelude = bytearray()  # no longer needed; keeps the "is a prelude stream" state
        return ResponseHead(status, headers)
