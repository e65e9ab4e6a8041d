#!/usr/bin/env bash
# NIfTI rows of the side-by-side benchmark (`scripts/compare-peers.sh --nifti`): dicomprep
# `convert --outputs nifti` against dcm2niix on the same data and machine, warm and cold:
#   dicomprep --nifti-gzip no   vs  dcm2niix -z n
#   dicomprep (gzip, default)   vs  dcm2niix -z y (pigz)
# on each of dcm2niix's six regression suites (In/) and on a generated study of N slices.
# Prints seconds (median of RUNS warm runs; one cold run each with COLD=1), the speed-up,
# peak RSS, and the total .nii.gz bytes of both tools.
#
# Usage: scripts/peers/nifti-bench.sh [N_SLICES]   (default 10000; 0 skips the study)
# Environment:
#   SUITES     the unpacked suites (default /tmp/dcm2niix-qa; unpacked there when missing
#              from ../shared/test-data/dcm2niix-qa)
#   SERIES     series of the generated study (default 50: 200 slices of 512x512 each)
#   TEMPLATE   its template slice (default a real 512x512 CT slice of test-data)
#   RUNS       timed warm runs per tool (default 3); COLD=1 adds one cold run per tool
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
N="${1:-10000}"
SUITES="${SUITES:-/tmp/dcm2niix-qa}"
SERIES="${SERIES:-50}"
TEMPLATE="${TEMPLATE:-test-data/dicom2nifti/siemens/anatomical/001/IM-0001-0112-0001.dcm}"
RUNS="${RUNS:-3}"
COLD="${COLD:-0}"
DICOMPREP="target/release/dicomprep"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/nifti-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

log() { printf '==> %s\n' "$*" >&2; }
as_root() { if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }

for tool in dcm2niix pigz; do
    command -v "$tool" >/dev/null || as_root apt-get install -y -qq "$tool" >/dev/null
done
log "building dicomprep (release) and the study generator"
cargo build --release -q --bin dicomprep --example gen_study
if [[ ! -d "$SUITES/dcm_qa" ]]; then
    "$ROOT/../shared/test-data/dcm2niix-qa/unpack.sh" "$SUITES" >&2
fi

drop_caches() { sync; as_root sh -c 'echo 3 > /proc/sys/vm/drop_caches' 2>/dev/null || true; }

# command_of TOOL MODE SRC OUT: sets CMD to the command converting SRC into the folder OUT.
command_of() {
    local tool="$1" mode="$2" src="$3" out="$4"
    case "$tool/$mode" in
        dicomprep/plain) CMD=("$DICOMPREP" convert "$src" --dest "$out" --outputs nifti --nifti-gzip no -q --no-html) ;;
        dicomprep/gzip) CMD=("$DICOMPREP" convert "$src" --dest "$out" --outputs nifti -q --no-html) ;;
        dcm2niix/plain) CMD=(dcm2niix -b y -z n -f %p_%s -o "$out" "$src") ;;
        dcm2niix/gzip) CMD=(dcm2niix -b y -z y -f %p_%s -o "$out" "$src") ;;
    esac
}

# run TOOL MODE SRC OUT: converts SRC into the folder OUT, untimed.
run() {
    local CMD
    command_of "$@"
    "${CMD[@]}" >/dev/null 2>&1 || true
}

# time_run TOOL MODE SRC: prints "seconds peak_rss_kb". The output folder is emptied (and the
# disk synced) before the clock starts, so that neither deleting the last run's files nor
# writing them back is timed; the clock runs around the tool's spawn and exit alone
# (timed.py: no shell or /usr/bin/time in the interval).
time_run() {
    local out="$WORK/out-$1-$2" CMD
    empty "$out"
    command_of "$1" "$2" "$3" "$out"
    python3 "$ROOT/scripts/peers/timed.py" "${CMD[@]}"
}

