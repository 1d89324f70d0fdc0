#!/usr/bin/env bash
# Rebuild static/vendor/xyflow/: the workflow canvas island. Our own source
# (static/workflows/flow/src/*.jsx) is bundled by esbuild with @xyflow/react 12, React and
# React DOM from the npm registry into one IIFE that sets window.SynchroniseFlow
# (flow.min.js), next to xyflow's stylesheet (xyflow.css) and every bundled package's licence.
#
# Node is needed only to run this script; the output is committed, so `make run` needs no Node.
# Run it again after changing the island's source.
set -euo pipefail

XYFLOW_VERSION=12.12.1
REACT_VERSION=19.2.9
ESBUILD_VERSION=0.28.2

here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../workflows/flow/src" && pwd)"
dest="$here/xyflow"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat >"$work/package.json" <<JSON
{
  "private": true,
  "dependencies": {
    "@xyflow/react": "$XYFLOW_VERSION",
    "react": "$REACT_VERSION",
    "react-dom": "$REACT_VERSION",
    "esbuild": "$ESBUILD_VERSION"
  }
}
JSON

(cd "$work" && npm install --silent --no-audit --no-fund >/dev/null)
cp -r "$src" "$work/src"
(cd "$work" && npx --no-install esbuild src/index.jsx --bundle --minify --format=iife --legal-comments=none \
    --jsx=automatic --define:process.env.NODE_ENV='"production"' --target=es2020 --outfile=flow.min.js)

rm -rf "$dest"
mkdir -p "$dest"
cp "$work/flow.min.js" "$dest/flow.min.js"
cp "$work/node_modules/@xyflow/react/dist/style.css" "$dest/xyflow.css"
# The bundled packages are MIT (xyflow, React, zustand…), ISC or BSD-3-Clause (d3); keep each
# licence text with its name and version.
{
    echo "# Bundled into flow.min.js by static/vendor/build-xyflow.sh (source: static/workflows/flow/src): package version licence."
    (cd "$work" && node -e '
        const lock = require("./package-lock.json").packages;
        for (const [path, info] of Object.entries(lock)) {
            if (!path || path.includes("esbuild")) continue;
            console.log(`${path.replace(/^.*node_modules\//, "")} ${info.version} ${info.license || "?"}`);
        }')
    echo "# built with esbuild $ESBUILD_VERSION"
} >"$dest/VERSIONS"
if grep -v '^#' "$dest/VERSIONS" | grep -Ev ' (MIT|ISC|BSD-3-Clause)$' >&2; then
    echo "a bundled package has another licence than MIT, ISC or BSD-3-Clause: check it before vendoring" >&2
    exit 1
fi
: >"$dest/LICENSE"
for package in $(cd "$work/node_modules" && ls -d @*/* [!@.]* | grep -v esbuild); do
    for licence in "$work/node_modules/$package"/LICEN[CS]E*; do
        [ -f "$licence" ] || continue
        { echo "==== $package ===="; cat "$licence"; echo; } >>"$dest/LICENSE"
    done
done

# One line in static/vendor/VERSIONS, replacing this script's earlier one.
versions="$here/VERSIONS"
touch "$versions"
grep -v '^@xyflow/react ' "$versions" >"$work/VERSIONS" || true
{
    cat "$work/VERSIONS"
    echo "@xyflow/react $XYFLOW_VERSION with react and react-dom $REACT_VERSION (bundled by esbuild into xyflow/flow.min.js; all packages in xyflow/VERSIONS)"
} >"$versions"
cat "$dest/VERSIONS"
