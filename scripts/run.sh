#!/usr/bin/env bash
# Runs Vigil at http://127.0.0.1:3000 on embedded SQLite (./data/vigil.db).
# On first start an admin account is created and its password printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
cargo leptos build --release
export VIGIL_SITE_ROOT="${VIGIL_SITE_ROOT:-target/site}"
exec target/release/vigil serve "$@"
