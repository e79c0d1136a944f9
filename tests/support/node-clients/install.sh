#!/bin/sh
# Install tests/support/node-clients: aws-lambda-ric 4 (its native addon compiled with the pinned Node of
# tests/support/runtimes, against that package's own headers, so nothing is downloaded from outside the npm
# registry) and @aws-sdk/client-lambda. Run `npm ci --prefix tests/support/runtimes` first.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
node_package="$here/../runtimes/node_modules/node-linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')"
[ -x "$node_package/bin/node" ] || { echo "install.sh: run npm ci --prefix tests/support/runtimes first" >&2; exit 1; }
if [ -f "$here/package-lock.json" ]; then verb=ci; else verb=install; fi
PATH="$node_package/bin:$PATH" npm_config_nodedir="$node_package" npm "$verb" --prefix "$here" --no-audit --no-fund \
  --loglevel=error
