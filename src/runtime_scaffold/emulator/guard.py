"""Which requests a local listener answers at all: not a web page's, not one sent under a foreign host name.

Any web site a developer visits can make the browser POST to ``http://127.0.0.1:9000/...`` (a "simple
request" needs no preflight) and run a function holding the developer's AWS credentials; and a DNS name that
resolves to 127.0.0.1 (DNS rebinding) can even read the answer. Browsers always say where such a request comes
from (``Origin``) and which name they meant (``Host``), so:

- a request with an ``Origin`` header is refused (403) unless that origin was allowed
  (``scaffold serve --allow-origin``);
- a request whose ``Host`` names neither a loopback address (127.0.0.0/8, ::1, ``localhost``) nor the address
  the listener is bound to is refused with 421 Misdirected Request; on a wildcard address (0.0.0.0, ::), any IP
  literal is accepted, names other than ``localhost`` are not. A request without ``Host`` (HTTP/1.0 tools) passes.

Routes meant for browsers (the front door's web pages) take web pages' requests, so their screen checks the
``Host`` alone (``check_origin=False``): a page reached by DNS rebinding still cannot read their answers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from runtime_scaffold.emulator.messages import Headers, Reply, Request

Refuse = Callable[[int, str, str], Reply]
_WILDCARDS = {"0.0.0.0", "::", ""}
_CACHE_LIMIT = 64


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    """The name or address in a Host header, without its port."""
    host = host_header.strip()
    if host.startswith("["):  # [::1]:9000
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def request_screen(*, listen_host: str, allowed_origins: Iterable[str] = (), refuse: Refuse,
                   check_origin: bool = True) -> Callable[[Request], Reply | None]:
    """The check each request of a listener on ``listen_host`` passes before it is routed."""
    origins = {origin.rstrip("/").lower() for origin in allowed_origins}
    bound = listen_host.strip("[]").lower()
    wildcard = bound in _WILDCARDS
    verdicts: dict[str, bool] = {}
    passed: set[bytes] = set()  # Host values already allowed, as the parser gives them

    def host_allowed(header: str) -> bool:
        verdict = verdicts.get(header)
        if verdict is None:
            name = _host_name(header).lower()
            verdict = is_loopback(name) or name == bound
            if not verdict and wildcard:
                try:
                    ipaddress.ip_address(name)
                    verdict = True
                except ValueError:
                    verdict = False
            if len(verdicts) < _CACHE_LIMIT:
                verdicts[header] = verdict
        return verdict

    def screen(request: Request) -> Reply | None:
        headers = request.headers
        if isinstance(headers, Headers):  # the server's own: look at the raw bytes, no decoding on the way
            raw = headers.raw
            host_bytes = raw.get(b"host")
            if (b"origin" not in raw or not check_origin) and (host_bytes is None or host_bytes in passed):
                return None
        origin = headers.get("Origin") if check_origin else None
        if origin is not None and origin.rstrip("/").lower() not in origins:
            return refuse(403, "AccessDeniedException",
                          f"requests from web pages are refused (Origin: {origin[:200]}); "
                          "allow this origin with scaffold serve --allow-origin")
        host = headers.get("Host")
        if host is not None and not host_allowed(host):
            return refuse(421, "MisdirectedRequestException",
                          f"this local Lambda answers only to a loopback address or {listen_host}, "
                          f"not to the host name {host[:200]!r}")
        if host is not None and len(passed) < _CACHE_LIMIT:
            passed.add(host.encode("latin-1"))
        return None

    return screen
