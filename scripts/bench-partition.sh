#!/usr/bin/env bash
# Grid partitioning against METIS (pymetis) and GerryChain (ReCom) on the districting
# instances in ../shared/data/partition, side by side in one run, every plan scored by the
# one scorer in scripts/partition_peers.py. Installs the peers from PyPI into a venv under
# bench-data/. Writes its section of docs/PERFORMANCE.md.
#
#   scripts/bench-partition.sh        # SEEDS=10 seeds for gridpatrol and METIS
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-bench.sh

SHARED=${SHARED:-../shared/data}
SEEDS=${SEEDS:-10}
WORK=$(pwd)/bench-data/partition
D=$SHARED/partition
[ -d "$D" ] || { echo "bench-partition: $D is absent" >&2; exit 1; }
mkdir -p "$WORK"
VENV=$(pwd)/bench-data/peers-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pymetis, gerrychain' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q pymetis gerrychain
fi
PY="$VENV/bin/python -W ignore scripts/partition_peers.py"
PEERS=$("$VENV/bin/python" -c 'import importlib.metadata as m; print("pymetis", m.version("pymetis"), "/ gerrychain", m.version("gerrychain"))')
cargo build --release --quiet
BIN=./target/release/gridpatrol

# name | file | weight | k | tolerance | GerryChain steps | goal
INSTANCES="
PA VTD|gerrychain/PA_graph_with_data_vtd.json|population|18|0.005|200|≤ 1,100 cut edges, 18/18 connected, PP mean ≥ 0.25, < 2 s
Leeds|vidal/Leeds.geojson|POPULATION|10|0.01|1000|≤ 154 cut edges, < 0.5 s
London|vidal/London.geojson|POPULATION|30|0.01|1000|≤ 557 cut edges, < 0.5 s
IA county|validi_buchanan/county/county19.json|TOTPOP|4|0.005|1000|≤ 34 (optimum 33), < 1 s
OK county|validi_buchanan/county/county40.json|TOTPOP|5|0.005|1000|≤ 41 (optimum 40), < 1 s
KS county|validi_buchanan/county/county20.json|TOTPOP|4|0.005|1000|≤ 33 (optimum 32), < 1 s
AR county|validi_buchanan/county/county05.json|TOTPOP|4|0.005|1000|≤ 34 (optimum 33), < 1 s
MS county|validi_buchanan/county/county28.json|TOTPOP|4|0.005|1000|≤ 35 (optimum 34), < 1 s
NE county|validi_buchanan/county/county31.json|TOTPOP|3|0.005|1000|≤ 20 (optimum 19), < 1 s
NH tract|validi_buchanan/tract/tract33.json|TOTPOP|2|0.005|300|≤ 27 (optimum 26), < 10 s
ID tract|validi_buchanan/tract/tract16.json|TOTPOP|2|0.005|300|≤ 18 (optimum 17), < 10 s
ME tract|validi_buchanan/tract/tract23.json|TOTPOP|2|0.005|300|≤ 21 (optimum 20), < 10 s
"
RESULTS=$WORK/results.jsonl
: > "$RESULTS"
while IFS='|' read -r name file weight k tol steps goal; do
  [ -n "$name" ] || continue
  echo "== $name (k=$k, ±$tol)" >&2
  for seed in $(seq "$SEEDS"); do
    out="$WORK/gp-$seed.csv"
    secs=$($BIN partition --graph "$D/$file" --weight "$weight" --grids "$k" --tolerance "$tol" --seed "$seed" --out "$out" 2>/dev/null | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
    score=$($PY score "$D/$file" "$weight" "$k" "$out")
    echo "{\"instance\":\"$name\",\"peer\":\"gridpatrol\",\"seed\":$seed,\"seconds\":$secs,\"tol\":$tol,\"goal\":\"$goal\",\"score\":$score}" >> "$RESULTS"
    out="$WORK/metis-$seed.csv"
    secs=$($PY metis "$D/$file" "$weight" "$k" "$tol" "$seed" "$out")
    score=$($PY score "$D/$file" "$weight" "$k" "$out")
    echo "{\"instance\":\"$name\",\"peer\":\"METIS\",\"seed\":$seed,\"seconds\":$secs,\"tol\":$tol,\"goal\":\"$goal\",\"score\":$score}" >> "$RESULTS"
  done
  out="$WORK/recom.csv"
  if secs=$(timeout 600 $PY recom "$D/$file" "$weight" "$k" "$tol" 1 "$steps" "$out" 2>/dev/null); then
    score=$($PY score "$D/$file" "$weight" "$k" "$out")
    echo "{\"instance\":\"$name\",\"peer\":\"GerryChain $steps ReCom steps\",\"seed\":1,\"seconds\":$secs,\"tol\":$tol,\"goal\":\"$goal\",\"score\":$score}" >> "$RESULTS"
  else
    echo "{\"instance\":\"$name\",\"peer\":\"GerryChain $steps ReCom steps\",\"seed\":1,\"seconds\":null,\"tol\":$tol,\"goal\":\"$goal\",\"score\":null}" >> "$RESULTS"
  fi
done <<< "$INSTANCES"

BODY=$(mktemp)
python3 - "$RESULTS" "$SEEDS" "$(machine_line)" "$PEERS" > "$BODY" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
seeds, machine, peers = sys.argv[2], sys.argv[3], sys.argv[4]
print("## Grid partitioning (issue: partitioning, item 6)\n")
print(f"Command: `scripts/bench-partition.sh` (SEEDS={seeds}); machine: {machine}; peers: {peers}.\n")
print("Every plan is scored by `scripts/partition_peers.py`: deviation over / under the mean part weight, parts that are one piece "
      "(breadth-first search), cut edges, Polsby–Popper from the graph's areas and perimeters (not available for the Leeds/London files). "
      f"gridpatrol and METIS (pymetis, `contig=1`, `ncuts=10`, `ufactor` = tolerance) run {seeds} seeds each; the table gives the best plan "
      "within the tolerance by cut edges, how many seeds were within the tolerance and connected, and the median time of one run. "
      "GerryChain runs one seeded chain (recursive-tree start, then ReCom within the tolerance; best state by cut edges).\n")
print("| instance | tolerance | peer | feasible seeds | best over / under | cut edges (best / median) | connected | PP mean / min | median s | goal |")
print("|---|---|---|---|---|---|---|---|---|---|")
order = []
for r in rows:
    key = (r["instance"], r["peer"])
    if key not in order:
        order.append(key)
for inst, peer in order:
    rs = [r for r in rows if r["instance"] == inst and r["peer"] == peer]
    tol = rs[0]["tol"]
    scored = [r for r in rs if r["score"]]
    if not scored:
        print(f"| {inst} | ±{tol*100:.1f} % | {peer} | failed | | | | | | {rs[0]['goal']} |")
        continue
    ok = [r for r in scored if r["score"]["max_over"] <= tol + 1e-9 and r["score"]["max_under"] <= tol + 1e-9 and r["score"]["connected"] == r["score"]["parts"]]
    pool = ok or scored
    best = min(pool, key=lambda r: r["score"]["cut_edges"])
    s = best["score"]
    cuts = [r["score"]["cut_edges"] for r in pool]
    pp = "–" if s["pp_mean"] is None else f"{s['pp_mean']:.3f} / {s['pp_min']:.3f}"
    secs = statistics.median(r["seconds"] for r in scored if r["seconds"] is not None)
    mark = "" if ok else " (none within tolerance: best shown)"
    print(f"| {inst} | ±{tol*100:.1f} % | {peer} | {len(ok)}/{len(rs)}{mark} | +{s['max_over']*100:.2f} / −{s['max_under']*100:.2f} % | "
          f"**{s['cut_edges']}** / {statistics.median(cuts):.0f} | {s['connected']}/{s['parts']} | {pp} | {secs:.3f} | "
          f"{rs[0]['goal'] if peer == 'gridpatrol' else ''} |")
PY
write_section bench-partition "$BODY"
cat "$BODY"
