"""How Lambda retries a failed Event (asynchronous) invocation: twice by default, one minute and then two minutes
after the failure, under the same request id (each attempt with a fresh Lambda-Runtime-Invocation-Id), for any
error: a function error, a timeout, a crash. A function's ``maximumRetryAttempts`` (0 to 2, as the Serverless
Framework writes Lambda's MaximumRetryAttempts) sets how many.

A timed-out attempt that is retried is how a runtime meets a 410 on Lambda: in the Managed Instances mode the
first attempt's handler runs on, and its late answer is for an attempt that is no longer current.
"""

from __future__ import annotations

from runtime_scaffold.errors import ProjectError
from runtime_scaffold.project import Function, Project

# Lambda's waits before the first and the second retry.
LAMBDA_RETRY_DELAYS_S = (60.0, 120.0)
MAX_RETRY_ATTEMPTS = 2


def retry_attempts(project: Project, function: Function) -> int:
    """The function's ``maximumRetryAttempts`` (2 when it says none), checked as Lambda checks it."""
    functions = project.config.get("functions")
    spec = functions.get(function.key) if isinstance(functions, dict) else None
    value = spec.get("maximumRetryAttempts") if isinstance(spec, dict) else None
    if value is None:
        return MAX_RETRY_ATTEMPTS
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRY_ATTEMPTS:
        raise ProjectError(f"{project.config_path}: functions.{function.key}.maximumRetryAttempts must be 0, 1 "
                           f"or 2, not {value!r}")
    return value
