#!/usr/bin/env bash
# Install the pinned Claude Code CLI for tests/test_claude_code_cli.py (idempotent).
#
#   tests/claude_code/install.sh [DIR]
#
# DIR defaults to $SWITCHBOARD_CLAUDE_CODE_DIR, else /tmp/switchboard-claude-code.
# The last line printed on stdout is the path of the `claude` executable.
# 2.1.197 is the newest release whose package.json accepts Node 18/20
# (`engines: node >=18`); 2.1.198 and later want Node >= 22. The package is a
# thin wrapper whose postinstall copies a native binary from the matching
# @anthropic-ai/claude-code-<platform> optional dependency over bin/claude.exe.
set -euo pipefail

VERSION="2.1.197"
PACKAGE="@anthropic-ai/claude-code"
DIR="${1:-${SWITCHBOARD_CLAUDE_CODE_DIR:-/tmp/switchboard-claude-code}}"
BIN="$DIR/node_modules/.bin/claude"

installed() { "$BIN" --version 2>/dev/null | grep -q "^$VERSION "; }

if installed; then
    echo "$BIN"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "install.sh: npm not found; install Node.js (>= 18) and npm" >&2
    exit 1
fi
mkdir -p "$DIR"
echo "install.sh: installing $PACKAGE@$VERSION into $DIR" >&2
npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error \
    --include=optional "$PACKAGE@$VERSION" >&2
if ! installed; then
    # npm configured with ignore-scripts skips the postinstall that puts the
    # native binary in place; run it by hand.
    (cd "$DIR/node_modules/$PACKAGE" && node install.cjs) >&2
fi
if ! installed; then
    echo "install.sh: $BIN does not report version $VERSION after installing" >&2
    "$BIN" --version >&2 || true
    exit 1
fi
echo "$BIN"
