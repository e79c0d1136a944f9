#!/bin/bash
# Build the PHP CLI that runtime/bootstrap runs (#!/opt/bin/php) for Lambda's provided.al2023 runtime.
#
# Usage:   runtime/build-php.sh [x86_64|arm64]        (default x86_64; use your function's architecture)
# Needs:   Docker. For the other architecture than your machine's, Docker must be able to run it (QEMU/binfmt, as
#          Docker Desktop does out of the box, or `docker run --privileged --rm tonistiigi/binfmt --install all`).
# Writes:  runtime/bin/php   the PHP binary; the layer's runtime/ folder becomes /opt, so this is /opt/bin/php
#          runtime/lib/*.so  the shared libraries php needs beyond glibc (libcurl and its dependencies):
#                            provided.al2023 is a minimal image, and Lambda puts /opt/lib on LD_LIBRARY_PATH
# Options (environment):
#   PHP_VERSION   PHP release to build (default below); PHP_SHA256 its tarball's sha256 from php.net (checked if set)
#   BUILD_IMAGE   the Amazon Linux 2023 image to build in (default public.ecr.aws/amazonlinux/amazonlinux:2023)
#
# The build runs inside Amazon Linux 2023, the same OS as provided.al2023, so the binary and the copied libraries
# match what Lambda runs. PHP is configured with --disable-all plus the CLI and what the bootstrap needs: the curl
# extension, and pcntl and posix (worker processes under Managed Instances, SIGTERM); PHP's core (json, pcre,
# reflection, spl, date, hash, random) is always built in. Add ./configure flags with PHP_CONFIGURE_FLAGS, e.g.
# PHP_CONFIGURE_FLAGS="--enable-mbstring --with-openssl".
set -euo pipefail

arch=${1:-x86_64}
case $arch in
    x86_64) platform=linux/amd64 ;;
    arm64) platform=linux/arm64 ;;
    *)
        echo "usage: $0 [x86_64|arm64]" >&2
        exit 2
        ;;
esac
php_version=${PHP_VERSION:-8.3.14}
image=${BUILD_IMAGE:-public.ecr.aws/amazonlinux/amazonlinux:2023}
layer=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if ! command -v docker >/dev/null 2>&1; then
    echo "build-php.sh needs Docker (https://docs.docker.com/get-docker/)" >&2
    exit 1
fi

mkdir -p "$layer/bin" "$layer/lib"
echo "building PHP $php_version for $arch ($platform) in $image into $layer/bin" >&2

# The build script is fed on stdin from a quoted here-document, so nothing in it is expanded by this shell; the
# values it needs come in as environment variables.
docker run --rm -i --platform "$platform" \
    -e PHP_VERSION="$php_version" \
    -e PHP_SHA256="${PHP_SHA256:-}" \
    -e PHP_CONFIGURE_FLAGS="${PHP_CONFIGURE_FLAGS:-}" \
    -e OWNER="$(id -u):$(id -g)" \
    -v "$layer:/layer" \
    "$image" /bin/bash -s <<'BUILD'
set -euo pipefail
# --allowerasing: libcurl-devel needs the full libcurl in place of the image's libcurl-minimal.
dnf install -y --allowerasing gcc make tar xz findutils gzip pkgconf-pkg-config libcurl-devel >/dev/null
cd /tmp
curl -fsSL -o php.tar.xz "https://www.php.net/distributions/php-${PHP_VERSION}.tar.xz"
if [ -n "$PHP_SHA256" ]; then
    echo "$PHP_SHA256  php.tar.xz" | sha256sum -c -
fi
tar -xJf php.tar.xz
cd "php-${PHP_VERSION}"
# shellcheck disable=SC2086  # PHP_CONFIGURE_FLAGS is a list of flags
./configure --prefix=/opt --disable-all --enable-cli --disable-cgi --disable-phpdbg --without-pear \
    --with-curl --enable-pcntl --enable-posix $PHP_CONFIGURE_FLAGS >/dev/null
make -j"$(nproc)" >/dev/null
install -m 0755 sapi/cli/php /layer/bin/php
strip /layer/bin/php
# Everything php links against except glibc itself goes into the layer's lib/.
ldd /layer/bin/php | awk '$2 == "=>" && $3 ~ /^\// {print $3}' \
    | grep -vE '/(libc|libm|libdl|libpthread|librt|libresolv|ld-linux[^/]*)\.so' \
    | xargs -r -I{} cp -L {} /layer/lib/
chown -R "$OWNER" /layer/bin /layer/lib
/layer/bin/php -v
for extension in curl pcntl posix; do
    /layer/bin/php -m | grep -qx "$extension"
done
BUILD

echo "done: $layer/bin/php (+ $(find "$layer/lib" -name '*.so*' | wc -l) libraries in $layer/lib)" >&2
