#!/usr/bin/env bash
# Side-by-side benchmark of DICOM header scanning + slice ordering: dicomprep against
# pydicom, dcm2niix, gdcmscanner and the raw I/O floor, on one synthetic study, in one run.
#
# Usage: scripts/compare-peers.sh [N_SLICES]          (default 10000)
#
# Environment:
#   TEMPLATE   real single-frame DICOM every slice is made from
#              (default test-data/dicom2nifti/failing/gantrytilting/001/IM-0001-0001.dcm)
#   SERIES     number of series the slices are spread over (default 1)
#   BENCH_DIR  where the study is generated (default target/bench-data)
#   RUNS       timed warm runs per tool, after one untimed; the median is reported (default 3)
#   COLD=1     also one cold-cache run per tool (drops the page cache before each; root or
#              passwordless sudo needed, skipped with a message otherwise)
#
# It installs what is missing (dcm2niix, libgdcm-tools, GNU time via apt; pydicom in a venv
# at target/peers-venv), builds dicomprep and its examples, generates the study once, checks
# that dicomprep's and pydicom's orders match the generator's ground truth, and prints a
# table of seconds, files/s, speed relative to dicomprep and peak RSS.
set -euo pipefail

N="${1:-10000}"
TEMPLATE="${TEMPLATE:-test-data/dicom2nifti/failing/gantrytilting/001/IM-0001-0001.dcm}"
SERIES="${SERIES:-1}"
BENCH_DIR="${BENCH_DIR:-target/bench-data}"
RUNS="${RUNS:-3}"
COLD="${COLD:-0}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STUDY="$BENCH_DIR/ct$N"
TRUTH="$BENCH_DIR/ct$N.truth.json"
VENV="target/peers-venv"
PY="$VENV/bin/python"
DICOMPREP="target/release/dicomprep"
GEN_STUDY="target/release/examples/gen_study"
READ_FLOOR="target/release/examples/read_floor"
# The tags gdcmscanner is asked for: SeriesInstanceUID, InstanceNumber, ImagePositionPatient.
GDCM_TAGS=(-t "0020,000e" -t "0020,0013" -t "0020,0032")

# Scratch space for outputs and timings, removed on exit whatever happens.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/compare-peers.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly if we are root, else through sudo.
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# ---------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------

