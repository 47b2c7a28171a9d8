#!/usr/bin/env bash
# Integration with a real Prometheus and Alertmanager (Debian's packages), against the
# release binary:
#   1. Prometheus scrapes Vigil's /metrics;
#   2. a PromQL rule imported into Vigil (`vigil rules import`, Prometheus rule-file YAML)
#      is evaluated by Vigil's engine against that Prometheus and fires;
#   3. a Prometheus alerting rule fires, Alertmanager posts it to Vigil's receiver
#      (POST /api/v1/integrations/alertmanager with an ingest key) and Vigil lists it;
#   4. that alert goes through Vigil's routing tree: the P2 route's escalation policy pages
#      the on-call of a schedule on a local chat receiver, the on-call acknowledges it in
#      the console and opens an incident from it (scripts/it/am_loop.py);
#   5. the Technical page's API traffic panel reads Vigil's own request rate, error rate
#      and latency per route back from Prometheus (metric names set with VIGIL_TRAFFIC_*).
# Checked through GET /api/v1/alerts with a read key and the console's server functions.
# Installs the packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
if ! command -v prometheus >/dev/null || ! command -v prometheus-alertmanager >/dev/null; then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  say "apt-get install prometheus prometheus-alertmanager"
  $sudo apt-get install -y --no-install-recommends prometheus prometheus-alertmanager >/dev/null 2>&1 || {
    $sudo apt-get update >/dev/null
    $sudo apt-get install -y --no-install-recommends prometheus prometheus-alertmanager >/dev/null
  }
fi
bin=target/release/vigil
[[ -x $bin ]] || { echo "build first: cargo leptos build --release"; exit 1; }
data=$(mktemp -d /tmp/vigil-prom-it.XXXXXX)
vport=${VIGIL_IT_PORT:-3961}; pport=$((vport + 1)); aport=$((vport + 2)); cport=$((vport + 3))
export VIGIL_DATA_DIR="$data/vigil" VIGIL_ADDR="127.0.0.1:$vport" VIGIL_SITE_ROOT=target/site \
  VIGIL_LOG=warn VIGIL_ENGINE_TICK_SECS=1 VIGIL_PROMETHEUS_URL="http://127.0.0.1:$pport" \
  VIGIL_TRAFFIC_REQUESTS_METRIC=vigil_http_requests_total \
  VIGIL_TRAFFIC_DURATION_METRIC=vigil_http_request_duration_seconds VIGIL_TRAFFIC_SERVICE_LABEL=route
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

$bin user add --email it-admin@example.com --name "IT Admin" --role admin --password it-admin-password >/dev/null
$bin user add --email it-editor@example.com --name "IT Editor" --role editor --password it-editor-password >/dev/null
$bin user add --email it-oncall@example.com --name "IT On-call" --role responder --password it-oncall-password >/dev/null
ingest_key=$($bin apikey add --name alertmanager --scope ingest)
read_key=$($bin apikey add --name prometheus-it --scope read)
cat >"$data/vigil-rules.yaml" <<YAML
groups:
  - name: vigil-it
    interval: 10s
    rules:
      - alert: VigilScrapedByPrometheus
        expr: up{job="vigil"} == 1
        labels: {severity: P3, team: ops}
        annotations: {summary: "Prometheus scrapes Vigil ({{ \$labels.instance }})"}
YAML
$bin rules import "$data/vigil-rules.yaml"
$bin serve >"$data/vigil.log" 2>&1 & pids+=($!)
rport=$((vport + 4))
python3 scripts/it/am_loop.py receiver "$rport" "$data/pages.jsonl" & pids+=($!)
for _ in $(seq 1 60); do curl -fsS -o /dev/null "http://127.0.0.1:$vport/readyz" 2>/dev/null && break; sleep 0.5; done
say "the on-call, a schedule and a policy on the P2 route, before any alert arrives"
python3 scripts/it/am_loop.py setup "http://127.0.0.1:$vport" "http://127.0.0.1:$rport/pager"

cat >"$data/prom-rules.yaml" <<YAML
groups:
  - name: it
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: P2}
        annotations: {summary: "fired by Prometheus for the integration test"}
YAML
cat >"$data/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$data/prom-rules.yaml"]
alerting:
  alertmanagers: [{static_configs: [{targets: ["127.0.0.1:$aport"]}]}]
