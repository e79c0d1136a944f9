"""Is this event JSON? Checked as Lambda checks it: any depth of nesting, numbers of any length, UTF-8 only.

Python's own parser would impose its limits as if they were Lambda's (about 1,000 levels of nesting, 4,300
digits in an integer) and build every object of the event just to throw them away. yyjson (C) parses without
recursion into its own C structure, numbers kept as raw text, so nothing is converted and no Python object is
built: a 1 MB event is checked several times faster than ``json.loads`` reads it
(``python benchmarks/json_validation.py``). The one place yyjson is stricter than JSON's grammar is an escaped
lone surrogate (``"\\ud800"``), which is valid JSON text; a document yyjson refuses is therefore looked at again
by Python's parser, on that rare path only, before it is called invalid.
"""

from __future__ import annotations

import json

import yyjson

_FLAGS = yyjson.ReaderFlags.NUMBERS_AS_RAW


def _constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def json_error(payload: bytes) -> str | None:
    """None when ``payload`` is one JSON text in UTF-8; otherwise what is wrong with it, in a few words."""
    try:
        yyjson.Document(payload, flags=_FLAGS)
        return None
    except ValueError as error:
        refusal = str(error)
    try:
        json.loads(payload.decode("utf-8"), parse_constant=_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return refusal
    return None
