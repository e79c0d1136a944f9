"""Jinja filters that write a value into a generated file as a literal of that file's language.

Every template of runtime-scaffold loads this module through `"_extensions"` in its cookiecutter.json (each language
folder links to this file, and cookiecutter puts the template folder on `sys.path` while it renders), so the
stock `cookiecutter` command gets the same filters. It needs nothing but the standard library and Jinja.

Each filter's output, read back by that language's own parser, is exactly the value: no character of the value can
end the literal, start a new key or line, or be expanded. A value that a language cannot hold at all (a NUL byte
in a shell word) raises ValueError instead of being written differently.

    {{ c.description | yaml_str }}       a YAML scalar (plain or single-quoted where that reads back the same)
    {{ c.timeout | yaml_int }}           a YAML integer, from a string of ASCII digits only
    {{ c.description | yaml_comment }}   text for the rest of a YAML `#` comment line: one line, always
    {{ c.description | json_str }}       a JSON string
    {{ c.description | php_str }}        a PHP single-quoted string
    {{ c.description | sh_str }}         one word for bash/sh, single-quoted where needed
    {{ c.project_slug | py_str }}        a Python string literal (the hooks)
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

# Plain YAML scalars we write unquoted: a letter first (so never a number, date, `.inf`, `~`, or an indicator such
# as `-`, `?`, `*`, `&`, `!`, `|`, `>`, `%`, `@`), then characters that cannot start a comment, a mapping value, a
# flow collection or an alias; and none of the words YAML 1.1 or 1.2 reads as a boolean or null.
_PLAIN_YAML = re.compile(r"[A-Za-z][A-Za-z0-9._/-]*")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_YAML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Characters that a YAML reader (1.1 or 1.2) takes as they are inside a double-quoted scalar: YAML's printable set
# without the line breaks of YAML 1.1 (NEL, LS, PS), which a reader folds, and without the byte-order mark.
_YAML_RAW = re.compile("[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_DIGITS = re.compile(r"[0-9]+")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _yaml_char(char: str) -> str:
    if char in _YAML_ESCAPES:
        return _YAML_ESCAPES[char]
    if _YAML_RAW.fullmatch(char):
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _yaml_quoted(text: str) -> str:
    return '"' + "".join(_yaml_char(char) for char in text) + '"'


def yaml_str(value: Any) -> str:
    """A YAML scalar that every YAML reader parses back as exactly this string: plain when that is safe,
    single-quoted (nothing escaped but `'`) when the value is one line of printable text, else double-quoted."""
    text = _text(value)
    if _PLAIN_YAML.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    if all(_YAML_RAW.fullmatch(char) for char in text):
        return "'" + text.replace("'", "''") + "'"
    return _yaml_quoted(text)


def yaml_int(value: Any) -> str:
    """A YAML integer from a string of ASCII digits, written in decimal without leading zeros (YAML 1.1 reads
    `010` as octal, YAML 1.2 as ten)."""
    text = _text(value)
    if not _DIGITS.fullmatch(text):
        raise ValueError(f"{text!r} is not a whole number")
    return str(int(text))


def yaml_comment(value: Any) -> str:
    """The value on the rest of a `#` comment line: as it is when it is one line of printable text, else in its
    double-quoted YAML spelling, so a line break or control character in it shows but cannot end the comment."""
    text = _text(value)
    if all(_YAML_RAW.fullmatch(char) for char in text):
        return text
    return _yaml_quoted(text)


def json_str(value: Any) -> str:
    """A JSON string; LS and PS are escaped too, so the literal is also valid JavaScript."""
    encoded = json.dumps(_text(value), ensure_ascii=False)
    return re.sub("[\u2028\u2029\ud800-\udfff]", lambda match: f"\\u{ord(match.group()):04x}", encoded)


def php_str(value: Any) -> str:
    """A PHP single-quoted string: PHP expands nothing in one (no `$`, no `{`), and only `\\` and `'` are escaped."""
    return "'" + _text(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def sh_str(value: Any) -> str:
    """One shell word that bash and POSIX sh read as exactly this string, with nothing expanded."""
    text = _text(value)
    if "\0" in text:
        raise ValueError("a shell word cannot hold a NUL byte")
    return shlex.quote(text)


def py_str(value: Any) -> str:
    """A Python string literal."""
    return repr(_text(value))


FILTERS = {
    "yaml_str": yaml_str,
    "yaml_int": yaml_int,
    "yaml_comment": yaml_comment,
    "json_str": json_str,
    "php_str": php_str,
    "sh_str": sh_str,
    "py_str": py_str,
}


class Escapes(Extension):
    """Registers the filters above (`"_extensions": ["scaffold_escapes.Escapes"]` in cookiecutter.json)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.update(FILTERS)
