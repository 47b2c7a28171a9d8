#!/usr/bin/env bash
# The README's first command as a newcomer meets it: `scripts/run.sh` on an empty data
# directory, without any VIGIL_* setting of the caller's (so without VIGIL_ADMIN_PASSWORD).
#   1. run.sh (setup, release build, `vigil demo`, `vigil serve`) prints an admin email and
#      password; standard output carries no log line;
#   2. signing in with them reaches the home page as that admin;
#   3. a second start prints no password and the same password still signs in;
#   4. `vigil rules export` is a YAML rule file, and `export | import -` changes nothing
#      (the same for `vigil routing`, the routing tree in Alertmanager's format);
#      `apikey add` and `user add` print only their result; `changes add --server` records a
#      deploy over HTTP with a `changes` key, once per --id.
# It differs from a newcomer's machine in three settings only: its own data directory and
# port (a newcomer's are ./data and 3000), and a small demo (VIGIL_DEMO_SCALE=0.02; the
# full one takes ~100 s, and the demo team that once hid the first-start admin is the same
# at every scale). Run after the release build (scripts/test.sh does); run.sh's own setup
# and build steps then find nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."

for v in $(compgen -e | grep '^VIGIL_' || true); do unset "$v"; done
work=$(mktemp -d /tmp/vigil-newcomer.XXXXXX)
port=${NEWCOMER_PORT:-3927}
url="http://127.0.0.1:$port"
export VIGIL_DATA_DIR="$work/data" VIGIL_ADDR="127.0.0.1:$port" VIGIL_DEMO_SCALE=0.02
bin=target/release/vigil
pid=""
stop() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
trap 'stop; rm -rf "$work"' EXIT
fail() {
  echo "newcomer path FAILED: $*"
  for f in "$work"/out* "$work"/err*; do
    [[ -f $f ]] && { echo "--- $(basename "$f") (last 40 lines)"; tail -40 "$f"; }
  done
  exit 1
}

# Starts scripts/run.sh in the background; waits until Vigil answers /readyz.
start() {
  local n=$1
  scripts/run.sh >"$work/out$n" 2>"$work/err$n" &
  pid=$!
  local t0=$SECONDS
  until curl -fsS "$url/readyz" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || fail "start $n: scripts/run.sh exited before Vigil answered"
    (( SECONDS - t0 < 900 )) || fail "start $n: no answer on $url within 900 s"
    sleep 0.5
  done
  echo "start $n: Vigil answered after $(( SECONDS - t0 )) s"
}

# Signs in with email/password; prints the HTTP status of the home page afterwards and
# keeps its body in $work/home.
sign_in() {
  local jar="$work/jar" code
  rm -f "$jar"
  code=$(curl -sS -o "$work/login" -w '%{http_code}' -c "$jar" \
    -H 'Accept: application/json' \
    --data-urlencode "email=$1" --data-urlencode "password=$2" "$url/rpc/login")
  [[ $code == 200 ]] || fail "sign-in answered $code: $(head -c 300 "$work/login")"
  grep -q 'vigil_session' "$jar" || fail "sign-in set no session cookie"
  curl -sS -o "$work/home" -w '%{http_code}' -b "$jar" "$url/"
}

# 1. First start.
start 1
out="$work/out1"
email=$(sed -nE 's/^.*│ +email: +([^ ]+) *$/\1/p' "$out" | head -1)
password=$(sed -nE 's/^.*│ +password: +([^ ]+) *$/\1/p' "$out" | head -1)
[[ -n $email && -n $password ]] || fail "the first start printed no admin email and password"
echo "first start printed the admin account: $email / (${#password} characters)"
grep -q '^demo: 90/90 days' "$out" || fail "the demo's progress is not on standard output"
if grep -qE $'\e\\[|(^|[ Z])(TRACE|DEBUG|INFO|WARN|ERROR) ' "$out"; then
  fail "standard output carries log lines: $(grep -E $'\e\\[|(TRACE|DEBUG|INFO|WARN|ERROR) ' "$out" | head -3)"
fi
grep -q 'Vigil listening' "$work/err1" || fail "the log (standard error) lacks 'Vigil listening'"

