#!/usr/bin/env bash
# A year's patrol plan for 1 M generated businesses (3,495 Wuhan units), end to end through
# the command line: read and classify the register, partition, assign posts, owe and date
# every visit. Wall time and peak memory by /usr/bin/time. Writes its section of
# docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-bench.sh
SHARED=${SHARED:-../shared/data}
WORK=$(pwd)/bench-data/nightly
REGION=$WORK/region
cargo build --release --quiet
BIN=./target/release/gridpatrol
if [ ! -f "$REGION/entities.csv" ]; then
  mkdir -p "$WORK"
  $BIN generate-units --outline "$SHARED/china/boundaries/wuhan_districts.wgs84.geojson" \
    --divisions "$SHARED/china/divisions/wuhan_divisions.json" --districts all --out "$REGION" --seed 7 >/dev/null
  $BIN generate --region "$REGION" --businesses 1000000 --seed 7 --as-of 2026-11-01 >/dev/null 2>&1
fi
RESULTS=$(mktemp)
for grids in 500 default; do
  args=(plan --region "$REGION" --from 2027-01-01 --to 2027-12-31 --starts 2)
  [ "$grids" = default ] || args+=(--grids "$grids")
  /usr/bin/time -f 'TIME %e %M' "$BIN" "${args[@]}" > "$WORK/plan.csv" 2> "$WORK/plan.err"
  tasks=$(($(wc -l < "$WORK/plan.csv") - 1))
  echo "$grids $(sed -n 's/^TIME //p' "$WORK/plan.err") $tasks" | tee -a "$RESULTS"
done
BODY=$(mktemp)
{
  echo "## A year's patrol plan for 1 M businesses (issue: posts and plan, item 8)"
  echo
  echo "Command: \`scripts/bench-plan.sh\`; machine: $(machine_line)."
  echo
  echo "1,000,000 generated businesses over 3,495 units, \`plan --from 2027-01-01 --to 2027-12-31 --starts 2\`, end to end (reading and classifying the register included). One run each."
  echo
  echo "| grids | wall time | peak memory | tasks |"
  echo "|---|---|---|---|"
  while read -r grids secs kb tasks; do
    echo "| $grids | ${secs} s | $((kb / 1024)) MiB | $tasks |"
  done < "$RESULTS"
  echo
  echo "Goal: < 5 s. **Not met.** The default makes one grid per certified officer (2,632 grids for 3,495 units), the pathological case for balancing; the phases and the plan to speed them are in the issue's closing note."
} > "$BODY"
write_section bench-plan "$BODY"
cat "$BODY"
