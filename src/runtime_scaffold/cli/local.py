"""`scaffold invoke` and `scaffold serve`: run a project's bootstraps on the local Lambda."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runtime_scaffold.cli.invoke_options import apply as apply_invoke_options
from runtime_scaffold.cli.invoke_options import invoke_options
from runtime_scaffold.cli.options import CONFIG_OPTION, PROJECT_OPTION, open_project
from runtime_scaffold.cli.signals import StopSignals
from runtime_scaffold.emulator import logs
from runtime_scaffold.errors import FunctionError, InvalidInput

if TYPE_CHECKING:
    from runtime_scaffold.emulator.invocation import InvocationResult
    from runtime_scaffold.emulator.local_lambda import LocalLambda

# The emulator (the event loop, the server, the JSON checker) is imported by the commands that run it, so
# that `scaffold --help` and `scaffold new` do not pay for it.

INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped with Ctrl-C
# Before a command's own last words (and at Ctrl-C), the bootstrap's log lines still waiting get this long.
_LOG_DRAIN_S = 1.0


def _say(text: str) -> None:
    """A line on stderr that cannot block: it queues behind the log lines, whatever reads (or not) stderr."""
    logs.stderr_sink(text.encode() + b"\n")
    logs.drain_stderr(timeout_s=_LOG_DRAIN_S)


def _read_event(data: str | None, path: Path | None) -> bytes:
    """The event as bytes, checked to be JSON as the AWS CLI checks `--payload`."""
    if data is not None and path is not None:
        raise InvalidInput("give the event with --data or --path, not both")
    if path is not None:
        try:
            payload = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
        except OSError as error:
            raise InvalidInput(f"cannot read the event file {path}: {error.strerror or error}") from None
        source = str(path)
    elif data is not None:
        payload, source = data.encode(), "--data"
    else:
        return b"{}"
    from runtime_scaffold.emulator.json_check import json_error

    problem = json_error(payload)
    if problem is not None:
        raise InvalidInput(f"the event in {source} is not valid JSON: {problem}")
    return payload


@click.command(short_help="Run a function's real bootstrap once, locally; print its response.")
@click.argument("function", required=False)
@click.option("-f", "--function", "function_option", metavar="NAME",
              help="The function to invoke (same as FUNCTION; Serverless's spelling).")
@click.option("-d", "--data", metavar="JSON", help="The event, as JSON text.")
@click.option("-p", "--path", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="A file holding the event JSON ('-' reads standard input).")
@click.option("--tenant-id", metavar="ID",
              help="Invoke for this tenant (X-Amz-Tenant-Id): the runtime sees Lambda-Runtime-Aws-Tenant-Id; "
                   "1 to 256 letters, digits, spaces or . _ : / = + - @.")
@click.option("--stream", is_flag=True,
              help="Read the response as a stream, as InvokeWithResponseStream does: each chunk the function "
                   "streams is written to stdout as it arrives (a buffered response comes as one chunk); a "
                   "failure after the first byte is reported on stderr once the stream has ended.")
@invoke_options
@PROJECT_OPTION
@CONFIG_OPTION
def invoke(function: str | None, function_option: str | None, data: str | None, path: Path | None,
           tenant_id: str | None, project_dir: Path | None, config_file: Path | None, stream: bool,
           **conveniences: Any) -> None:
    """Run a function's real bootstrap once, locally, without Docker, and print its response.

    \b
    FUNCTION is a key under `functions:` in serverless.yml; it may be left out when there is only one.
    The event defaults to {}. The response body goes to stdout as is; the bootstrap's logs, with
    Lambda's START/END/REPORT lines, go to stderr. A function error (a crash, a timeout, an error the
    runtime reported) prints Lambda's error JSON on stdout, as `aws lambda invoke` writes the payload, ends
    stderr with `Error: <errorType>`, followed by `: <errorMessage>` unless the message is on the terminal
    already (stdout is the terminal, or the function logged it), and exits with status 1. Ctrl-C stops the
    bootstrap and exits with 130.

    \b
    Examples:
      scaffold invoke hello --path events/hello.json
      scaffold invoke --data '{"name": "Ada"}'
      scaffold invoke web --event-type api --http-path '/?name=Ada' --env GREETING=Hi
      scaffold invoke hello --stream --data '{"name": "Ada"}'
    """
    if function and function_option and function != function_option:
        raise InvalidInput(f"two different functions named: {function!r} and {function_option!r}")
    from runtime_scaffold.emulator.local_lambda import LocalLambda

    payload = _read_event(data, path)
    if tenant_id is not None:
        from runtime_scaffold.emulator.tenancy import InvalidTenantId, check_tenant_id

        try:
            check_tenant_id(tenant_id)
        except InvalidTenantId as error:
            raise InvalidInput(f"--tenant-id: {error}") from None
    project = open_project(project_dir, config_file=config_file)
    project, payload = apply_invoke_options(project, function or function_option, **conveniences,
                                            file_event=payload, file_event_given=data is not None or path is not None)
    streamed = 0
    try:
        # Leaving the with-block on Ctrl-C (or kill) stops and reaps the bootstrap.
        with StopSignals() as signals, LocalLambda(project) as local:
            if stream:
                result, streamed = _invoke_streaming(local, function or function_option, payload, signals,
                                                     tenant_id=tenant_id)
            else:
                result = signals.wait(local.loop.submit(local.invoke_async(function or function_option, payload,
                                                                           tenant_id=tenant_id)))
    except KeyboardInterrupt:
        _say("Interrupted; the bootstrap was stopped.")
        raise click.exceptions.Exit(INTERRUPTED) from None
    assert result is not None
    if streamed:
        logs.drain_stderr(timeout_s=_LOG_DRAIN_S)
        if result.error_type is not None:
            # The error JSON is not on stdout after a stream: the message is said here.
            summary = _error_summary(result.error_type, result.payload, log=b"", payload_shown=False)
            raise FunctionError(f"{summary} (after {streamed} bytes of the stream)")
        return
    logs.drain_stderr(timeout_s=_LOG_DRAIN_S)  # the log, then the payload and the summary
    on_terminal = _stdout_is_terminal()
    sys.stdout.buffer.write(result.payload)
    if on_terminal:
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()
    if result.error_type is not None:
        raise FunctionError(_error_summary(result.error_type, result.payload, log=result.log_tail,
                                           payload_shown=on_terminal))


def _invoke_streaming(local: LocalLambda, function: str | None, payload: bytes, signals: StopSignals, *,
                      tenant_id: str | None = None) -> tuple[InvocationResult | None, int]:
    """Write each piece of a streamed response to stdout as it comes; the result, and how many bytes streamed."""
    from runtime_scaffold.emulator.response_stream import invoke_streaming

    streamed_invocation = invoke_streaming(local, function, payload, tenant_id=tenant_id)
    streamed = 0
    while (piece := signals.wait(streamed_invocation.next_piece())) is not None:
        sys.stdout.buffer.write(piece)
        sys.stdout.flush()
        streamed += len(piece)
    return signals.wait(streamed_invocation.outcome), streamed


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _error_summary(error_type: str, payload: bytes, *, log: bytes, payload_shown: bool) -> str:
    """The stderr line a function error ends with: its errorType, and its errorMessage unless the reader has it
    already, on the terminal above (stdout is the terminal) or in the function's own log; so the message is
    printed once (the error JSON itself is always on stdout, as `aws lambda invoke` writes the payload)."""
    try:
        error = json.loads(payload)
    except ValueError:
        error = None
    if not isinstance(error, dict):
        return error_type
    kind = str(error.get("errorType") or error_type)
    message = " ".join(str(error.get("errorMessage", "")).split())
    if not message:
        return kind
    logged = " ".join(log.decode("utf-8", "replace").split())
    # Lambda's own errors say "RequestId: ID Error: WHAT"; its log line for them says WHAT.
    what = message.split(" Error: ", 1)[-1] if message.startswith("RequestId: ") else message
    if payload_shown or what in logged:
        return f"{kind} (the error JSON is on stdout)"
    return f"{kind}: {message}"


@click.command(short_help="Serve the project's functions as a local Lambda endpoint.")
@PROJECT_OPTION
@CONFIG_OPTION
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; anything but loopback exposes your functions to the network.")
@click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on (0 picks a free one).")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 1000),
              help="Execution environments per function; more parallel invokes wait their turn.")
@click.option("--max-concurrency", type=click.IntRange(1, 1600), metavar="N",
              help="Lambda Managed Instances: each environment takes up to N invocations at once, with "
                   "AWS_LAMBDA_MAX_CONCURRENCY=N and JSON logs (overrides a function's "
                   "capacityProvider.maxConcurrency).")
@click.option("--allow-origin", "allowed_origins", multiple=True, metavar="ORIGIN",
              help="Let web pages of this origin call the Invoke API, e.g. http://localhost:3000 (repeatable); "
                   "Invoke API requests carrying any other Origin header are refused with 403.")
@click.option("--watch", is_flag=True,
              help="Reload on every change to the project's files, layers or serverless.yml: invocations in "
                   "flight finish, then warm environments are retired, so the next invocation runs the new code.")
def serve(project_dir: Path | None, config_file: Path | None, host: str, port: int, concurrency: int,
          max_concurrency: int | None, allowed_origins: tuple[str, ...], watch: bool) -> None:
    """Serve the project's functions as a local Lambda endpoint, and its HTTP routes to browsers, until Ctrl-C.

    \b
    Callers use Lambda's Invoke API, so curl, the AWS CLI and SDKs work against it:
      curl -XPOST http://127.0.0.1:9000/2015-03-31/functions/hello/invocations -d '{}'
      aws lambda invoke --endpoint-url http://127.0.0.1:9000 --function-name hello out.json
    InvokeWithResponseStream (POST /2021-11-15/functions/NAME/response-streaming-invocations, boto3's
    invoke_with_response_stream) streams a function's response as the bootstrap sends it.
    Each function's bootstrap starts on its first invoke and stays warm; its logs go to stderr.
    With --max-concurrency N (or a function's capacityProvider, as Serverless v4 writes it), one
    environment serves up to N invocations at once, as Lambda Managed Instances do.
    Web pages cannot call the Invoke API (a request with an Origin header gets 403 unless --allow-origin
    names the origin), nor can a request naming another host than a loopback address or --host (421).

    \b
    The project's httpApi and http (REST API) routes are served on the same port, for browsers, as API
    Gateway would send them (REST API routes below /<stage>/); each `url: true` gets the next port
    (--port 9000: 9001, 9002...). serve prints each route at start-up. These routes answer web pages;
    they too refuse a foreign host name (421).
    """
    from runtime_scaffold.emulator import stream_invoke
    from runtime_scaffold.emulator.guard import is_loopback
    from runtime_scaffold.emulator.invoke_api import start_invoke_server
    from runtime_scaffold.emulator.local_lambda import LocalLambda
    from runtime_scaffold.frontdoor.listeners import FrontDoor
    from runtime_scaffold.frontdoor.reload import start_watching, watch_line

    project = open_project(project_dir, config_file=config_file)
    _allow_many_connections()
    with StopSignals() as signals, LocalLambda(project, concurrency=concurrency,
                                               max_concurrency=max_concurrency) as local:
        front_door = FrontDoor(local, host=host, url_port=port + 1 if port else 0,
                               log=lambda text: logs.stderr_sink(text.encode() + b"\n"))
        server = start_invoke_server(local, host=host, port=port, allowed_origins=allowed_origins,
                                     route_providers=[stream_invoke.add_routes, front_door.provide])
        watcher = None
        try:
            front_door.start()
            if not is_loopback(host):
                click.echo(f"Warning: --host {host} is not a loopback address: anyone who can reach it can run "
                           "your functions, with your AWS credentials.", err=True)
            click.echo(f"Local Lambda for {project.service} listening on http://{server.address}")
            for key in project.functions:
                click.echo(f"  POST http://{server.address}/2015-03-31/functions/{key}/invocations")
                click.echo(f"  POST http://{server.address}/2021-11-15/functions/{key}/response-streaming-invocations")
            routes = front_door.lines(server.address)
            if routes:
                click.echo("HTTP routes, for browsers:")
                click.echo("\n".join(routes))
            if watch:
                watcher = start_watching(project, local, front_door, say=_say)
                click.echo(watch_line(watcher))
            click.echo("Press Ctrl-C to stop.")
            sys.stdout.flush()
            signals.wait()
        except KeyboardInterrupt:
            _say("Stopping.")
        finally:
            if watcher is not None:
                watcher.stop()
            local.close()  # first: invocations in flight end with Sandbox.Failure...
            server.close(drain_s=5.0)  # ...and their callers get that answer before the process exits
            front_door.close(drain_s=1.0)
    logs.drain_stderr(timeout_s=_LOG_DRAIN_S)


def _allow_many_connections() -> None:
    """A thousand simultaneous callers need a thousand descriptors: raise the soft limit to the hard one."""
    try:
        import resource
    except ImportError:  # not on Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
