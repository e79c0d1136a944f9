"""One error hierarchy for everything a user can cause.

Every error subclasses :class:`ScaffoldError`, which is a :class:`click.ClickException`: click prints
``Error: <message>`` on stderr and exits with the class's ``exit_code``. Library code raises these and never
calls ``sys.exit``.
"""

from __future__ import annotations

from enum import IntEnum

import click


class ExitCode(IntEnum):
    """Exit codes of the ``scaffold`` command, one per family of failure."""

    OK = 0
    ERROR = 1  # generic failure, and function errors from `scaffold invoke`
    USAGE = 2  # bad command-line input (click's own code for usage errors)
    TEMPLATE = 3  # a template could not be rendered or its target is unusable
    PROJECT = 4  # the project (serverless.yml, handler, bootstrap) is unreadable or wrong
    EMULATOR = 5  # the local Lambda could not start or run
    CONFORMANCE = 6  # a bootstrap failed one or more conformance scenarios
    CHECK = 7  # `scaffold check` found errors


class ScaffoldError(click.ClickException):
    """Base of every user-facing error; the message is shown as is."""

    exit_code = ExitCode.ERROR


class InvalidInput(ScaffoldError):
    """A value given on the command line or as template context is not acceptable."""

    exit_code = ExitCode.USAGE


class TemplateError(ScaffoldError):
    """A template is missing, broken, or cannot be written where asked."""

    exit_code = ExitCode.TEMPLATE


class ProjectError(ScaffoldError):
    """A generated project cannot be read (no serverless.yml, bad YAML, unknown function...)."""

    exit_code = ExitCode.PROJECT


class EmulatorError(ScaffoldError):
    """The local Lambda emulator could not do what was asked (port in use, sandbox failure...)."""

    exit_code = ExitCode.EMULATOR


class FunctionError(ScaffoldError):
    """An invocation ended in a function error; the message is the error JSON Lambda would return."""

    exit_code = ExitCode.ERROR


class ConformanceFailure(ScaffoldError):
    """A bootstrap did not honour the Runtime API contract."""

    exit_code = ExitCode.CONFORMANCE


class CheckFailure(ScaffoldError):
    """`scaffold check` found at least one error."""

    exit_code = ExitCode.CHECK