# 2. Sign in and reach the home page.
code=$(sign_in "$email" "$password")
[[ $code == 200 ]] || fail "home page answered $code after sign-in"
grep -q 'class="user-name"' "$work/home" && grep -q 'Administrator' "$work/home" \
  || fail "the home page does not show the signed-in admin"
grep -q 'Firing alerts' "$work/home" || fail "the home page lacks its 'Firing alerts' card"
echo "signed in as $email: the home page shows the admin"
bad=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Accept: application/json' \
  --data-urlencode "email=$email" --data-urlencode "password=not-$password" "$url/rpc/login")
[[ $bad != 200 ]] || fail "a wrong password signed in"

# 3. Second start: nothing new printed, the same account.
stop
start 2
if grep -q 'password:' "$work/out2"; then fail "the second start printed a password again"; fi
grep -q 'already stored' "$work/out2" || fail "the second start's demo did not skip the stored events"
code=$(sign_in "$email" "$password")
[[ $code == 200 ]] || fail "the first password no longer signs in after a restart ($code)"
echo "second start: no password printed, the same account signs in"
# A deploy script records its deploy over HTTP with a key of scope `changes`; a retry with
# the same --id records nothing new.
ckey=$($bin apikey add --name deploys --scope changes 2>/dev/null)
rec=$($bin changes add --server "$url" --api-key "$ckey" --service checkout --kind deploy \
  --version v9.9.9 --id newcomer-1 2>&1) || fail "changes add --server failed: $rec"
[[ $rec == "change #"*" recorded: deploy checkout v9.9.9" ]] || fail "changes add answered: $rec"
rec2=$($bin changes add --server "$url" --api-key "$ckey" --service checkout --kind deploy \
  --version v9.9.9 --id newcomer-1 2>&1) || fail "a retried changes add failed: $rec2"
[[ $rec2 == *"was recorded before (same --id)"* ]] || fail "a retried changes add answered: $rec2"
bad=$($bin changes add --server "$url" --api-key "$ckey" --service checkout --kind rollout 2>&1) \
  && fail "changes add accepted kind rollout"
[[ $bad == *kind* ]] || fail "a bad kind was not named: $bad"
echo "changes add --server: $rec; retried: recorded once; a bad kind is named"
stop

# 4. Command output alone on standard output.
$bin rules export >"$work/rules.yml" 2>"$work/err-export"
python3 - "$work/rules.yml" <<'PY' || fail "rules export is not a YAML rule file"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
rules = [r for g in doc["groups"] for r in g["rules"]]
assert rules, "no rules exported"
assert all("alert" in r and "expr" in r for r in rules), rules
print(f"rules export: a YAML rule file with {len(rules)} rules")
PY
imported=$($bin rules export 2>/dev/null | $bin rules import - 2>/dev/null)
n=$(grep -c '' <(python3 -c 'import sys,yaml; [print(r["alert"]) for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"]]' "$work/rules.yml"))
[[ $imported == "rules: 0 created, 0 updated, $n unchanged, 0 recording rules skipped" ]] \
  || fail "export | import - changed something: $imported"
$bin rules export 2>/dev/null | cmp -s - "$work/rules.yml" || fail "a second export differs from the first"
echo "rules export | rules import - : $imported"
$bin routing export >"$work/routing.yml" 2>/dev/null
routed=$($bin routing export 2>/dev/null | $bin routing import - 2>/dev/null)
[[ $routed == "routing: replaced (version "*")" ]] || fail "routing export | import - answered: $routed"
$bin routing export 2>/dev/null | cmp -s - "$work/routing.yml" || fail "the routing export changed after a round trip"
echo "routing export | routing import - : $routed, the same tree"
key=$($bin apikey add --name newcomer --scope read 2>/dev/null)
[[ $(wc -l <<<"$key") == 1 && $key =~ ^[^[:space:]]{20,}$ ]] || fail "apikey add printed more than the key: $key"
added=$($bin user add --email pat@example.com --role viewer 2>/dev/null)
[[ $(wc -l <<<"$added") == 2 && $added == "created user pat@example.com"*$'\n'"password: "* ]] \
  || fail "user add printed more than its result: $added"
echo "apikey add and user add print only their result"
echo "newcomer path: OK"
