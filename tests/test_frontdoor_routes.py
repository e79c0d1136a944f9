"""Routes are read from serverless.yml as the Framework reads them and chosen as API Gateway chooses them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from runtime_scaffold.errors import ProjectError
from runtime_scaffold.frontdoor.routes import ApiKind, Route, Routes, best_match, read_routes
from runtime_scaffold.project import load_project


def routes_of(tmp_path: Path, functions: dict[str, Any], **provider: Any) -> Routes:
    config = {"service": "shop", "provider": {"name": "aws", "runtime": "provided.al2023", **provider},
              "functions": functions}
    (tmp_path / "serverless.yml").write_text(yaml.safe_dump(config))
    return read_routes(load_project(tmp_path))


def chosen(routes: tuple[Route, ...], method: str, path: str) -> str | None:
    match = best_match(routes, method, path)
    return match.route.route_key if match else None


def test_api_gateway_routing_example(tmp_path: Path) -> None:
    """The table of the developer guide's "Routing API requests", plus named method over ANY."""
    routes = routes_of(tmp_path, {
        "a": {"handler": "a.h", "events": [{"httpApi": "GET /pets/dog/1"}, {"httpApi": "GET /pets/dog/{id}"}]},
        "b": {"handler": "b.h", "events": [{"httpApi": {"method": "get", "path": "/pets/{proxy+}"}},
                                           {"httpApi": {"method": "*", "path": "/{proxy+}"}}, {"httpApi": "*"}]},
    }).http_api
    assert chosen(routes, "GET", "/pets/dog/1") == "GET /pets/dog/1"
    assert chosen(routes, "GET", "/pets/dog/2") == "GET /pets/dog/{id}"
    assert chosen(routes, "GET", "/pets/cat/1") == "GET /pets/{proxy+}"
    assert chosen(routes, "POST", "/test/5") == "ANY /{proxy+}"
    assert chosen(routes, "POST", "/") == "$default"  # {proxy+} needs a segment; $default takes the rest


def test_specificity_literal_before_variable_and_method_before_any(tmp_path: Path) -> None:
    routes = routes_of(tmp_path, {"w": {"handler": "w.h", "events": [
        {"httpApi": "GET /a/{x}/c"}, {"httpApi": "GET /a/b/{y}"}, {"httpApi": "ANY /a/b/c"}, {"httpApi": "GET /a/b/c"},
        {"httpApi": "GET /a/{proxy+}"}, {"httpApi": "GET /a/b/{proxy+}"},
    ]}}).http_api
    assert chosen(routes, "GET", "/a/b/c") == "GET /a/b/c"
    assert chosen(routes, "PUT", "/a/b/c") == "ANY /a/b/c"
    assert chosen(routes, "GET", "/a/b/z") == "GET /a/b/{y}"  # literal `b` wins at the second segment
    assert chosen(routes, "GET", "/a/z/c") == "GET /a/{x}/c"
    assert chosen(routes, "GET", "/a/b/z/q") == "GET /a/b/{proxy+}"  # the longer literal prefix
    assert chosen(routes, "GET", "/a/z/z/q") == "GET /a/{proxy+}"
    assert chosen(routes, "DELETE", "/a/z/c") is None


def test_path_parameters_are_decoded(tmp_path: Path) -> None:
    routes = routes_of(tmp_path, {"w": {"handler": "w.h", "events": [
        {"httpApi": "GET /items/{id}"}, {"httpApi": "GET /files/{path+}"}]}}).http_api
    item = best_match(routes, "GET", "/items/a%20b")
    assert item is not None and item.path_parameters == {"id": "a b"}
    files = best_match(routes, "GET", "/files/x/y%2Fz")
    assert files is not None and files.path_parameters == {"path": "x/y/z"}
    assert best_match(routes, "GET", "/items/") is None and best_match(routes, "GET", "/items") is None


