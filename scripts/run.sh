#!/usr/bin/env bash
# Runs Vigil at http://127.0.0.1:3000 on embedded SQLite (./data/vigil.db).
# On first start it loads 90 days of demo data and creates an admin account (password printed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Build unless the binary and the bundle are newer than every file they are built from
# (cargo-leptos regenerates the bundle on every call, ~3 min on 2 cores, even when nothing
# changed). Tests and benchmarks are not built into them, so they do not count.
built=(target/release/vigil target/site/pkg/vigil.wasm target/site/pkg/vigil.js target/site/pkg/vigil.css)
up_to_date=1
for f in "${built[@]}"; do
  if [[ ! -e $f ]] || [[ -n $(find Cargo.toml Cargo.lock app domain services store server frontend \
      migrations style public \( -path '*/tests' -o -path '*/benches' \) -prune \
      -o -type f -newer "$f" -print -quit 2>/dev/null) ]]; then
    up_to_date=0
  fi
done
if [[ $up_to_date == 1 ]]; then
  echo "==> the release build is up to date (target/release/vigil, target/site)" >&2
else
  cargo leptos build --release
fi
export VIGIL_SITE_ROOT="${VIGIL_SITE_ROOT:-target/site}"
# The demo data set is in China Standard Time, as the product team reads it.
export VIGIL_REPORTING_TZ="${VIGIL_REPORTING_TZ:-Asia/Shanghai}"
# 90 days of demo events on first start (skipped once there are events).
target/release/vigil demo
exec target/release/vigil serve "$@"
