#!/usr/bin/env bash
# Starts the built release binary on a fresh SQLite data dir and a free port, creates the
# e2e accounts with `vigil user add`, runs the Playwright suite, stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/vigil
[[ -x $bin ]] || { echo "build first: cargo leptos build --release"; exit 1; }
data=$(mktemp -d /tmp/vigil-e2e.XXXXXX)
port=${VIGIL_E2E_PORT:-3917}
# Raw events are kept 60 days: kpi-alerts.spec sends a subscription from 40 days ago.
export VIGIL_DATA_DIR="$data" VIGIL_ADDR="127.0.0.1:$port" VIGIL_SITE_ROOT=target/site VIGIL_LOG=warn \
  VIGIL_RAW_RETENTION_DAYS=60
$bin user add --email e2e-admin@example.com --name "Ada Admin" --role admin --password e2e-admin-password >/dev/null
$bin user add --email e2e-viewer@example.com --name "Pat Viewer" --role viewer --password e2e-viewer-password >/dev/null
$bin user add --email e2e-editor@example.com --name "Ed Editor" --role editor --password e2e-editor-password >/dev/null
$bin serve >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$data/server.log"; exit 1; }
cd end2end
VIGIL_E2E_URL="http://127.0.0.1:$port" npx playwright test "$@"
if [[ "${VIGIL_SCREENSHOTS:-0}" == 1 ]]; then
  node screenshots.mjs "http://127.0.0.1:$port"
fi