# apt packages for the native peers (only those missing, so a re-run needs no network).
install_native_tools() {
    local missing=()
    command -v dcm2niix >/dev/null || missing+=(dcm2niix)
    command -v gdcmscanner >/dev/null || missing+=(libgdcm-tools)
    [[ -x /usr/bin/time ]] || missing+=(time)  # GNU time, for peak RSS
    if ((${#missing[@]})); then
        log "installing ${missing[*]} with apt"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# pydicom in its own venv, so the system Python stays untouched.
install_pydicom() {
    if [[ -x "$PY" ]] && "$PY" -c 'import pydicom' 2>/dev/null; then
        return
    fi
    log "creating $VENV with pydicom"
    python3 -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q pydicom
}

build() {
    log "building dicomprep and its examples (release)"
    cargo build --release --bin dicomprep --examples
}

print_versions() {
    echo "Versions:"
    echo "  $("$DICOMPREP" --version) ($(rustc --version))"
    echo "  pydicom $("$PY" -c 'import pydicom; print(pydicom.__version__)') ($("$PY" --version))"
    # dcm2niix prints its banner and exits non-zero for --version.
    echo "  $(dcm2niix --version 2>&1 | grep -m1 -i version || true)"
    echo "  $(gdcmscanner --version 2>&1 | head -n1 || true)"
}

print_machine() {
    local cpu
    cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "Machine: $(nproc) cores, ${cpu:-unknown CPU}, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM," \
        "$(df -T "$BENCH_DIR" | awk 'NR == 2 {print $2}') on $(df "$BENCH_DIR" | awk 'NR == 2 {print $1}')"
}

# ---------------------------------------------------------------------------
# Study
# ---------------------------------------------------------------------------

# Warns when something else keeps the CPUs busy (another build, a test run): on a 2-core
# machine that skews every figure, the multi-threaded ones most.
check_idle() {
    local a b busy
    read -r -a a </proc/stat
    sleep 1
    read -r -a b </proc/stat
    # Fields after "cpu": user nice system idle iowait irq softirq steal.
    busy="$(awk -v u="$((b[1] + b[2] + b[3] + b[6] + b[7] + b[8] - a[1] - a[2] - a[3] - a[6] - a[7] - a[8]))" \
        -v i="$((b[4] + b[5] - a[4] - a[5]))" 'BEGIN {printf "%.0f", (u + i > 0 ? 100 * u / (u + i) : 0)}')"
    echo "CPU busy before timing: ${busy}%"
    if ((busy > 10)); then
        echo "warning: other processes are using ${busy}% of the CPUs; the figures will be skewed" >&2
    fi
}

count_files() { find "$1" -type f | wc -l; }

# Generates the study unless a complete one (N files + truth) is already there.
generate_study() {
    if [[ -d "$STUDY" && -f "$TRUTH" ]] && [[ "$(count_files "$STUDY")" -eq "$N" ]]; then
        log "reusing $STUDY ($N files)"
        return
    fi
    [[ -f "$TEMPLATE" ]] || die "template not found: $TEMPLATE"
    mkdir -p "$BENCH_DIR"
    # A stale or partial study would mix with the new one: start clean.
    rm -rf "$STUDY" "$TRUTH"

    # Every slice is the template plus a few KiB of changed header; 10% margin on top.
    local need_kb avail_kb
    need_kb=$(( ($(stat -c %s "$TEMPLATE") + 4096) * N * 11 / 10 / 1024 ))
    avail_kb="$(df -Pk "$BENCH_DIR" | awk 'NR == 2 {print $4}')"
    if ((avail_kb < need_kb)); then
        die "not enough disk for $N slices in $BENCH_DIR: need ~$((need_kb / 1024)) MiB, have $((avail_kb / 1024)) MiB"
    fi

    log "generating $N slices in $SERIES series into $STUDY (~$((need_kb / 1024)) MiB)"
    "$GEN_STUDY" --template "$TEMPLATE" --out "$STUDY" --slices "$N" --series "$SERIES" \
        --layout flat --seed 1
}

# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------

# The tools, in table order. Every command writes its result under $WORK, so none can
# pass by reusing an old one.
TOOLS=(
    "dicomprep"
    "dicomprep (1 thread)"
    "pydicom (1 process)"
    "pydicom (2 processes)"
    "dcm2niix -b o"
    "gdcmscanner"
    "read_floor (8 KiB/file)"
)

# tool_command LABEL: sets CMD to the argv of that tool (an array, so no eval and no
# wrapper shell inside the timing), after any untimed preparation it needs. An order JSON
# from an earlier run is removed first, so a failed run cannot pass the correctness check.
tool_command() {
    local out=""
    case "$1" in
        "dicomprep")
            out="$WORK/dicomprep.json"
            CMD=("$DICOMPREP" order "$STUDY" -q -o "$out") ;;
        "dicomprep (1 thread)")
            out="$WORK/dicomprep-t1.json"
            CMD=("$DICOMPREP" order "$STUDY" -q --threads 1 --io-threads 1 -o "$out") ;;
        "pydicom (1 process)")
            out="$WORK/pydicom.json"
            CMD=("$PY" scripts/peers/pydicom_order.py "$STUDY" --processes 1 -o "$out") ;;
        "pydicom (2 processes)")
            out="$WORK/pydicom-p2.json"
            CMD=("$PY" scripts/peers/pydicom_order.py "$STUDY" --processes 2 -o "$out") ;;
        "dcm2niix -b o")
            # -b o: BIDS sidecar only, no NIfTI (checked afterwards). A fresh output folder
            # each run, else dcm2niix would add suffixed duplicates.
            rm -rf "$WORK/dcm2niix" && mkdir -p "$WORK/dcm2niix"
            CMD=(dcm2niix -b o -o "$WORK/dcm2niix" "$STUDY") ;;
        "gdcmscanner")
            # -p: actually print the tag values (without it gdcmscanner prints only a count).
            CMD=(gdcmscanner -d "$STUDY" -r -p "${GDCM_TAGS[@]}") ;;
        "read_floor (8 KiB/file)") CMD=("$READ_FLOOR" "$STUDY") ;;
        *) die "unknown tool: $1" ;;
    esac
    if [[ -n "$out" ]]; then rm -f "$out"; fi
}

