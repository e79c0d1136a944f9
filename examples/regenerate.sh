#!/bin/bash
# Rewrites examples/<language>/ with `scaffold new --lang <language> --no-input` (default answers).
# tests/test_examples.py fails when a committed example differs from what the templates now produce.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
for template in "$here"/../cookiecutters/[!_]*/cookiecutter.json; do
  language=$(basename "$(dirname "$template")")
  scaffold new --lang "$language" --no-input --output-dir "$staging/$language" >/dev/null
  rm -rf "${here:?}/$language"
  mv "$staging/$language/hello-$language" "$here/$language"
done
