"""The event-stream encoder, read back by botocore's parser (the one boto3 uses for InvokeWithResponseStream)."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer, EventStreamMessage

from runtime_scaffold.emulator import eventstream


def decode(data: bytes) -> list[EventStreamMessage]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_a_payload_chunk_is_read_back_as_written() -> None:
    payload = bytes(range(256)) * 3 + b"\0" * 8
    (message,) = decode(b"".join(eventstream.payload_chunks(payload)))
    assert message.headers == {":event-type": "PayloadChunk", ":content-type": "application/octet-stream",
                               ":message-type": "event"}
    assert message.payload == payload
    assert message.prelude.total_length == len(b"".join(eventstream.payload_chunks(payload)))


def test_invoke_complete_leaves_absent_fields_out() -> None:
    ok, failed = decode(eventstream.invoke_complete() + eventstream.invoke_complete(
        error_code="Function.Boom", error_details='{"errorMessage": "x"}', log_result="bG9n"))
    assert ok.headers[":event-type"] == "InvokeComplete" and json.loads(ok.payload) == {}
    assert json.loads(failed.payload) == {"ErrorCode": "Function.Boom", "ErrorDetails": '{"errorMessage": "x"}',
                                          "LogResult": "bG9n"}
    assert failed.headers[":content-type"] == "application/json"


def test_messages_split_anywhere_are_parsed_whole() -> None:
    data = b"".join([*eventstream.payload_chunks(b"one"), *eventstream.payload_chunks(b"two"),
                     eventstream.invoke_complete()])
    buffer = EventStreamBuffer()
    seen = []
    for start in range(0, len(data), 7):  # as a socket may deliver it
        buffer.add_data(data[start:start + 7])
        seen.extend(buffer)
    assert [m.payload for m in seen[:2]] == [b"one", b"two"] and len(seen) == 3


def test_a_chunk_over_botocores_bound_is_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventstream, "MAX_PAYLOAD_BYTES", 10)
    messages = decode(b"".join(eventstream.payload_chunks(b"x" * 25)))
    assert [len(m.payload) for m in messages] == [10, 10, 5]


def test_the_crcs_are_crc32_of_prelude_and_message() -> None:
    data = eventstream.payload_chunks(b"abc")[0]
    total, headers_length, prelude_crc = struct.unpack(">III", data[:12])
    assert (total, prelude_crc) == (len(data), zlib.crc32(data[:8]))
    assert struct.unpack(">I", data[-4:])[0] == zlib.crc32(data[:-4])
    corrupted = data[:-5] + b"X" + data[-4:]
    with pytest.raises(ChecksumMismatch):
        decode(corrupted)
    assert headers_length == len(data) - 16 - 3
