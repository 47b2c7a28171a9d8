#!/usr/bin/env bash
# Installs what a fresh machine lacks to build Vigil, idempotently and offline-friendly:
# only crates.io, npm, Debian apt (and, for --test, PyPI) are used; nothing is downloaded
# from GitHub at build time (see docs/adr/0001-build-chain.md).
#
#   scripts/setup.sh           build tools (wasm32 target, cargo-leptos, wasm-bindgen, wasm-opt)
#   scripts/setup.sh --test    also the test tools (Chromium, Playwright from npm, icalendar and
#                              PyYAML from PyPI)
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.5
want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

# Progress goes to standard error (colour only on a terminal): standard output stays for
# what the caller prints (scripts/run.sh: the demo's progress and the admin's password).
say() {
  if [[ -t 2 ]]; then printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi
}

# wasm-opt comes from npm's binaryen (tools/), ahead of any other on PATH.
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

apt_install() {
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  say "apt-get install $*"
  $sudo apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 || {
    $sudo apt-get update >/dev/null
    $sudo apt-get install -y --no-install-recommends "$@" >/dev/null
  }
}

# 1. The wasm32 target (rust-toolchain.toml names it too).
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# 2. cargo-leptos, pinned: newer releases need a newer rustc than this toolchain.
if ! cargo leptos --version 2>/dev/null | grep -q " ${CARGO_LEPTOS_VERSION}\$"; then
  say "cargo install cargo-leptos ${CARGO_LEPTOS_VERSION} (about 12 min on 2 cores, once)"
  cargo install cargo-leptos --version "${CARGO_LEPTOS_VERSION}" --locked
fi

# 3. wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock; cargo-leptos
#    would otherwise download it from GitHub. (No --locked: its lock file names a crate
#    version the registry no longer has.)
wbg_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " ${wbg_version}\$"; then
  say "cargo install wasm-bindgen-cli ${wbg_version}"
  cargo install wasm-bindgen-cli --version "${wbg_version}" --force
fi

# 4. wasm-opt from npm's `binaryen` package (version pinned in tools/package-lock.json);
#    cargo-leptos uses the wasm-opt on PATH instead of downloading one. Debian's binaryen
#    (108) is too old: its output of wasm-bindgen 0.2.130 fails at hydration (ADR 0001).
if [[ ! -x tools/node_modules/.bin/wasm-opt ]]; then
  say "npm ci (tools: binaryen)"
  (cd tools && npm ci --no-audit --no-fund >/dev/null)
fi

if [[ $want_test -eq 1 ]]; then
  # 5. Debian's Chromium for the end-to-end suite (never a Playwright browser download).
  if [[ ! -x /usr/bin/chromium ]]; then
    apt_install chromium
  fi
  # A CJK font so that Chinese UI text renders in screenshots (not needed for the tests).
  if ! fc-list 2>/dev/null | grep -qi "wqy\|noto sans cjk"; then
    apt_install fonts-wqy-microhei || true
  fi
  # 6. Playwright's runner from npm, without its browser download.
  if [[ ! -x end2end/node_modules/.bin/playwright ]]; then
    say "npm ci (end2end)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null)
  fi
  # 7. Python's `icalendar` from PyPI: services/tests/oncall_ical.rs parses the on-call
  #    feeds with it (and fails under CI=true without it).
  if ! python3 -c 'import icalendar' 2>/dev/null; then
    say "pip install icalendar"
    python3 -m pip install --quiet 'icalendar>=5,<7'
  fi
  # 8. PyYAML: scripts/newcomer-it.sh parses `vigil rules export` with it.
  if ! python3 -c 'import yaml' 2>/dev/null; then
    say "pip install pyyaml"
    python3 -m pip install --quiet 'pyyaml>=6,<7'
  fi
fi
say "tools ready: $(cargo leptos --version), $(wasm-bindgen --version), $(wasm-opt --version | head -1)"
