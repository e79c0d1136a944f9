"""An HTTP request as the front door received it: what every event builder reads, with no socket attached."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

# Content types API Gateway HTTP APIs and function URLs hand to the function as text; every other body (and a body
# with no Content-Type, and even application/x-www-form-urlencoded) arrives base64-encoded with isBase64Encoded.
# AWS's pages only say "if the content type is binary"; this split was measured against AWS (ministack PR #766).
TEXT_CONTENT_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})


@dataclass(frozen=True)
class HttpRequest:
    """One request: the raw request-target, the headers in the order and case they came, the whole body."""

    method: str
    target: str  # '/path?query' as sent, percent-encoding kept
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"
    received_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0] or "/"

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        """The last value of a header, compared case-insensitively."""
        wanted = name.lower()
        found = None
        for key, value in self.headers:
            if key.lower() == wanted:
                found = value
        return found

    @property
    def content_type(self) -> str:
        """The media type alone, lower case: ``text/html; charset=utf-8`` gives ``text/html``."""
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    @property
    def host(self) -> str:
        return self.header("host") or "localhost"

    @property
    def port(self) -> str:
        """The port the caller named in Host (what API Gateway's X-Forwarded-Port reports for its own)."""
        host = self.host
        if host.startswith("["):  # [::1]:9000
            _, _, rest = host.partition("]")
            return rest[1:] if rest.startswith(":") else "80"
        return host.rpartition(":")[2] if ":" in host else "80"

    @property
    def domain_name(self) -> str:
        """Host without the port, as ``requestContext.domainName`` carries the API's host name."""
        host = self.host
        if host.startswith("["):
            return host.partition("]")[0] + "]"
        return host.rpartition(":")[0] if ":" in host else host


def query_pairs(query: str) -> list[tuple[str, str]]:
    """``a=1&a=2&flag`` as [(a, 1), (a, 2), (flag, '')], percent-decoded. A '+' stays a '+' (API Gateway decodes
    only %XX in query parameters; the raw string is in rawQueryString for handlers that want form decoding)."""
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def is_text(content_type: str, *, binary_media_types: Sequence[str] | None = None) -> bool:
    """Whether a body of this media type reaches the function as text. With ``binary_media_types`` (a REST API's
    ``binaryMediaTypes``, wildcards such as ``image/*`` and ``*/*`` allowed) everything not listed is text;
    without, the HTTP API / function URL rule applies."""
    if binary_media_types is not None:
        return not any(_media_type_matches(content_type, pattern) for pattern in binary_media_types)
    return content_type.startswith("text/") or content_type in TEXT_CONTENT_TYPES


def _media_type_matches(content_type: str, pattern: str) -> bool:
    pattern = pattern.strip().lower()
    if pattern == "*/*":
        return True
    kind, _, sub = pattern.partition("/")
    actual_kind, _, actual_sub = content_type.partition("/")
    return kind == actual_kind and (sub in ("*", actual_sub))