# Page cache drop for cold runs; returns non-zero if not permitted.
drop_caches() {
    sync
    if [[ "$(id -u)" -eq 0 ]]; then
        { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null
    else
        echo 3 | sudo -n tee /proc/sys/vm/drop_caches >/dev/null 2>&1
    fi
}

# time_once LABEL: runs the tool once, output discarded; prints "seconds peak_rss_kb exit".
# Wall time comes from bash's microsecond clock ($EPOCHREALTIME; GNU time's %e has only
# centiseconds); peak RSS from GNU time (%M: the largest single process, so for the pydicom
# pool it is the biggest worker or the parent, not their sum).
time_once() {
    local start end rc=0 CMD=()
    tool_command "$1"
    start="$EPOCHREALTIME"
    /usr/bin/time -f '%M' -o "$WORK/rss" "${CMD[@]}" >/dev/null 2>"$WORK/stderr" || rc=$?
    end="$EPOCHREALTIME"
    # The RSS is the last line of the -o file (GNU time prepends a note on non-zero exit).
    echo "$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f", e - s}') $(tail -n1 "$WORK/rss") $rc"
}

# A run is acceptable on exit 0 (any tool) or 3 (dicomprep/pydicom: some files failed,
# the order is still written and the correctness check will flag it).
check_exit() {
    local label="$1" rc="$2"
    if [[ "$rc" -ne 0 && "$rc" -ne 3 ]]; then
        echo "warning: '$label' exited with $rc; its stderr:" >&2
        tail -n 5 "$WORK/stderr" >&2
    fi
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# Result tables: SECONDS[mode/label], RSS_KB[mode/label], STATUS[mode/label].
declare -A SECONDS_OF RSS_KB STATUS

# measure MODE: times every tool: RUNS warm runs each after an untimed one (MODE=warm), or
# one run after a page cache drop (MODE=cold).
measure() {
    local mode="$1" label runs i result secs rss rc all_secs max_rss
    for label in "${TOOLS[@]}"; do
        runs="$RUNS"
        [[ "$mode" == cold ]] && runs=1
        all_secs="" max_rss=0 STATUS["$mode/$label"]=ok
        if [[ "$mode" == warm ]]; then
            # One untimed run first: even with the files cached, a tool's first run in a
            # while is slower (its binary/libraries, inode and dentry caches).
            time_once "$label" >/dev/null
        fi
        for ((i = 1; i <= runs; i++)); do
            if [[ "$mode" == cold ]]; then drop_caches; fi
            result="$(time_once "$label")"
            read -r secs rss rc <<<"$result"
            check_exit "$label" "$rc"
            [[ "$rc" -eq 0 || "$rc" -eq 3 ]] || STATUS["$mode/$label"]="exit $rc"
            all_secs+="$secs"$'\n'
            if ((rss > max_rss)); then max_rss="$rss"; fi
        done
        SECONDS_OF["$mode/$label"]="$(printf '%s' "$all_secs" | median)"
        RSS_KB["$mode/$label"]="$max_rss"
        log "$mode: $label: $(printf '%s' "$all_secs" | tr '\n' ' ')s"
    done
}

# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

# dcm2niix must not have written any image: "-b o" means sidecar only.
check_dcm2niix_no_nifti() {
    local images
    images="$(find "$WORK/dcm2niix" -type f \( -name '*.nii' -o -name '*.nii.gz' \) | wc -l)"
    if ((images > 0)); then
        echo "dcm2niix: WROTE $images NIfTI file(s) despite -b o: its time includes image writing"
    else
        echo "dcm2niix: wrote $(find "$WORK/dcm2niix" -name '*.json' | wc -l) JSON sidecar(s), no NIfTI (OK)"
    fi
}

# check_order NAME FILE KIND: compares an order JSON with the ground truth, series by series
# (matched by SeriesInstanceUID). KIND=dicomprep reads series[].volumes[].slices[].path
# (expecting one volume per series), KIND=pydicom reads series[].paths.
check_order() {
    "$PY" - "$TRUTH" "$2" "$3" "$1" <<'EOF'
import json, sys

truth_path, out_path, kind, name = sys.argv[1:5]
truth = {s["series_instance_uid"]: s["paths"] for s in json.load(open(truth_path))["series"]}
try:
    doc = json.load(open(out_path))
except (OSError, ValueError) as exc:
    print(f"{name}: MISMATCH (no readable output: {exc})")
    sys.exit(0)

problems = []
got = {}
for s in doc["series"]:
    uid = s["series_instance_uid"]
    if kind == "dicomprep":
        volumes = s["volumes"]
        if len(volumes) != 1:
            problems.append(f"series {uid[-12:]} split into {len(volumes)} volumes")
        got[uid] = [sl["path"] for v in volumes for sl in v["slices"]]
    else:
        got[uid] = s["paths"]

if set(got) != set(truth):
    problems.append(f"series UIDs differ: {len(got)} found, {len(truth)} expected")
for uid, paths in truth.items():
    mine = got.get(uid)
    if mine is None or mine == paths:
        continue
    first = next((i for i, (a, b) in enumerate(zip(mine, paths)) if a != b), min(len(mine), len(paths)))
    problems.append(f"series {uid[-12:]}: {len(mine)} vs {len(paths)} slices, first difference at {first}")

total = sum(len(p) for p in got.values())
if problems:
    print(f"{name}: MISMATCH: " + "; ".join(problems[:3]))
else:
    print(f"{name}: OK ({total} slices in {len(got)} series in the true order)")
EOF
}

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

# print_table MODE: one row per tool; ratios are against the default-threads dicomprep.
print_table() {
    local mode="$1" label secs rate ref ratio
    ref="${SECONDS_OF[$mode/dicomprep]}"
    echo
    if [[ "$mode" == warm ]]; then
        echo "Warm cache, N=$N files, median of $RUNS runs (after 1 untimed):"
    else
        echo "Cold cache (page cache dropped before each tool), N=$N files, 1 run:"
    fi
    printf '%-26s | %8s | %9s | %-28s | %12s\n' tool seconds files/s "vs dicomprep" "peak RSS MB"
    printf '%s\n' "---------------------------+----------+-----------+------------------------------+-------------"
    for label in "${TOOLS[@]}"; do
        secs="${SECONDS_OF[$mode/$label]}"
        rate="$(awk -v n="$N" -v s="$secs" 'BEGIN {printf "%.0f", (s > 0 ? n / s : 0)}')"
        if [[ "$label" == dicomprep ]]; then
            ratio="(reference)"
        else
            ratio="$(awk -v me="$ref" -v them="$secs" 'BEGIN {
                if (me <= 0 || them <= 0) print "n/a"
                else if (them >= me) printf "dicomprep is %.1fx faster", them / me
                else printf "dicomprep is %.1fx slower", me / them }')"
        fi
        [[ "${STATUS[$mode/$label]}" == ok ]] || ratio+=" [${STATUS[$mode/$label]}]"
        printf '%-26s | %8.3f | %9s | %-28s | %12.1f\n' "$label" "$secs" "$rate" "$ratio" \
            "$(awk -v k="${RSS_KB[$mode/$label]}" 'BEGIN {print k / 1024}')"
    done
}