empty() { rm -rf "$1" && mkdir -p "$1" && sync; }

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# bench LABEL SRC: one table row per mode.
bench() {
    local label="$1" src="$2" mode tool line
    for mode in plain gzip; do
        declare -A secs=() peak=() colds=() warm=()
        for tool in dicomprep dcm2niix; do
            empty "$WORK/out-$tool-$mode"
            run "$tool" "$mode" "$src" "$WORK/out-$tool-$mode" # untimed: warms the cache
            warm[$tool]=""
        done
        # The tools take turns, so that a machine slowing down or speeding up during the
        # measurement (shared hosts do) weighs on both alike.
        for _ in $(seq "$RUNS"); do
            for tool in dicomprep dcm2niix; do
                line="$(time_run "$tool" "$mode" "$src")"
                warm[$tool]+="${line%% *}"$'\n'
                peak[$tool]="${line##* }"
            done
        done
        for tool in dicomprep dcm2niix; do
            secs[$tool]="$(printf '%s' "${warm[$tool]}" | median)"
            colds[$tool]="-"
            if [[ "$COLD" == 1 ]]; then
                drop_caches
                line="$(time_run "$tool" "$mode" "$src")"
                colds[$tool]="${line%% *}"
            fi
        done
        # Bytes and file counts: where dcm2niix cannot decode a file (JPEG-LS in Debian's build)
        # it writes fewer volumes, so the ratio compares bytes per volume.
        local bytes_ours="" bytes_peer="" files_ours=1 files_peer=1
        if [[ "$mode" == gzip ]]; then
            read -r bytes_ours files_ours < <(find "$WORK/out-dicomprep-gzip" -name '*.nii.gz' -printf '%s\n' | awk '{s += $1} END {print s + 0, NR}')
            read -r bytes_peer files_peer < <(find "$WORK/out-dcm2niix-gzip" -name '*.nii.gz' -printf '%s\n' | awk '{s += $1} END {print s + 0, NR}')
        fi
        awk -v l="$label" -v m="$mode" -v a="${secs[dicomprep]}" -v b="${secs[dcm2niix]}" \
            -v ca="${colds[dicomprep]}" -v cb="${colds[dcm2niix]}" -v ra="${peak[dicomprep]}" \
            -v rb="${peak[dcm2niix]}" -v ba="$bytes_ours" -v bb="$bytes_peer" \
            -v fa="$files_ours" -v fb="$files_peer" 'BEGIN {
            x = (a > 0 ? b / a : 0)
            cx = (ca != "-" && ca > 0 ? sprintf("%.1fx", cb / ca) : "-")
            per = (bb > 0 && fa > 0 ? (ba / fa) / (bb / fb) : 0)
            bytes = (ba != "" ? sprintf("%.1f / %.1f MB in %d / %d files (%.2f per file)", ba / 1e6, bb / 1e6, fa, fb, per) : "-")
            printf "%-16s %-6s %9.4f %9.4f %6.1fx %8s %8s %6s %8.0f %8.0f  %s\n", l, m, a, b, x, ca, cb, cx, ra / 1024, rb / 1024, bytes }'
    done
}

header() {
    printf '%-16s %-6s %9s %9s %7s %8s %8s %6s %8s %8s  %s\n' data mode dicomprep dcm2niix speed \
        "cold us" "cold pe" cold "RSS us" "RSS pe" ".nii.gz bytes us / dcm2niix"
}

log "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1e6}' /proc/meminfo); dcm2niix $(dcm2niix -v 2>/dev/null | grep -o 'v1[.0-9A-Za-z]*' | head -1); pigz $(pigz --version 2>&1)"
header
for suite in dcm_qa dcm_qa_nih dcm_qa_mosaic dcm_qa_xa30 dcm_qa_fmap dcm_qa_ts; do
    bench "$suite" "$SUITES/$suite/In"
done
if ((N > 0)); then
    study="target/bench-data/nifti$N"
    if [[ "$(find "$study" -type f 2>/dev/null | wc -l)" -ne "$N" ]]; then
        rm -rf "$study"
        log "generating $N slices in $SERIES series into $study"
        target/release/examples/gen_study --template "$TEMPLATE" --out "$study" --slices "$N" \
            --series "$SERIES" --layout flat --seed 1 >&2
    fi
    bench "study$N" "$study"
fi
