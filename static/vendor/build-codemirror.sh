#!/usr/bin/env bash
# Rebuild static/vendor/codemirror/codemirror.min.js: CodeMirror 6 with Python and JSON modes and the
# lint gutter, bundled by esbuild from the npm registry into one IIFE that sets window.SynchroniseCodeMirror.
#
# Node is needed only to run this script; the output is committed, so `make run` needs no Node.
set -euo pipefail

CODEMIRROR_VERSION=6.0.2
LANG_PYTHON_VERSION=6.2.1
LANG_JSON_VERSION=6.0.2
LINT_VERSION=6.9.8
ESBUILD_VERSION=0.28.2

here="$(cd "$(dirname "$0")" && pwd)"
dest="$here/codemirror"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat >"$work/package.json" <<JSON
{
  "private": true,
  "dependencies": {
    "codemirror": "$CODEMIRROR_VERSION",
    "@codemirror/lang-python": "$LANG_PYTHON_VERSION",
    "@codemirror/lang-json": "$LANG_JSON_VERSION",
    "@codemirror/lint": "$LINT_VERSION",
    "esbuild": "$ESBUILD_VERSION"
  }
}
JSON

cat >"$work/entry.js" <<'JS'
import { basicSetup, EditorView } from "codemirror";
import { EditorState, Compartment } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { json } from "@codemirror/lang-json";
import { lintGutter, setDiagnostics } from "@codemirror/lint";

window.SynchroniseCodeMirror = {
  basicSetup, EditorView, EditorState, Compartment, keymap, indentWithTab, python, json, lintGutter, setDiagnostics,
};
JS

(cd "$work" && npm install --silent --no-audit --no-fund >/dev/null)
(cd "$work" && npx --no-install esbuild entry.js --bundle --minify --format=iife --legal-comments=none \
    --outfile=codemirror.min.js)

mkdir -p "$dest"
cp "$work/codemirror.min.js" "$dest/codemirror.min.js"
# Every bundled package is MIT; keep each licence text with its name and version.
{
    echo "# Bundled into codemirror.min.js by static/vendor/build-codemirror.sh: package version licence."
    (cd "$work" && node -e '
        const lock = require("./package-lock.json").packages;
        for (const [path, info] of Object.entries(lock)) {
            if (!path || path.includes("esbuild")) continue;
            console.log(`${path.replace(/^.*node_modules\//, "")} ${info.version} ${info.license || "?"}`);
        }')
    echo "# built with esbuild $ESBUILD_VERSION"
} >"$dest/VERSIONS"
: >"$dest/LICENSE"
for licence in "$work"/node_modules/{codemirror,@codemirror/*,@lezer/*,@marijn/*,crelt,style-mod,w3c-keyname}/LICENSE*; do
    [ -f "$licence" ] || continue
    package="${licence#"$work/node_modules/"}"
    { echo "==== ${package%/*} ===="; cat "$licence"; echo; } >>"$dest/LICENSE"
done
cat "$dest/VERSIONS"
