"""AWS's event-stream framing (``application/vnd.amazon.eventstream``), the encoding side, for the two events of
InvokeWithResponseStream: ``PayloadChunk`` (the function's bytes) and ``InvokeComplete`` (how it ended).

A message is a prelude (total length, headers length: two big-endian 32-bit integers, then the CRC32 of those 8
bytes), the headers (name length as one byte, the name, value type 7 for a string, value length as a 16-bit
integer, the value), the payload, and the CRC32 of everything before it. botocore's ``EventStreamBuffer`` is the
reader boto3 uses and the tests decode every message with it; no maintained Python encoder exists for Python 3.10
(botocore and awscrt only parse or only frame inside their own RPC connection, and smithy-aws-event-stream needs
Python 3.12), so these twenty lines are ours.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping

_STRING = 7
# botocore refuses a message whose payload is over 16 MiB (its _MAX_PAYLOAD_LENGTH): a larger chunk is split.
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024


def _headers(headers: Mapping[str, str]) -> bytes:
    parts = []
    for name, value in headers.items():
        name_bytes, value_bytes = name.encode(), value.encode()
        parts.append(struct.pack(">B", len(name_bytes)) + name_bytes
                     + struct.pack(">BH", _STRING, len(value_bytes)) + value_bytes)
    return b"".join(parts)


def encode_message(headers: Mapping[str, str] | bytes, payload: bytes) -> bytes:
    """One event-stream message; ``headers`` may be given already encoded (the same for every chunk)."""
    encoded = headers if isinstance(headers, bytes) else _headers(headers)
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded
    return b"".join((head, payload, struct.pack(">I", zlib.crc32(payload, zlib.crc32(head)))))


_PAYLOAD_HEADERS = _headers({":event-type": "PayloadChunk", ":content-type": "application/octet-stream",
                             ":message-type": "event"})
_COMPLETE_HEADERS = _headers({":event-type": "InvokeComplete", ":content-type": "application/json",
                              ":message-type": "event"})


def payload_chunks(data: bytes) -> list[bytes]:
    """``PayloadChunk`` messages carrying ``data`` (one, unless it is over botocore's per-message bound)."""
    return [encode_message(_PAYLOAD_HEADERS, data[start:start + MAX_PAYLOAD_BYTES])
            for start in range(0, max(len(data), 1), MAX_PAYLOAD_BYTES)]


def invoke_complete(*, error_code: str | None = None, error_details: str | None = None,
                    log_result: str | None = None) -> bytes:
    """The ``InvokeComplete`` message that ends the stream; absent fields are left out of its JSON."""
    document = {key: value for key, value in (("ErrorCode", error_code), ("ErrorDetails", error_details),
                                              ("LogResult", log_result)) if value is not None}
    return encode_message(_COMPLETE_HEADERS, json.dumps(document).encode())
