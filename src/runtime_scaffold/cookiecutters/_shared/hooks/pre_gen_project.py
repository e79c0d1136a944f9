"""Refuse a project name that the Serverless Framework would reject as a service name.

Runs under the stock `cookiecutter` command too, so it must not need runtime-scaffold installed; `scaffold new`
checks the same rule (runtime_scaffold.naming) before it renders, with a friendlier message.
"""

import re
import sys

SLUG = "{{ cookiecutter.project_slug }}"

if not re.fullmatch(r"[a-zA-Z][0-9a-zA-Z-]+", SLUG) or len(SLUG) > 40:
    sys.stderr.write(
        f"error: {SLUG!r} is not a valid Serverless service name: start with a letter, then letters, digits "
        "and hyphens, 2 to 40 characters\n"
    )
    sys.exit(1)
