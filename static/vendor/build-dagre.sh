#!/usr/bin/env bash
# Rebuild static/vendor/dagre/dagre.min.js: the graph layout of the workflow editor's canvas.
#
# @dagrejs/dagre publishes a ready IIFE (dist/dagre.min.js, setting window.dagre) with
# @dagrejs/graphlib bundled in; we copy it as published, minus its source-map comment, and keep
# both packages' licences next to it. Node is needed only to run this script; the output is
# committed, so `make run` needs no Node.
set -euo pipefail

DAGRE_VERSION=3.1.3
GRAPHLIB_VERSION=4.0.6  # the exact version dagre 3.1.3 depends on, bundled into its dist file

here="$(cd "$(dirname "$0")" && pwd)"
dest="$here/dagre"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

unpack() {  # unpack <package> <version> <dir>: npm pack into $work/<dir>, print the tarball's sha256
    (cd "$work" && npm pack --silent "$1@$2" >/dev/null)
    local tarball
    tarball="$(ls "$work"/*.tgz)"
    mkdir -p "$work/$3"
    tar -xzf "$tarball" -C "$work/$3"
    local spdx
    spdx="$(node -p "require('$work/$3/package/package.json').license")"
    [ "$spdx" = MIT ] || { echo "$1: unexpected licence $spdx" >&2; exit 1; }
    sha256sum "$tarball" | cut -d' ' -f1
    rm "$tarball"
}

dagre_sha="$(unpack @dagrejs/dagre "$DAGRE_VERSION" dagre)"
graphlib_sha="$(unpack @dagrejs/graphlib "$GRAPHLIB_VERSION" graphlib)"
bundled="$(node -p "require('$work/dagre/package/package.json').dependencies['@dagrejs/graphlib']")"
[ "$bundled" = "$GRAPHLIB_VERSION" ] || { echo "dagre $DAGRE_VERSION bundles graphlib $bundled" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest"
grep -v '^//# sourceMappingURL=' "$work/dagre/package/dist/dagre.min.js" >"$dest/dagre.min.js"
{
    echo "==== @dagrejs/dagre $DAGRE_VERSION ===="
    cat "$work/dagre/package/LICENSE"
    echo
    echo "==== @dagrejs/graphlib $GRAPHLIB_VERSION (bundled into dagre.min.js) ===="
    cat "$work/graphlib/package/LICENSE"
} >"$dest/LICENSE"

# One line per package in static/vendor/VERSIONS, replacing this script's earlier lines.
versions="$here/VERSIONS"
touch "$versions"
grep -v '^@dagrejs/' "$versions" >"$work/VERSIONS" || true
{
    cat "$work/VERSIONS"
    echo "@dagrejs/dagre $DAGRE_VERSION $dagre_sha"
    echo "@dagrejs/graphlib $GRAPHLIB_VERSION $graphlib_sha (bundled in dagre/dagre.min.js)"
} >"$versions"
grep '^@dagrejs/' "$versions"
