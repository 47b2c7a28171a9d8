#!/usr/bin/env bash
# Runs Vigil at http://127.0.0.1:3000 on embedded SQLite (./data/vigil.db).
# On first start it loads 90 days of demo data and creates an admin account (password printed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
cargo leptos build --release
export VIGIL_SITE_ROOT="${VIGIL_SITE_ROOT:-target/site}"
# The demo data set is in China Standard Time, as the product team reads it.
export VIGIL_REPORTING_TZ="${VIGIL_REPORTING_TZ:-Asia/Shanghai}"
# 90 days of demo events on first start (skipped once there are events).
target/release/vigil demo
exec target/release/vigil serve "$@"
