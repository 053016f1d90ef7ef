#!/usr/bin/env bash
# Classification benchmarks: in-memory throughput (benches/classify.rs, divan, one core) and
# the nightly re-classification of 1 M businesses in SQLite, end to end through the command
# line, with peak memory. Writes its section of docs/PERFORMANCE.md.
#
#   scripts/bench-classify.sh          # RUNS=3 repetitions of each SQLite pass
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-bench.sh

SHARED=${SHARED:-../shared/data}
RUNS=${RUNS:-3}
WORK=$(pwd)/bench-data/nightly
[ -d "$SHARED/china" ] || { echo "bench-classify: $SHARED is absent" >&2; exit 1; }
mkdir -p "$WORK"

echo "== in-memory classification (divan)"
DIVAN=$(cargo bench --bench classify 2>&1 | tee /dev/stderr)

echo "== nightly job in SQLite"
cargo build --release --quiet
BIN=./target/release/gridpatrol
REGION=$WORK/region
if [ ! -f "$REGION/entities.csv" ]; then
  $BIN generate-units --outline "$SHARED/china/boundaries/wuhan_districts.wgs84.geojson" \
    --divisions "$SHARED/china/divisions/wuhan_divisions.json" --districts all --out "$REGION" --seed 7 >/dev/null
  $BIN generate --region "$REGION" --businesses 1000000 --seed 7 --as-of 2026-11-01 >/dev/null 2>&1
fi
DB=$WORK/bench.db
rm -f "$DB" "$DB-wal" "$DB-shm"
timed() { # timed LABEL CMD…: appends "LABEL seconds maxrss_kb stdout-last-line" to $RESULTS
  local label=$1; shift
  local out
  out=$( { /usr/bin/time -f 'TIME %e %M' "$@" | tail -1; } 2>&1 )
  local t m
  t=$(echo "$out" | sed -n 's/^TIME \([0-9.]*\) \([0-9]*\)$/\1/p')
  m=$(echo "$out" | sed -n 's/^TIME \([0-9.]*\) \([0-9]*\)$/\2/p')
  echo "$label $t $m $(echo "$out" | grep -v '^TIME' | tail -1)" | tee -a "$RESULTS"
}
RESULTS=$(mktemp)
timed import $BIN --db "$DB" import --region "$REGION"
for i in $(seq "$RUNS"); do
  timed full $BIN --db "$DB" reclassify --as-of 2026-11-22
done
for i in $(seq "$RUNS"); do
  timed nightly $BIN --db "$DB" reclassify --due-only --as-of "2026-11-2$((2 + i))"
done
timed nightly-again $BIN --db "$DB" reclassify --due-only --as-of "2026-11-2$((2 + RUNS))"
RECORDS=$(python3 -c "
import sys
n = 0
for f in ['violations', 'complaints', 'annual_reports', 'inspections']:
    n += sum(1 for _ in open('$REGION/' + f + '.csv')) - 1
print(n)")

BODY=$(mktemp)
python3 - "$RESULTS" "$RUNS" "$(machine_line)" "$RECORDS" "$DIVAN" > "$BODY" <<'PY'
import json, re, statistics, sys
results, runs, machine, records, divan = sys.argv[1:6]
rows = {}
for line in open(results):
    label, secs, rss, rest = (line.rstrip("\n").split(" ", 3) + [""])[:4]
    rows.setdefault(label, []).append((float(secs), int(rss), rest))
def med(label): return statistics.median(r[0] for r in rows[label])
def peak(label): return max(r[1] for r in rows[label]) / 1024
def report(label): 
    try: return json.loads(rows[label][-1][2])
    except Exception: return {}
print("## Risk classification (issue: classification, item 7)\n")
print(f"Command: `scripts/bench-classify.sh` (RUNS={runs}); machine: {machine}.\n")
print(f"### In memory, one core (`cargo bench --bench classify`, divan, 5 samples)\n")
print(f"1,000,000 generated businesses (demo-region units, seed 11) with {re.search(r'register: [0-9]+ businesses, ([0-9]+) records', divan).group(1)} records, classified as of 2026-11-01.\n")
print("```")
for line in divan.splitlines():
    if re.match(r"^(classify|├|│|╰|peak memory|Timer)", line.strip()) or "Mitem/s" in line:
        print(line)
print("```\n")
m = re.search(r"classify_with_reasons\s+\S+ ms\s+│\s+\S+ ms\s+│\s+(\S+) ms", divan)
if m:
    print(f"Median with reasons and change dates: {float(m.group(1)):.1f} ms for 1 M businesses = **{1e3 / float(m.group(1)):.1f} M businesses/s** (goal ≥ 1 M/s).\n")
print("### In SQLite, end to end through the command line\n")
print(f"The same generator over 3,495 Wuhan units: 1,000,000 businesses with {int(records):,} records. Wall time and peak resident memory by `/usr/bin/time`; medians of {runs} runs.\n")
print("| pass | what it does | median | peak memory | examined | changed |")
print("|---|---|---|---|---|---|")
print(f"| `import` | check every file, locate, write 1 M businesses and their records in one transaction, classify all | {med('import'):.1f} s | {peak('import'):.0f} MiB | | |")
r = report("full")
print(f"| `reclassify` | re-classify every business (after a policy change) | **{med('full'):.1f} s** | {peak('full'):.0f} MiB | {r.get('examined', '?'):,} | {r.get('changed', '?')} |")
r = report("nightly")
print(f"| `reclassify --due-only` | the nightly job: lapse overrides, re-classify rows whose review date has come | **{med('nightly'):.2f} s** | {peak('nightly'):.0f} MiB | {r.get('examined', '?'):,} | {r.get('changed', '?')} |")
r = report("nightly-again")
print(f"| the same night again | idempotence: nothing left to do | {med('nightly-again'):.2f} s | {peak('nightly-again'):.0f} MiB | {r.get('examined', '?'):,} | {r.get('changed', '?')} |")
print("\nGoal: the nightly job over 1 M businesses in under 10 s end to end. The full pass is the worst case of that job (every row due).")
PY
write_section bench-classify "$BODY"
cat "$BODY"