scrape_configs:
  - job_name: vigil
    static_configs: [{targets: ["127.0.0.1:$vport"]}]
YAML
cat >"$data/alertmanager.yml" <<YAML
route: {receiver: vigil, group_wait: 1s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: vigil
    webhook_configs:
      - url: http://127.0.0.1:$vport/api/v1/integrations/alertmanager
        send_resolved: true
        http_config: {authorization: {credentials: "$ingest_key"}}
YAML
prometheus --config.file="$data/prometheus.yml" --storage.tsdb.path="$data/prom" \
  --web.listen-address="127.0.0.1:$pport" >"$data/prometheus.log" 2>&1 & pids+=($!)
prometheus-alertmanager --config.file="$data/alertmanager.yml" --storage.path="$data/am" \
  --web.listen-address="127.0.0.1:$aport" --cluster.listen-address="127.0.0.1:$cport" \
  >"$data/alertmanager.log" 2>&1 & pids+=($!)

# Vigil's routing tree in Alertmanager's format: the export passes `amtool check-config`,
# and this script's own Alertmanager configuration imports (its receiver's integration
# reported as skipped).
routing_round_trip() {
  local jar="$data/jar" url="http://127.0.0.1:$vport"
  curl -fsS -o /dev/null -c "$jar" -H 'Accept: application/json' \
    --data-urlencode "email=it-admin@example.com" --data-urlencode "password=it-admin-password" "$url/rpc/login"
  curl -fsS -b "$jar" -X POST "$url/rpc/alerts/export_routing" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin))' >"$data/vigil-routing.yml"
  amtool check-config "$data/vigil-routing.yml" >"$data/amtool.out" 2>&1 \
    || { cat "$data/amtool.out" "$data/vigil-routing.yml"; echo "amtool rejected Vigil's export"; exit 1; }
  echo "  amtool check-config accepts Vigil's routing export ($(grep -c 'receiver:' "$data/vigil-routing.yml") routes with a receiver)"
  local version skipped
  version=$(curl -fsS -b "$jar" -X POST "$url/rpc/alerts/routing" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
  skipped=$(python3 -c 'import json,sys; print(json.dumps({"yaml": open(sys.argv[1]).read(), "version": int(sys.argv[2])}))' \
      "$data/alertmanager.yml" "$version" \
    | curl -fsS -b "$jar" -H 'Content-Type: application/json' --data-binary @- "$url/rpc/alerts/import_routing")
  echo "  Alertmanager's own config imported; skipped: $skipped"
  grep -q 'receivers\[vigil\]' <<<"$skipped" || { echo "expected the receiver's integration to be reported"; exit 1; }
}

say "waiting for Vigil's PromQL rule and Alertmanager's alert (up to 120 s)"
for i in $(seq 1 120); do
  answer=$(curl -fsS -H "Authorization: Bearer $read_key" "http://127.0.0.1:$vport/api/v1/alerts" || true)
  if python3 - "$answer" <<'PY'
import json, sys
try:
    a = json.loads(sys.argv[1])
except Exception:
    sys.exit(1)
own = [x for x in a["alerts"] if x["rule_name"] == "VigilScrapedByPrometheus" and x["state"] == "Firing"]
ext = [x for x in a["external"] if x["name"] == "AlwaysFiring"]
if own and ext:
    print("  Vigil rule firing:", own[0]["summary"])
    print("  from Alertmanager:", ext[0]["name"], "-", ext[0]["summary"])
    sys.exit(0)
sys.exit(1)
PY
  then
    say "Prometheus + Alertmanager integration: ok after ${i} s"
    say "the Alertmanager alert through the response loop"
    python3 scripts/it/am_loop.py check "http://127.0.0.1:$vport" "$data/pages.jsonl" AlwaysFiring
    say "real API traffic read back from Prometheus (Vigil's own request metrics)"
    python3 scripts/it/am_loop.py traffic "http://127.0.0.1:$vport"
    routing_round_trip
    exit 0
  fi
  sleep 1
done
echo "integration failed; last answer: $answer"
echo "--- vigil.log";        tail -20 "$data/vigil.log"
echo "--- prometheus.log";   tail -20 "$data/prometheus.log"
echo "--- alertmanager.log"; tail -20 "$data/alertmanager.log"
exit 1