def test_rest_routes_live_under_the_stage(tmp_path: Path) -> None:
    routes = routes_of(tmp_path, {
        "r": {"handler": "r.h", "events": [{"http": "GET hello/{name}/"}, {"http": {"method": "any", "path": "/"}},
                                           {"http": {"method": "post", "path": "form", "integration": "lambda"}}]},
        "h": {"handler": "h.h", "events": [{"httpApi": "GET /hello/{name}"}]},
    }, stage="prod")
    assert [r.route_key for r in routes.rest_api] == ["GET /hello/{name}", "ANY /"]
    assert routes.skipped == ("r: http event POST /form uses the 'lambda' integration; only the Lambda proxy "
                              "integration is served locally",)
    kind, match = routes.match("GET", "/prod/hello/ada")
    assert kind is ApiKind.REST_API and match is not None and match.route.function == "r"
    assert match.path_parameters == {"name": "ada"}
    kind, match = routes.match("GET", "/prod")
    assert kind is ApiKind.REST_API and match is not None and match.route.route_key == "ANY /"
    kind, match = routes.match("GET", "/prod/nothing")
    assert kind is ApiKind.REST_API and match is None  # a REST API's own "not found"
    kind, match = routes.match("GET", "/hello/ada")
    assert kind is ApiKind.HTTP_API and match is not None and match.route.function == "h"
    assert all(r.payload_version == "1.0" and r.integration_timeout_s == 29 for r in routes.rest_api)


def test_payload_versions_and_urls(tmp_path: Path) -> None:
    routes = routes_of(tmp_path, {
        "old": {"handler": "o.h", "httpApi": {"payload": "1.0"}, "events": [{"httpApi": "GET /old"}]},
        "new": {"handler": "n.h", "events": [{"httpApi": "GET /new"}], "url": True},
        "stream": {"handler": "s.h", "url": {"invokeMode": "RESPONSE_STREAM", "cors": True, "authorizer": "aws_iam"}},
        "plain": {"handler": "p.h", "events": [{"schedule": "rate(1 minute)"}]},
    }, httpApi={"payload": "2.0"})
    assert {r.function: r.payload_version for r in routes.http_api} == {"old": "1.0", "new": "2.0"}
    assert set(routes.urls) == {"new", "stream"}
    assert routes.urls["stream"].streaming and not routes.urls["new"].streaming
    assert routes.urls["stream"].iam_auth and not routes.urls["new"].iam_auth
    assert routes.urls["new"].route_key == "$default"
    assert routes.urls["new"].match("PATCH", "/any/path/at/all") is not None
    assert [r.kind for r in routes.for_function("new")] == [ApiKind.HTTP_API, ApiKind.FUNCTION_URL]
    assert routes.for_function("plain") == [] and bool(routes)
    assert not routes_of(tmp_path, {"plain": {"handler": "p.h"}})


def test_provider_payload_and_binary_media_types(tmp_path: Path) -> None:
    routes = routes_of(tmp_path, {"w": {"handler": "w.h", "events": [{"httpApi": "GET /"}]}},
                       httpApi={"payload": "1.0"}, apiGateway={"binaryMediaTypes": ["image/*"]})
    assert routes.http_api[0].payload_version == "1.0"
    assert routes.binary_media_types == ("image/*",)


@pytest.mark.parametrize(("events", "message"), [
    ([{"httpApi": "GET"}], "neither '*' nor 'METHOD /path'"),
    ([{"httpApi": {"path": "/x"}}], "no method for the path '/x'"),
    ([{"httpApi": {"method": "GET", "path": "*"}}], "takes no method but '*'"),
    ([{"httpApi": "FETCH /x"}], "unknown method 'FETCH'"),
    ([{"httpApi": "GET x"}], "must start with /"),
    ([{"httpApi": "GET /{proxy+}/x"}], "must end the path"),
    ([{"httpApi": "GET /a{b}"}], "mixes text and a variable"),
    ([{"httpApi": "GET /x"}, {"httpApi": "get /x"}], "'GET /x' is declared twice"),
    ([{"http": "GET"}], "needs a method and a path"),
])
def test_routes_the_framework_refuses(tmp_path: Path, events: list[Any], message: str) -> None:
    with pytest.raises(ProjectError, match=re.escape(message)):
        routes_of(tmp_path, {"w": {"handler": "w.h", "events": events}})


def test_bad_payload_version(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=re.escape("payload must be '1.0' or '2.0'")):
        routes_of(tmp_path, {"w": {"handler": "w.h", "events": [{"httpApi": "GET /"}]}}, httpApi={"payload": 3})


def test_describe_names_route_function_and_format(tmp_path: Path) -> None:
    routes = routes_of(tmp_path, {"web": {"handler": "w.h", "events": [{"httpApi": "*"}]}})
    assert routes.http_api[0].describe() == "$default  ->  web (HTTP API, payload 2.0)"
