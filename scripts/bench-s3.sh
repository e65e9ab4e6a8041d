#!/usr/bin/env bash
# S3 benchmark of the header index (issue 15): a generated N-slice CT study (default 10,000
# 512x512 slices in 10 series folders, 5 GB) served by the benchmark S3 server
# (examples/s3_folder_server.rs, loopback); per round: `order s3://...`, a first `index` into a
# new file, then 5 refreshes with nothing changed. Rounds are interleaved (the machine may be
# shared); each line gives wall time, dicomprep's user+sys CPU, the server's CPU and the summary
# line's requests and bytes; then min/median per kind.
#
#   scripts/bench-s3.sh [ROUNDS] [SLICES]   (needs: cargo build --release --bin dicomprep
#                                            --example gen_study --example s3_folder_server)
#   LATENCY_MS=N: each request waits N ms at the server (a model of a remote store's latency).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
slices=${2:-10000}
work=$(mktemp -d /tmp/bench-s3.XXXXXX)
bin=target/release/dicomprep
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

target/release/examples/gen_study --template test-data/dicom2nifti/failing/gantrytilting/001/IM-0001-0001.dcm \
  --out "$work/root/bench/ct$slices" --slices "$slices" --series 10 --layout series --seed 1 2>/dev/null
target/release/examples/s3_folder_server --root "$work/root" --port 0 --latency-ms "${LATENCY_MS:-0}" \
  >"$work/server.out" 2>/dev/null &
server=$!
until grep -q listening "$work/server.out" 2>/dev/null; do
  kill -0 "$server" 2>/dev/null || { echo "s3_folder_server did not start" >&2; exit 1; }
  sleep 0.1
done
export AWS_ENDPOINT_URL="http://$(sed 's/listening on //' "$work/server.out")" AWS_ALLOW_HTTP=true
export AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-1
src=s3://bench/ct$slices

# Server CPU so far, in seconds (utime + stime of all its threads).
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$server/stat"; }

# measure ROUND KIND COMMAND...: one result line (wall user sys server_cpu load1 | summary).
measure() {
  local round=$1 kind=$2
  shift 2
  local before after
  before=$(server_cpu)
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null 2>"$work/err"
  after=$(server_cpu)
  echo "$round $kind $(cat "$work/time") $(python3 -c "print(f'{$after - $before:.2f}')") \
$(cut -d' ' -f1 /proc/loadavg) | $(grep -E ' in [0-9.]+ s' "$work/err" | tail -1)"
}

echo "== $slices slices served by s3_folder_server (${LATENCY_MS:-0} ms per request); $(nproc) cores"
for round in $(seq "$rounds"); do
  measure "$round" order $bin order "$src" -o /dev/null
  rm -f "$work"/index.sqlite*
  measure "$round" index $bin index "$src" --db "$work/index.sqlite"
  for _ in 1 2 3 4 5; do
    measure "$round" refresh $bin index "$src" --db "$work/index.sqlite"
  done
done | tee "$work/results"

python3 - "$work/results" "$slices" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    head, summary = line.split(" | ", 1)
    _, kind, wall, user, system, server, load = head.split()
    requests = re.search(r"(\d+) requests", summary)
    read = re.search(r"([\d.]+ [kMG]?B) read per file", summary)
    rows.setdefault(kind, []).append((float(wall), float(user) + float(system), float(server),
                                      float(load), int(requests.group(1)) if requests else 0,
                                      read.group(1) if read else "0"))
files = int(sys.argv[2])
print(f"\n{'kind':8} {'runs':>4} {'wall min/median s':>18} {'CPU min/median s':>17} "
      f"{'ms CPU/file':>11} {'server CPU s':>12} {'requests':>8} {'read/file':>9} {'load':>9}")
for kind, runs in rows.items():
    col = lambda i: [r[i] for r in runs]
    median = lambda i: statistics.median(col(i))
    print(f"{kind:8} {len(runs):>4} {min(col(0)):>8.2f}/{median(0):<9.2f} {min(col(1)):>7.2f}/{median(1):<9.2f} "
          f"{1000 * median(1) / files:>11.3f} {median(2):>12.2f} {median(4):>8.0f} {runs[0][5]:>9} "
          f"{min(col(3)):>4.1f}-{max(col(3)):<4.1f}")
PY
