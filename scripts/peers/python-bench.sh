#!/usr/bin/env bash
# The Python package's row of the side-by-side benchmark (`scripts/compare-peers.sh --python`):
# reading a CT series of N 512x512 slices into one float32 numpy volume with
# dicomprep.read_volume, pydicom (read, sort by position, stack) and SimpleITK's
# ImageSeriesReader, same files, same machine, warm (median of RUNS) and cold (COLD=1).
# Prints the read's seconds (timed in-process, after imports), the speed-up, peak RSS and the
# volume's size; checks that the three volumes hold the same values.
#
# Usage: scripts/peers/python-bench.sh [N_SLICES]   (default 1000)
# Environment: RUNS (default 3), COLD=1, TEMPLATE (a real 512x512 CT slice of test-data)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
N="${1:-1000}"
RUNS="${RUNS:-3}"
COLD="${COLD:-0}"
TEMPLATE="${TEMPLATE:-test-data/dicom2nifti/failing/gantrytilting/001/IM-0001-0001.dcm}"
VENV="target/peers-python-venv"
log() { printf '==> %s\n' "$*" >&2; }
as_root() { if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }

log "building the wheel (release) and the study generator"
cargo build --release -q --example gen_study
[[ -x .emulators/venv/bin/maturin ]] || scripts/setup.sh --test
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
.emulators/venv/bin/maturin build --release --quiet --manifest-path python/Cargo.toml --out "$wheels" >&2
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --force-reinstall --no-deps "$wheels"/dicomprep-*.whl
"$VENV/bin/pip" install -q "numpy<3" "pydicom==3.*" "simpleitk==2.*"

study="target/bench-data/python$N"
if [[ "$(find "$study" -type f 2>/dev/null | wc -l)" -ne "$N" ]]; then
    rm -rf "$study"
    log "generating $N slices into $study"
    target/release/examples/gen_study --template "$TEMPLATE" --out "$study" --slices "$N" \
        --series 1 --layout flat --seed 1 >&2
fi
drop_caches() { sync; as_root sh -c 'echo 3 > /proc/sys/vm/drop_caches' 2>/dev/null || true; }
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
read_with() { "$VENV/bin/python" scripts/peers/read_volume.py "$1" "$study"; }

log "machine: $(nproc) cores; $N slices of 512x512 ($(du -sh "$study" | cut -f1))"
declare -A warm=() cold=() rss=() sums=()
for tool in dicomprep pydicom simpleitk; do
    line="$(read_with "$tool")" # untimed: warms the cache
    sums[$tool]="$(awk '{print $3, $4}' <<<"$line")"
    times=""
    for _ in $(seq "$RUNS"); do
        line="$(read_with "$tool")"
        times+="${line%% *}"$'\n'
        rss[$tool]="$(awk '{print $2}' <<<"$line")"
    done
    warm[$tool]="$(printf '%s' "$times" | median)"
    cold[$tool]="-"
    if [[ "$COLD" == 1 ]]; then
        drop_caches
        cold[$tool]="$(read_with "$tool" | awk '{print $1}')"
    fi
done
for tool in pydicom simpleitk; do
    [[ "${sums[$tool]}" == "${sums[dicomprep]}" ]] ||
        log "warning: $tool's volume (${sums[$tool]}) differs from dicomprep's (${sums[dicomprep]})"
done
printf '%-10s %9s %8s %9s %8s %9s  %s\n' tool "warm s" "speed" "cold s" "speed" "peak MB" "volume (shape, sum |v|)"
for tool in dicomprep pydicom simpleitk; do
    awk -v t="$tool" -v w="${warm[$tool]}" -v c="${cold[$tool]}" -v wd="${warm[dicomprep]}" \
        -v cd="${cold[dicomprep]}" -v r="${rss[$tool]}" -v s="${sums[$tool]}" 'BEGIN {
        cs = (c != "-" && cd > 0 ? sprintf("%.1fx", c / cd) : "-")
        printf "%-10s %9.3f %7.1fx %9s %8s %9s  %s\n", t, w, w / wd, c, cs, r, s }'
done
awk -v n="$N" 'BEGIN {printf "(speed: time relative to dicomprep; the volume alone is %.0f MB)\n", n * 512 * 512 * 4 / 1048576}'