# ---------------------------------------------------------------------------

main() {
    [[ "$N" =~ ^[0-9]+$ && "$N" -gt 0 ]] || die "N_SLICES must be a positive integer, got '$N'"
    [[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -gt 0 ]] || die "RUNS must be a positive integer, got '$RUNS'"
    install_native_tools
    install_pydicom
    build
    generate_study

    echo
    print_machine
    print_versions
    echo "Study: $STUDY ($N files, $SERIES series, $(du -sh "$STUDY" | cut -f1))"

    # A freshly generated study is still being written back to disk: let that finish first,
    # or it competes with the timed runs.
    sync
    check_idle

    # Read every file whole once, so the warm runs all start from a fully cached folder:
    # reading only the headers is not enough, as dcm2niix reads whole files and the others
    # read different amounts past the header (readahead).
    log "warming the page cache (reading $STUDY whole)"
    find "$STUDY" -type f -print0 | xargs -0 cat >/dev/null

    measure warm

    echo
    echo "Correctness (against $TRUTH):"
    check_order "dicomprep" "$WORK/dicomprep.json" dicomprep
    check_order "dicomprep (1 thread)" "$WORK/dicomprep-t1.json" dicomprep
    check_order "pydicom (1 process)" "$WORK/pydicom.json" pydicom
    check_order "pydicom (2 processes)" "$WORK/pydicom-p2.json" pydicom
    check_dcm2niix_no_nifti

    print_table warm

    if [[ "$COLD" == 1 ]]; then
        if drop_caches; then
            measure cold
            print_table cold
        else
            echo
            echo "COLD=1: skipped, cannot write /proc/sys/vm/drop_caches (needs root or passwordless sudo)"
        fi
    fi
    echo
    echo "Notes: pydicom and dicomprep order the slices; dcm2niix also sorts into volumes and writes" \
        "one JSON sidecar per series; gdcmscanner only extracts the 3 tags (no ordering);" \
        "read_floor only reads the first 8 KiB of each file (the I/O floor)." \
        "Peak RSS is that of the largest single process."
}

main "$@"
