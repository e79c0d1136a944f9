"""A local AWS Lambda for custom runtimes: the Runtime API a bootstrap talks to, the Invoke API callers use,
and one sandbox (a bootstrap process with Lambda's environment, deadline and crash handling) per function."""

from runtime_scaffold.emulator.invocation import Invocation, InvocationResult
from runtime_scaffold.emulator.invoke_api import InvokeApi, start_invoke_server
from runtime_scaffold.emulator.local_lambda import FunctionPool, LocalLambda
from runtime_scaffold.emulator.runtime_api import RuntimeApi, RuntimeCall, RuntimeHooks
from runtime_scaffold.emulator.sandbox import Sandbox
from runtime_scaffold.emulator.server import LoopbackServer, Reply, Request

__all__ = [
    "FunctionPool",
    "Invocation",
    "InvocationResult",
    "InvokeApi",
    "LocalLambda",
    "LoopbackServer",
    "Reply",
    "Request",
    "RuntimeApi",
    "RuntimeCall",
    "RuntimeHooks",
    "Sandbox",
    "start_invoke_server",
]
