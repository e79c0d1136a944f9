"""A local AWS Lambda for custom runtimes: the Runtime API a bootstrap talks to, the Invoke API callers use,
and one sandbox (a bootstrap process with Lambda's environment, deadline and crash handling) per function.

The names below are imported on first use, so that importing one submodule (``emulator.logs``) does not load
the event loop and the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    "Invocation": "invocation",
    "InvocationResult": "invocation",
    "InvokeApi": "invoke_api",
    "InvokeServer": "invoke_api",
    "start_invoke_server": "invoke_api",
    "LocalLambda": "local_lambda",
    "Reply": "messages",
    "Request": "messages",
    "StreamReply": "messages",
    "FunctionPool": "pool",
    "Routes": "routes",
    "RuntimeApi": "runtime_api",
    "RuntimeCall": "runtime_api",
    "RuntimeHooks": "runtime_api",
    "Sandbox": "sandbox",
    "Shutdown": "runtime_api",
    "Listener": "server",
}

if TYPE_CHECKING:
    from runtime_scaffold.emulator.invocation import Invocation, InvocationResult
    from runtime_scaffold.emulator.invoke_api import InvokeApi, InvokeServer, start_invoke_server
    from runtime_scaffold.emulator.local_lambda import LocalLambda
    from runtime_scaffold.emulator.messages import Reply, Request, StreamReply
    from runtime_scaffold.emulator.pool import FunctionPool
    from runtime_scaffold.emulator.routes import Routes
    from runtime_scaffold.emulator.runtime_api import RuntimeApi, RuntimeCall, RuntimeHooks, Shutdown
    from runtime_scaffold.emulator.sandbox import Sandbox
    from runtime_scaffold.emulator.server import Listener


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "FunctionPool",
    "Invocation",
    "InvocationResult",
    "InvokeApi",
    "InvokeServer",
    "Listener",
    "LocalLambda",
    "Reply",
    "Request",
    "Routes",
    "RuntimeApi",
    "RuntimeCall",
    "RuntimeHooks",
    "Sandbox",
    "Shutdown",
    "StreamReply",
    "start_invoke_server",
]
