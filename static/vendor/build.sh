#!/usr/bin/env bash
# Rebuild the vendored front-end libraries from the npm registry.
#
# Node is needed only to run this script; the outputs are committed, so `make run` needs no Node.
# Versions are pinned here and recorded in static/vendor/VERSIONS next to each library's licence.
set -euo pipefail

HTMX_VERSION=2.0.11
ALPINE_VERSION=3.17.5

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

declare -A LICENCE_HOLDER=([alpinejs]="2019-2021 Caleb Porzio and contributors")

mit_licence() {
    cat <<MIT
MIT License

Copyright (c) $1

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
MIT
}

fetch() {  # fetch <package> <version> <dest dir> <file in package>...
    local package=$1 version=$2 dest=$3
    shift 3
    (cd "$work" && npm pack --silent "$package@$version" >/dev/null)
    local tarball
    tarball="$(ls "$work"/*.tgz)"
    mkdir -p "$work/x"
    tar -xzf "$tarball" -C "$work/x"
    rm -rf "${here:?}/$dest"
    mkdir -p "$here/$dest"
    for file in "$@"; do
        cp "$work/x/package/$file" "$here/$dest/"
    done
    if compgen -G "$work/x/package/LICEN[CS]E*" >/dev/null; then
        cp "$work/x/package/"LICEN[CS]E* "$here/$dest/LICENSE"
    else
        # alpinejs publishes no licence file; its package.json says MIT and the repository's
        # LICENSE.md names the holder below.
        local spdx
        spdx="$(node -p "require('$work/x/package/package.json').license")"
        [ "$spdx" = MIT ] || { echo "$package: unexpected licence $spdx" >&2; exit 1; }
        mit_licence "${LICENCE_HOLDER[$package]}" >"$here/$dest/LICENSE"
    fi
    echo "$package $version $(sha256sum "$tarball" | cut -d' ' -f1)" >>"$work/VERSIONS"
    rm -rf "$work/x" "$tarball"
}

fetch htmx.org "$HTMX_VERSION" htmx dist/htmx.min.js
fetch alpinejs "$ALPINE_VERSION" alpinejs dist/cdn.min.js

{
    echo "# Vendored by static/vendor/build.sh from the npm registry: package, version, sha256 of the tarball."
    cat "$work/VERSIONS"
} >"$here/VERSIONS"
cat "$here/VERSIONS"
"$here/build-codemirror.sh"
"$here/build-dagre.sh"
"$here/build-xyflow.sh"
