"""The local web front door: a project's HTTP routes (API Gateway HTTP and REST APIs, function URLs), requests
turned into the events AWS sends, answers turned back into HTTP responses, streamed answers decoded as they come.

Pure functions and data, no sockets: the server (``scaffold serve``) and ``scaffold invoke --event-type`` call in.
"""

from runtime_scaffold.frontdoor.events import EventContext, build_event
from runtime_scaffold.frontdoor.request import HttpRequest
from runtime_scaffold.frontdoor.responses import HttpResponse, MalformedResponse, from_result, not_found
from runtime_scaffold.frontdoor.routes import ApiKind, Route, RouteMatch, Routes, read_routes
from runtime_scaffold.frontdoor.streaming import BodyChunk, ResponseHead, StreamedResponseDecoder

__all__ = [
    "ApiKind",
    "BodyChunk",
    "EventContext",
    "HttpRequest",
    "HttpResponse",
    "MalformedResponse",
    "ResponseHead",
    "Route",
    "RouteMatch",
    "Routes",
    "StreamedResponseDecoder",
    "build_event",
    "from_result",
    "not_found",
    "read_routes",
]
