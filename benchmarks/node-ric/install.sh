#!/bin/sh
# Install aws-lambda-ric 4 into benchmarks/node-ric for benchmarks/bootstraps.py. Its native addon is built with
# the pinned Node 26 of tests/support/runtimes (npm ci --prefix tests/support/runtimes first) and that package's
# own headers, so nothing is downloaded from outside the npm registry.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
node_package="$here/../../tests/support/runtimes/node_modules/node-linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')"
[ -x "$node_package/bin/node" ] || { echo "install.sh: run npm ci --prefix tests/support/runtimes first" >&2; exit 1; }
PATH="$node_package/bin:$PATH" npm_config_nodedir="$node_package" npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
