#!/usr/bin/env bash
# Runs a benchmark and prints its figures and ratios (see docs/performance.md).
#   scripts/bench.sh ingest [--events 200000]
#   scripts/bench.sh kpi [--users 1000000] [--runs 30] [--dir PATH] [--keep]
#   scripts/bench.sh rules [--rules 10000] [--cycles 5]
# The KPI benchmark needs python3 with duckdb (installed here from PyPI when missing) and
# ~6 GiB of free disk at the default size (SQLite file, CSV and Parquet export).
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-ingest}"
shift || true
if [[ "$what" == kpi ]] && ! python3 -c 'import duckdb' 2>/dev/null; then
  echo "bench: installing duckdb from PyPI"
  python3 -m pip install --quiet duckdb
fi
cargo build --release -p vigil-bench
exec target/release/vigil-bench "$what" "$@"
