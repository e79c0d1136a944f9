"""The answers to a template's variables: each one checked as it is given, the rest filled in, and all of them
handed to cookiecutter so that they reach the files exactly as typed.

cookiecutter renders every context value as a Jinja template before it writes a file (``prompt.render_variable``),
extra context and answers included, so a value holding ``{{ ... }}`` would run as code. :func:`for_cookiecutter`
turns each value into a Jinja string constant whose rendering is that value, character for character; nothing is
unescaped afterwards, and no expression a user typed is ever evaluated.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING

from runtime_scaffold.errors import InvalidInput
from runtime_scaffold.lambda_limits import MEMORY_RANGE_MB, TIMEOUT_RANGE_S
from runtime_scaffold.naming import region_problem, service_name_problem

if TYPE_CHECKING:
    from runtime_scaffold.templates import Language

# A value outside Lambda's limits deploys nowhere, so refuse it before writing a project.
LIMITS = {"timeout": (*TIMEOUT_RANGE_S, "seconds"), "memory_size": (*MEMORY_RANGE_MB, "MB")}
# Decimal digits only, no sign, no leading zero, no space: the number is written as typed.
_WHOLE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")
# Line breaks and tabs are text; any other control character (NUL, ESC, DEL, C1) is refused in every value.
_TEXT_CONTROLS = frozenset("\t\n\r")
# What the Jinja string constant may hold as is; everything else is a \x, \u or \U escape.
_JINJA_PLAIN = re.compile(r"[A-Za-z0-9 ]")


def slug_for(name: str) -> str:
    """The folder and service name that cookiecutter.json derives from a project name (the same filters)."""
    return name.lower().replace(" ", "-").replace("_", "-")


def _text_problem(value: str) -> str | None:
    for char in value:
        if "\ud800" <= char <= "\udfff":
            return "is not valid UTF-8 text"
        if unicodedata.category(char) == "Cc" and char not in _TEXT_CONTROLS:
            return f"holds the control character U+{ord(char):04X}, which no generated file takes"
    return None


def check_answer(language: Language, key: str, value: str) -> str:
    """``value`` for the variable ``key`` if the template takes it, else InvalidInput with one line that quotes
    the value as typed."""
    if key not in language.defaults or key.startswith("_"):
        valid = ", ".join(language.variables)
        raise InvalidInput(f"{key!r} is not a variable of the {language.name} template (variables: {valid})")
    problem = _text_problem(value)
    if problem:
        raise InvalidInput(f"{key} {value!r} {problem}")
    choices = language.defaults[key]
    if isinstance(choices, list) and value not in choices:
        raise InvalidInput(f"unknown {key} {value!r}: choose one of {', '.join(map(str, choices))}")
    if key in LIMITS:
        low, high, unit = LIMITS[key]
        if not (_WHOLE_NUMBER.fullmatch(value) and low <= int(value) <= high):
            raise InvalidInput(f"{key} must be a whole number from {low} to {high} ({unit}), not {value!r}")
    if key == "aws_region":
        problem = region_problem(value)
        if problem:
            raise InvalidInput(f"bad aws_region: {problem}")
    if key == "project_slug":
        problem = service_name_problem(value)
        if problem:
            raise InvalidInput(f"bad project_slug: {problem}")
    return value


def check_project_name(name: str) -> str:
    """``name`` if the folder and service name derived from it is one Serverless accepts, else InvalidInput
    quoting the name as typed (and what it became, when that differs)."""
    slug = slug_for(name)
    problem = service_name_problem(slug)
    if problem:
        typed = "" if slug == name else f" {name!r} (the service name would be {slug!r})"
        raise InvalidInput(f"bad project name{typed}: {problem}")
    return name


def complete(language: Language, given: Mapping[str, str]) -> dict[str, str]:
    """Every variable of ``language``: the ``given`` ones checked, the others at their defaults, with
    ``project_slug`` derived from ``project_name`` unless given."""
    answers = {key: check_answer(language, key, value) for key, value in given.items()}
    values: dict[str, str] = {}
    for key in language.variables:
        if key in answers:
            values[key] = answers[key]
        elif key == "project_slug":
            values[key] = slug_for(check_project_name(values["project_name"]))
        else:
            default = language.defaults[key]
            values[key] = str(default[0] if isinstance(default, list) else default)
    return values


def _jinja_escape(char: str) -> str:
    if _JINJA_PLAIN.fullmatch(char):
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def for_cookiecutter(language: Language, values: Mapping[str, str]) -> dict[str, str]:
    """``values`` as cookiecutter's extra context: each a Jinja string constant that renders to exactly the value
    (Jinja reads a string constant's escapes as Python does), except a choice, which cookiecutter must find among
    the template's choices as it is (and which check_answer took from that fixed list)."""
    context = {}
    for key, value in values.items():
        if isinstance(language.defaults.get(key), list):
            context[key] = value
        else:
            context[key] = "{{ '" + "".join(_jinja_escape(char) for char in value) + "' }}"
    return context
