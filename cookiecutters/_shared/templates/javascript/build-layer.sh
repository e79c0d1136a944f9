{%- set c = cookiecutter -%}
#!/bin/sh
# Put this layer's interpreter (name, version and npm packages just below) into bin/, which Lambda sees as
# /opt/bin/ and runtime/bootstrap starts from. The binary is the project's official Linux (glibc) build, as
# published on the npm registry: `npm pack` fetches the package for the architecture, and its SHA-512 must equal
# the registry's integrity field (`npm view PACKAGE@VERSION dist.integrity`) before anything is installed.
#
# Usage:   runtime/build-layer.sh [x86_64|arm64]    (default: provider.architecture in ../serverless.yml)
# Needs:   npm (with the node it runs on), tar and a POSIX shell. No Docker: nothing is compiled.
# Writes:  bin/$name, mode 0755, in one rename: a failed download or checksum leaves the layer as it was.
# Options (environment): NPM_CONFIG_REGISTRY and the rest of npm's settings apply as for any npm command.
set -eu

name={{ c._interpreter | sh_str }}
title={{ c._interpreter_name | sh_str }}
version={{ c._interpreter_version | sh_str }}
package_x86_64={{ c._npm_package_x86_64 | sh_str }}
package_arm64={{ c._npm_package_arm64 | sh_str }}
binary={{ c._npm_binary | sh_str }}  # the interpreter's path inside the package

layer=$(cd "$(dirname "$0")" && pwd)
say() { printf 'build-layer.sh: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

arch=${1:-}
if [ -z "$arch" ] && [ -f "$layer/../serverless.yml" ]; then
    arch=$(sed -n 's/^[[:space:]]*architecture:[[:space:]]*\([A-Za-z0-9_]*\).*/\1/p' "$layer/../serverless.yml" | head -n 1)
fi
case ${arch:-x86_64} in
    x86_64) package=$package_x86_64 ;;
    arm64) package=$package_arm64 ;;
    *) fail "unknown architecture '$arch': use x86_64 or arm64 (usage: $0 [x86_64|arm64])" ;;
esac
arch=${arch:-x86_64}

command -v npm >/dev/null 2>&1 || fail "needs npm (it comes with Node.js: https://nodejs.org or your package manager)"
command -v tar >/dev/null 2>&1 || fail "needs tar"

work=$(mktemp -d "${TMPDIR:-/tmp}/build-layer.XXXXXX")
partial="$layer/bin/.$name.partial"
trap 'rm -rf "$work" "$partial"' EXIT
trap 'exit 130' INT TERM

say "asking the npm registry for $package@$version ($arch)"
expected=$(npm view "$package@$version" dist.integrity) || fail "npm view $package@$version failed (see above)"
case $expected in
    sha512-*) ;;
    *) fail "the registry gives no SHA-512 for $package@$version (dist.integrity: '$expected')" ;;
esac

say "downloading $package@$version"
tarball=$(cd "$work" && npm pack "$package@$version" --silent) || fail "npm pack $package@$version failed (see above)"
# node runs npm itself, so it is here too; it computes the digest in the registry's own notation.
actual=$(node -e '
    const data = require("fs").readFileSync(process.argv[1]);
    process.stdout.write("sha512-" + require("crypto").createHash("sha512").update(data).digest("base64"));
' "$work/$tarball")
[ "$actual" = "$expected" ] || fail "checksum mismatch for $tarball: the registry says $expected, the download is $actual"
say "checksum matches the registry: $expected"

tar -xzf "$work/$tarball" -C "$work" "package/$binary" || fail "$tarball holds no $binary"
mkdir -p "$layer/bin"
cp "$work/package/$binary" "$partial"
chmod 0755 "$partial"
mv -f "$partial" "$layer/bin/$name"
size=$(du -k "$layer/bin/$name" | cut -f1)
say "done: $layer/bin/$name ($title $version for $arch, $((size / 1024)) MB)"
