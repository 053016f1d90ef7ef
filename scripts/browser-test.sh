#!/usr/bin/env bash
# Browser tests: the real pages in Debian's headless Chromium against `gridpatrol demo` on
# a free port, driven by playwright-core (tests/browser/pages.mjs). Installs what it needs:
# chromium and chromium-driver from Debian, playwright-core from the npm registry (it never
# downloads a browser of its own). Screenshots and downloads go to target/browser/.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "WenQuanYi"; then
    echo "== installing Debian's chromium and a Chinese font"
    as_root=""
    [ "$(id -u)" = 0 ] || as_root="sudo"
    $as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null

if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "== installing playwright-core"
    (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

# The binary `cargo test` built (same features as the tests: no second build in CI).
cargo test --no-run --quiet
out=target/browser
rm -rf "$out"
GP_BIN="$PWD/target/debug/gridpatrol" GP_OUT="$out" CHROMIUM=/usr/bin/chromium \
    node tests/browser/pages.mjs
