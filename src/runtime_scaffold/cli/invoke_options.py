"""`scaffold invoke`'s conveniences for users of `serverless invoke local`: --env, and an HTTP event built from
--event-type/--method/--http-path/--body/--header. The command adds these options and calls :func:`apply`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from runtime_scaffold.errors import InvalidInput
from runtime_scaffold.project import Project

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE",
                 help="Set an environment variable over the function's own (repeatable)."),
    click.option("--event-type", type=click.Choice(["api", "http", "url"]),
                 help="Send the HTTP event the front door would: api = httpApi (HTTP API), http = REST API, "
                 "url = function URL. Takes --method, --http-path, --body, --header instead of --data/--path."),
    click.option("--method", metavar="METHOD", help="The HTTP method [default: POST with --body, else GET]."),
    click.option("--http-path", metavar="PATH", help="The request path and query, e.g. '/hello?name=Ada' "
                 "[default: /] (--path is the event file, as in `serverless invoke local`)."),
    click.option("--body", metavar="TEXT", help="The request body; without --header 'Content-Type: ...' it is "
                 "sent as application/json if it parses as JSON, else as a form."),
    click.option("-H", "--header", "headers", multiple=True, metavar="'NAME: VALUE'",
                 help="A request header (repeatable)."),
)


def invoke_options(command: F) -> F:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def apply(project: Project, function: str | None, *, env: Sequence[str], event_type: str | None,
          method: str | None, http_path: str | None, body: str | None, headers: Sequence[str],
          file_event: bytes, file_event_given: bool) -> tuple[Project, bytes]:
    """The project with --env applied and the event to send: the HTTP event when --event-type is given, else
    ``file_event`` (from --data / --path, or {})."""
    from runtime_scaffold.overrides import parse_environment, with_environment

    project = with_environment(project, function, parse_environment(env))
    http_options = {"--method": method, "--http-path": http_path, "--body": body, "--header": headers or None}
    if event_type is None:
        given = [name for name, value in http_options.items() if value is not None]
        if given:
            raise InvalidInput(f"{', '.join(given)} describe an HTTP event: add --event-type api, http or url")
        return project, file_event
    if file_event_given:
        raise InvalidInput("give the event with --data/--path or build one with --event-type, not both")
    from runtime_scaffold.frontdoor.invoke_events import build_invoke_event, parse_header

    event = build_invoke_event(project, project.function(function).key, event_type=event_type,
                               method=method or ("POST" if body else "GET"), path=http_path or "/", body=body,
                               headers=[parse_header(h) for h in headers])
    return project, event
