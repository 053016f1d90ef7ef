#!/usr/bin/env bash
# Instructions the server runs per recorded visit (user space, counted by valgrind's
# callgrind), for this tree's release build and, side by side, another revision's. Unlike
# wall-clock runs on this machine (±15 % from one run to the next), the count stays put
# whatever else the machine does, so a change of a few per cent shows.
#
#   scripts/bench-visit-instructions.sh [REV]    REV: a git revision to compare with
#
# Runs on the database scripts/bench-serve.sh built (run that first). Each build is
# started under callgrind with instrumentation off, the officers sign in, 20 s of submits
# warm it up, then instrumentation is on for DURATION of submits at 20 connections; the
# count is divided by the visits committed meanwhile. The builds alternate ROUNDS times.
# Writes the table into docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-bench.sh
WORK=$(pwd)/bench-data/serve
PORT=${PORT:-18080}
DURATION=${DURATION:-30s}
ROUNDS=${ROUNDS:-2}
if [ ! -f "$WORK/serve.db" ] || [ ! -f "$WORK/submit.lua" ]; then
  echo "bench-visit-instructions: needs the bench-serve database: run scripts/bench-serve.sh first" >&2
  exit 1
fi
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"; then
  echo "bench-visit-instructions: port $PORT is taken (a server left running?)" >&2
  exit 1
fi

cargo build --release --quiet
dirty=$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo "+changes")
HEAD_NAME="$(git rev-parse --short HEAD)$dirty"
cp target/release/gridpatrol "$WORK/gridpatrol-this"
NAMES=()
BINS=()
if [ -n "${1:-}" ]; then
  REV=$(git rev-parse --short "$1")
  TREE=$WORK/rev-tree
  git worktree remove --force "$TREE" 2>/dev/null || rm -rf "$TREE"
  git worktree add --detach "$TREE" "$REV" >/dev/null
  echo "bench-visit-instructions: building $REV…" >&2
  (cd "$TREE" && CARGO_TARGET_DIR="$WORK/rev-target" cargo build --release --quiet)
  cp "$WORK/rev-target/release/gridpatrol" "$WORK/gridpatrol-rev"
  git worktree remove --force "$TREE"
  NAMES+=("$REV")
  BINS+=("$WORK/gridpatrol-rev")
fi
NAMES+=("$HEAD_NAME")
BINS+=("$WORK/gridpatrol-this")

committed() {
  curl -sf "http://127.0.0.1:$PORT/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["writes"]["committed"])'
}
VALGRIND=
trap '[ -n "$VALGRIND" ] && kill "$VALGRIND" 2>/dev/null || true' EXIT
# measure BIN: prints "visits instructions"
measure() {
  local out=$WORK/callgrind
  rm -f "$out".*
  GRIDPATROL_LIMITS__DB_WORKERS=16 RUST_LOG=warn valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$out.%p" "$1" --db "$WORK/serve.db" serve --bind "127.0.0.1:$PORT" \
    > "$WORK/callgrind-server.out" 2>&1 &
  local launcher=$!
  for _ in $(seq 600); do
    curl -sf --max-time 5 "http://127.0.0.1:$PORT/healthz" | grep -q '"job_running":null' && break
    sleep 1
  done
  # valgrind runs the program under its own process id (the launcher execs it).
  VALGRIND=$(pgrep -f "valgrind.*--callgrind-out-file=$out" | head -1)
  [ -n "$VALGRIND" ] || VALGRIND=$launcher
  sign_in_officers "$WORK" "$PORT"
  wrk -t1 -c20 -d20s -s "$WORK/submit.lua" "http://127.0.0.1:$PORT" > /dev/null
  local before after
  before=$(committed)
  callgrind_control -i on "$VALGRIND" > /dev/null 2>&1
  wrk -t1 -c20 -d"$DURATION" -s "$WORK/submit.lua" "http://127.0.0.1:$PORT" > /dev/null
  callgrind_control -i off "$VALGRIND" > /dev/null 2>&1
  after=$(committed)
  callgrind_control -d "$VALGRIND" > /dev/null 2>&1
  kill "$VALGRIND"
  while kill -0 "$VALGRIND" 2>/dev/null; do sleep 1; done
  VALGRIND=
  local total=0 f ir
  for f in "$out".*; do
    ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ && !seen { gsub(",", "", $1); print $1; seen = 1 }')
    [[ "$ir" =~ ^[0-9]+$ ]] && total=$((total + ir))
  done
  echo "$((after - before)) $total"
}

RESULTS=$(mktemp)
for round in $(seq "$ROUNDS"); do
  for i in "${!BINS[@]}"; do
    measure "${BINS[$i]}" > "$WORK/measured"
    read -r visits ir < "$WORK/measured"
    echo "${NAMES[$i]}|$round|$visits|$ir|$((ir / visits))" | tee -a "$RESULTS"
  done
done

BODY=$(mktemp)
{
  echo "## Instructions per recorded visit (issue: service, item 7)"
  echo
  echo "Command: \`scripts/bench-visit-instructions.sh ${1:-}\` (DURATION=$DURATION, ROUNDS=$ROUNDS); machine: $(machine_line); $(valgrind --version). The release server under callgrind on the bench-serve database, wrk at 20 connections sending clean visits (as \`bench-serve.sh\`'s submit run); instructions in user space of all the server's threads (the kernel's are not counted), over the visits committed while counting. Under valgrind the SHA-256 of each request runs in software (its SHA extensions are not emulated), about 43,000 instructions of each visit's count that the hardware does in a few hundred; the same in every build."
  echo
  echo "| build | round | visits | instructions | per visit |"
  echo "|---|---|---|---|---|"
  while IFS='|' read -r name round visits ir per; do
    echo "| \`$name\` | $round | $visits | $ir | $per |"
  done < "$RESULTS"
  if [ "${#BINS[@]}" = 2 ]; then
    echo
    python3 - "$RESULTS" "${NAMES[0]}" "${NAMES[1]}" <<'PY'
import statistics, sys
rows = [l.strip().split("|") for l in open(sys.argv[1]) if l.strip()]
med = lambda n: statistics.median(int(r[4]) for r in rows if r[0] == n)
old, new = med(sys.argv[2]), med(sys.argv[3])
print(f"Median per visit: `{sys.argv[2]}` {old:,.0f}, `{sys.argv[3]}` {new:,.0f}; ratio {new / old:.3f}.")
PY
  fi
} > "$BODY"
write_section bench-visit-instructions "$BODY"
cat "$BODY"
