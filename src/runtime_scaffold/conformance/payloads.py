"""The events the echo scenarios send, each chosen to break one way a runtime can mangle bytes.

A runtime passes when its conformance handler returns every one of them unchanged. Most are JSON, as Lambda's
Invoke API only takes JSON; the two that start with ``@`` and ``-`` are not, on purpose: a handler's *response*
may begin with any byte, and the echo handler turns the event into the response (``curl -d @...`` reads a file,
``echo -n`` eats an option).
"""

from __future__ import annotations

from runtime_scaffold.emulator.invocation import MAX_REQUEST_BYTES

UNICODE = (
    '{"greeting":"héllo wörld ✓","cjk":"日本語のテキスト","emoji":"😀🚀 👩‍💻","rtl":"שלום عليكم",'
    '"combining":"e\u0301","nbsp":"a\u00a0b","bom":"\ufeff","escaped":"\\u00e9\\ud83d\\ude00"}'
).encode()

# JSON escapes of control characters, as text: a runtime that decodes and re-encodes, or runs the text through
# printf's or echo -e's escape processing, changes them.
CONTROL_ESCAPES = (
    b'{"controls":"\\u0000\\u0001\\u0007\\b\\f\\n\\r\\t\\u000b\\u001b[31m\\u001f\\u007f",'
    b'"printf":"%s %d %% %n \\\\n \\\\t \\\\c \\\\0101","newline":"line1\\nline2"}'
)

QUOTES = b'{"double":"say \\"hi\\"","single":"it\'s","back":"`uname`","dollar":"$HOME $(id) ${PATH}","k\\"ey":"v"}'

BACKSLASHES = (
    b'{"windows":"C:\\\\Windows\\\\System32\\\\","regex":"^\\\\d+\\\\.\\\\w*$","one":"\\\\","two":"\\\\\\\\",'
    b'"escape_at_end":"tail\\\\"}'
)

# `*` standing alone between spaces is what an unquoted `echo $x` expands to the names of the files around it.
GLOB = b'{"glob":"a * b","star":"*","question":"?","set":"[a-z]*","home":"~","brace":"{a,b}","tilde":"~root"}'

LEADING_AT = b"@/etc/hostname"
LEADING_DASH = b"-n -e \\x41 --help -1"

# Leading and trailing whitespace is valid JSON; command substitution drops trailing newlines, unquoted
# expansion collapses runs of spaces and newlines.
WHITESPACE = b' \n{\n  "two  spaces":  "a  b",\r\n\t"tab":\t"\\t",\n\n  "end": "x   "\n}\n\n\n'

EMPTY_OBJECT = b"{}"

SHAPES = (
    b"[]",
    b'[1,2.50,-3e-10,1E+400,true,false,null,""]',
    b'"a bare string"',
    b"null",
    b"0",
    b"-1.5",
    b'{"nested":{"list":[{"a":[[],[{}]]}],"empty":""}}',
    b"[" * 200 + b"]" * 200,
    b'{"' + b"k" * 1000 + b'":"' + b"v" * 5000 + b'"}',
    b'{"a":1, "a":2}',
)


def filled(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes whose text repeats every troublesome kind of character above."""
    head, tail = b'{"filler":[', b'"end"]}'
    chunk = b'"\\u00e9 \xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80  * @x -n \\\\ \\" \\n \\t end",\n  '
    body = bytearray(head)
    while len(body) + len(chunk) + len(tail) <= size:
        body += chunk
    body += b" " * (size - len(body) - len(tail))  # JSON whitespace pads to the exact size
    body += tail
    return bytes(body)


ONE_MB = 1024 * 1024
# Lambda's synchronous event limit is 6 MB (MAX_REQUEST_BYTES); a little under it leaves room for nothing else.
UNDER_SIX_MB = MAX_REQUEST_BYTES - 1024


def describe(data: bytes, limit: int = 40) -> str:
    """A short printable form of some bytes for a one-line reason."""
    shown = repr(data[:limit])[2:-1]
    return f"'{shown}'" + ("..." if len(data) > limit else "")


def first_difference(expected: bytes, seen: bytes) -> str:
    """Where two byte strings part, as a short phrase."""
    shorter = min(len(expected), len(seen))
    index = next((i for i in range(shorter) if expected[i] != seen[i]), shorter)
    start = max(0, index - 8)
    return (f"first difference at byte {index}: expected {describe(expected[start:start + 24], 24)}, "
            f"saw {describe(seen[start:start + 24], 24)}")
