#!/usr/bin/env bash
# Runs `jrule bench --synthetic` over the workloads and rule counts of
# docs/performance.md and writes benches/results/jrule.csv and a Markdown
# table (benches/results/jrule.md). Takes a few minutes; run it on a quiet
# machine:  bash benches/matrix.sh   (EVENTS=… to change the event count)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/jrule
events=${EVENTS:-1000000}
csv=benches/results/jrule.csv
md=benches/results/jrule.md
echo "workload,rules,customers,events,events_per_sec,decisions_per_sec,p50_ns,p99_ns,p999_ns,allocations_per_event,bytes_per_rule,bytes_per_customer,compile_ms" > "$csv"
run() {
  local w=$1 n=$2 c=$3 e=$4
  "$bin" bench --synthetic --workload "$w" --rules "$n" --customers "$c" --events "$e" --format json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(",".join(str(r.get(k)) for k in ["workload","rules","customers","events","events_per_sec","decisions_per_sec","p50_ns","p99_ns","p999_ns","allocations_per_event","bytes_per_rule","bytes_per_customer","compile_ms"]))' >> "$csv"
  tail -1 "$csv"
}
for n in 10 100 1000 10000 100000; do run w1 "$n" 10000 "$events"; done
for n in 10 100 1000 10000 100000; do run w2 "$n" 10000 "$((events / 5))"; done
for n in 10 100 1000 10000; do run w3-1 "$n" 10000 "$((events / 10))"; done
for n in 10 100 1000 10000; do run w3-10 "$n" 10000 "$((events / 50))"; done
for n in 10 100 1000 10000 100000; do run w4 "$n" 1000000 "$((events * 2))"; done
run w4 100 10000000 "$((events * 20))"   # the 10-million-customer target
for n in 10 100 1000 10000 100000; do run w5 "$n" 10000 "$events"; done
python3 - "$csv" > "$md" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("| workload | rules | customers | events/s | decisions/s | p50 ns | p99 ns | p99.9 ns | allocs/event | bytes/rule | bytes/customer | compile ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    f = lambda k: f"{float(r[k]):,.0f}" if r[k] not in ("None", "") else "—"
    print(f"| {r['workload']} | {int(r['rules']):,} | {int(r['customers']):,} | {f('events_per_sec')} | {f('decisions_per_sec')} | {r['p50_ns']} | {r['p99_ns']} | {r['p999_ns']} | {float(r['allocations_per_event']):.2f} | {f('bytes_per_rule')} | {f('bytes_per_customer')} | {float(r['compile_ms']):.1f} |")
PY
cat "$md"
