#!/usr/bin/env bash
# Side-by-side benchmark of DICOM header scanning + slice ordering: dicomprep against
# pydicom, dcm2niix, gdcmscanner and the raw I/O floor, on one synthetic study, in one run.
# Optionally also rendering (the RENDER section): `dicomprep convert` against DCMTK's
# dcmj2pnm, pydicom + numpy + Pillow and ImageMagick's mogrify, on a second study.
#
# Usage: scripts/compare-peers.sh [N_SLICES]            scanning only (default 10000 files)
#        scripts/compare-peers.sh --render [N_SLICES]   rendering only (default 300 slices)
#        scripts/compare-peers.sh --store [N_SLICES]    header scans from the moto S3 server on
#                                                       loopback against local disk, same study
#        RENDER=1 scripts/compare-peers.sh [N_SLICES]   scanning, then rendering RENDER_N slices
#        scripts/compare-peers.sh --nifti [N_SLICES]    NIfTI: convert --outputs nifti against
#                                                       dcm2niix -z n / -z y on dcm2niix's six
#                                                       suites and a generated study
#                                                       (scripts/peers/nifti-bench.sh)
#        scripts/compare-peers.sh --python [N_SLICES]   the Python package: read_volume of a CT
#                                                       series into numpy against pydicom and
#                                                       SimpleITK (scripts/peers/python-bench.sh)
#        scripts/compare-peers.sh --labels [N_SLICES]   labels: convert --labels off against
#                                                       --labels auto on a generated CT with a
#                                                       10-segment SEG (scripts/peers/labels-bench.sh)
#        scripts/compare-peers.sh --slides [W H]        whole-slide images: all of a slide's
#                                                       outputs against libvips dzsave through
#                                                       OpenSlide 4 (scripts/peers/slide-bench.sh)
#
# Environment:
#   TEMPLATE   real single-frame DICOM every slice of the scan study is made from
#   RENDER_TEMPLATE  the same for the render study (default: a real CT head slice)
#              (default test-data/dicom2nifti/failing/gantrytilting/001/IM-0001-0001.dcm)
#   SERIES     number of series the slices are spread over (default 1)
#   BENCH_DIR  where the study is generated (default target/bench-data)
#   RUNS       timed warm runs per tool, after one untimed; the median is reported (default 3)
#   COLD=1     also one cold-cache run per tool (drops the page cache before each; root or
#              passwordless sudo needed, skipped with a message otherwise)
#   RENDER=1   also run the RENDER section after the scan one
#   RENDER_N   slices of the rendering study when RENDER=1 (default 300)
#   SLOW_SECONDS  rendering: a tool whose untimed first run takes longer than this is not
#              run again; that run is reported (default 20)
#
# It installs what is missing (dcm2niix, libgdcm-tools, GNU time via apt; pydicom in a venv
# at target/peers-venv; for rendering also dcmtk and imagemagick via apt, numpy and Pillow
# in the venv), builds dicomprep and its examples, generates the study once, checks
# that dicomprep's and pydicom's orders match the generator's ground truth, and prints a
# table of seconds, files/s, speed relative to dicomprep and peak RSS. The RENDER section
# checks dicomprep's manifest and every tool's file count, compares one slice's pixels
# across tools, and prints the same kind of table in slices/s plus the project's targets.
set -euo pipefail

SCAN=1
STORE=0
RENDER="${RENDER:-0}"
RENDER_N="${RENDER_N:-300}"
if [[ "${1:-}" == --nifti ]]; then
    shift
    exec "$(dirname "${BASH_SOURCE[0]}")/peers/nifti-bench.sh" "$@"
fi
if [[ "${1:-}" == --python ]]; then
    shift
    exec "$(dirname "${BASH_SOURCE[0]}")/peers/python-bench.sh" "$@"
fi
if [[ "${1:-}" == --slides ]]; then
    shift
    exec "$(dirname "${BASH_SOURCE[0]}")/peers/slide-bench.sh" "$@"
fi
if [[ "${1:-}" == --labels ]]; then
    shift
    exec "$(dirname "${BASH_SOURCE[0]}")/peers/labels-bench.sh" "$@"
fi
if [[ "${1:-}" == --render ]]; then
    SCAN=0 RENDER=1 RENDER_N="${2:-300}"
    set -- # no scan study: N below is unused
elif [[ "${1:-}" == --store ]]; then
    SCAN=0 STORE=1
    shift
fi
N="${1:-10000}"
SLOW_SECONDS="${SLOW_SECONDS:-20}"
TEMPLATE="${TEMPLATE:-test-data/dicom2nifti/failing/gantrytilting/001/IM-0001-0001.dcm}"
# Rendering needs real image content: the scan template's pixels are scrambled noise (a worst
# case for every encoder). 693_J2KI is a real 512x512 16-bit CT head slice, JPEG 2000 coded;
# the generator decodes it once and writes native slices.
RENDER_TEMPLATE="${RENDER_TEMPLATE:-test-data/pydicom/693_J2KI.dcm}"
SERIES="${SERIES:-1}"
BENCH_DIR="${BENCH_DIR:-target/bench-data}"
RUNS="${RUNS:-3}"
COLD="${COLD:-0}"
# Set by install_python_peers: 0 when pydicom cannot be had (offline), and its rows are skipped.
HAVE_PYDICOM=0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STUDY="$BENCH_DIR/ct$N"
TRUTH="$BENCH_DIR/ct$N.truth.json"
VENV="target/peers-venv"
PY="$VENV/bin/python"
DICOMPREP="target/release/dicomprep"
GEN_STUDY="target/release/examples/gen_study"
READ_FLOOR="target/release/examples/read_floor"
# The rendering study: one series, as the scan study generated once and reused.
RSTUDY="$BENCH_DIR/ct_head$RENDER_N"
# The tags gdcmscanner is asked for: SeriesInstanceUID, InstanceNumber, ImagePositionPatient.
GDCM_TAGS=(-t "0020,000e" -t "0020,0013" -t "0020,0032")

# Scratch space for outputs and timings, removed on exit whatever happens.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/compare-peers.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# Rendering outputs, one folder per tool (the last run's output stays for the checks).
RWORK="$WORK/render"

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
    if [[ "$RENDER" == 1 ]]; then
        command -v dcmj2pnm >/dev/null || missing+=(dcmtk)
        command -v mogrify >/dev/null || missing+=(imagemagick)
    fi
    if ((${#missing[@]})); then
        log "installing ${missing[*]} with apt"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# pydicom (and for rendering numpy and Pillow) in its own venv, so the system Python stays
# untouched. Only what is missing is installed.
install_python_peers() {
    local packages=(pydicom) missing=() package
    if [[ "$RENDER" == 1 ]]; then packages+=(numpy pillow); fi
    if [[ ! -x "$PY" ]]; then
        log "creating $VENV"
        if ! python3 -m venv "$VENV" || ! "$PY" -m pip install -q --upgrade pip; then
            log "no Python venv (python3-venv missing? offline?): the pydicom rows are skipped"
            HAVE_PYDICOM=0
            return
        fi
    fi
    for package in "${packages[@]}"; do
        # The import name of pillow is PIL.
        "$PY" -c "import ${package/pillow/PIL}" 2>/dev/null || missing+=("$package")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]} into $VENV"
        "$PY" -m pip install -q "${missing[@]}" ||
            log "could not install ${missing[*]} (offline?): the pydicom rows are skipped"
    fi
    if "$PY" -c "import pydicom" 2>/dev/null; then HAVE_PYDICOM=1; else HAVE_PYDICOM=0; fi
}

build() {
    log "building dicomprep and its examples (release)"
    cargo build --release --bin dicomprep --examples
    # Time private copies: another build in the same target/ (someone at work on the code)
    # would otherwise swap the binaries between runs.
    cp "$DICOMPREP" "$READ_FLOOR" "$WORK/"
    DICOMPREP="$WORK/dicomprep" READ_FLOOR="$WORK/read_floor"
}

print_versions() {
    echo "Versions:"
    echo "  $("$DICOMPREP" --version) ($(rustc --version))"
    if [[ "$HAVE_PYDICOM" == 1 ]]; then
        echo "  pydicom $("$PY" -c 'import pydicom; print(pydicom.__version__)') ($("$PY" --version))"
    else
        echo "  pydicom: not installed (its rows are skipped)"
    fi
    # dcm2niix prints its banner and exits non-zero for --version.
    echo "  $(dcm2niix --version 2>&1 | grep -m1 -i version || true)"
    echo "  $(gdcmscanner --version 2>&1 | head -n1 || true)"
    if [[ "$RENDER" == 1 ]]; then
        echo "  $("$PY" -c 'import numpy, PIL; print(f"numpy {numpy.__version__}, Pillow {PIL.__version__}")')"
        echo "  DCMTK $(dcmj2pnm --version 2>&1 | grep -m1 -o 'dcmj2pnm v[^ ]*' || true)"
        echo "  $(mogrify -version | head -n1 | sed 's/^Version: //')," \
            "$(identify -list resource | awk '/Thread/ {print $2}') threads by default"
    fi
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

# generate_study DIR COUNT SERIES [TEMPLATE]: generates COUNT slices in SERIES series into DIR (truth in
# DIR.truth.json) unless a complete study (COUNT files + truth) is already there.
generate_study() {
    local dir="$1" count="$2" series="$3"
    local truth="$dir.truth.json"
    if [[ -d "$dir" && -f "$truth" ]] && [[ "$(count_files "$dir")" -eq "$count" ]]; then
        log "reusing $dir ($count files)"
        return
    fi
    local template="${4:-$TEMPLATE}"
    [[ -f "$template" ]] || die "template not found: $template"
    mkdir -p "$BENCH_DIR"
    # A stale or partial study would mix with the new one: start clean.
    rm -rf "$dir" "$truth"

    # Every slice is the template (decompressed: at least 512x512x2 bytes) plus a few KiB of
    # changed header; 10% margin on top.
    local need_kb avail_kb slice_bytes
    slice_bytes=$(stat -c %s "$template")
    ((slice_bytes > 524288)) || slice_bytes=524288
    need_kb=$(( (slice_bytes + 4096) * count * 11 / 10 / 1024 ))
    avail_kb="$(df -Pk "$BENCH_DIR" | awk 'NR == 2 {print $4}')"
    if ((avail_kb < need_kb)); then
        die "not enough disk for $count slices in $BENCH_DIR: need ~$((need_kb / 1024)) MiB, have $((avail_kb / 1024)) MiB"
    fi

    log "generating $count slices in $series series into $dir (~$((need_kb / 1024)) MiB)"
    "$GEN_STUDY" --template "$template" --out "$dir" --slices "$count" --series "$series" \
        --layout flat --seed 1
}

# Reads every file of a study whole once, so that the warm runs all start from a fully
# cached folder.
warm_cache() {
    log "warming the page cache (reading $1 whole)"
    find "$1" -type f -print0 | xargs -0 cat >/dev/null
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
    "dicomprep index"
    "pydicom index (1 process)"
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
        "dicomprep index")
            # A new index each run (a refresh of an existing one would read nothing).
            out="$WORK/dicomprep-index.sqlite"
            CMD=("$DICOMPREP" index "$STUDY" -q --db "$out") ;;
        "pydicom index (1 process)")
            out="$WORK/pydicom-index.sqlite"
            CMD=("$PY" scripts/peers/pydicom_index.py "$STUDY" --db "$out") ;;
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
    if [[ -n "$out" ]]; then rm -f "$out" "$out-wal" "$out-shm" "$out-journal"; fi
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

# Jiffies (1/100 s) the CPUs spent busy or stolen by the hypervisor since boot: the fields
# after "cpu" in /proc/stat, less idle and iowait.
busy_jiffies() {
    local cpu
    read -r -a cpu </proc/stat
    echo $((cpu[1] + cpu[2] + cpu[3] + cpu[6] + cpu[7] + cpu[8]))
}

# time_once BUILDER LABEL: runs the tool once, output discarded; prints "seconds peak_rss_kb
# exit foreign_cpu_seconds". BUILDER (tool_command or render_command) sets CMD for LABEL.
# Wall time comes from bash's microsecond clock ($EPOCHREALTIME; GNU time's %e has only
# centiseconds); peak RSS from GNU time (%M: the largest single process, so for the pydicom
# pool it is the biggest worker or the parent, not their sum). Foreign CPU is the CPU time
# the machine spent during the run beyond the tool's own user + system time: other
# processes (a build), steal, kernel writeback; a few hundredths of a second is normal.
time_once() {
    local start end before after rc=0 CMD=()
    "$1" "$2"
    before="$(busy_jiffies)"
    start="$EPOCHREALTIME"
    /usr/bin/time -f '%M %U %S' -o "$WORK/rss" "${CMD[@]}" >/dev/null 2>"$WORK/stderr" || rc=$?
    end="$EPOCHREALTIME"
    after="$(busy_jiffies)"
    # The figures are the last line of the -o file (GNU time prepends a note on non-zero exit).
    tail -n1 "$WORK/rss" | awk -v s="$start" -v e="$end" -v rc="$rc" -v j="$((after - before))" '{
        foreign = j / 100 - $2 - $3
        printf "%.3f %s %s %.2f\n", e - s, $1, rc, (foreign > 0 ? foreign : 0) }'
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
        if [[ "$label" == pydicom* && "$HAVE_PYDICOM" != 1 ]]; then
            STATUS["$mode/$label"]=skipped SECONDS_OF["$mode/$label"]=0 RSS_KB["$mode/$label"]=0
            log "$mode: $label: skipped (no pydicom)"
            continue
        fi
        if [[ "$mode" == warm ]]; then
            # One untimed run first: even with the files cached, a tool's first run in a
            # while is slower (its binary/libraries, inode and dentry caches).
            time_once tool_command "$label" >/dev/null
        fi
        for ((i = 1; i <= runs; i++)); do
            if [[ "$mode" == cold ]]; then drop_caches; fi
            result="$(time_once tool_command "$label")"
            read -r secs rss rc _ <<<"$result"
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
    if [[ "$1" == pydicom* && "$HAVE_PYDICOM" != 1 ]]; then
        echo "$1: skipped (no pydicom)"
        return
    fi
    python3 - "$TRUTH" "$2" "$3" "$1" <<'EOF'
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

# check_indexes: the SQLite indexes of dicomprep and pydicom_index.py hold the same rows in
# the columns both write.
check_indexes() {
    if [[ "$HAVE_PYDICOM" != 1 ]]; then
        echo "pydicom index: skipped (no pydicom)"
        return
    fi
    python3 - "$WORK/dicomprep-index.sqlite" "$WORK/pydicom-index.sqlite" <<'EOF'
import sqlite3, sys

mine, theirs = sys.argv[1:3]
try:
    peer = sqlite3.connect(f"file:{theirs}?mode=ro", uri=True)
    columns = [row[1] for row in peer.execute("PRAGMA table_info(instances)")]
    query = f"SELECT {', '.join(columns)} FROM instances ORDER BY path"
    a = sqlite3.connect(f"file:{mine}?mode=ro", uri=True).execute(query).fetchall()
    b = peer.execute(query).fetchall()
except sqlite3.Error as exc:
    print(f"pydicom index: MISMATCH (unreadable index: {exc})")
    sys.exit(0)
differing = sorted({c for x, y in zip(a, b) for c, u, v in zip(columns, x, y) if u != v})
if len(a) != len(b) or differing:
    print(f"pydicom index: MISMATCH ({len(a)} vs {len(b)} rows; columns differing: {differing[:5]})")
else:
    print(f"pydicom index: OK (same {len(a)} rows in the {len(columns)} columns it writes)")
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
# RENDER section: DICOM -> 8-bit PNG / JPEG / thumbnails
# ---------------------------------------------------------------------------

# The rendering tools, in table order; the first one is the reference of the ratios.
RENDER_TOOLS=(
    "dicomprep video"
    "dicomprep video -j1"
    "dicomprep video + MP4"
    "ffmpeg PNG -> MP4"
    "dicomprep images"
    "dicomprep images -j1"
    "dcmj2pnm (xargs -P 2)"
    "pydicom+Pillow (2 processes)"
    "pydicom+Pillow (2 processes, PNG level 6)"
    "pydicom+Pillow (pydicom LUTs, defaults)"
    "mogrify (default threads)"
    "mogrify -limit thread 1"
)
# mogrify's input: dicomprep's HQ PNGs, copied once (untimed) by prepare_mogrify_input.
MOGRIFY_DIR="$RWORK/mogrify"
MOGRIFY_ARGS=(-resize "356x200>" -format jpg -quality 50)

# stash PATH...: moves PATHs into a fresh folder under $RWORK/trash instead of deleting them
# (everything goes on exit). Deleting thousands of files just before a timed run slows the
# files it creates: ext4 without a journal (as on some VMs) skips inodes freed in the last
# 60-360 s when allocating, one inode table lookup each, so every run would pay for the
# previous run's deletions (12% of dicomprep's time at 300 slices in a profile, more at 1000).
stash() {
    (($#)) || return 0
    mkdir -p "$RWORK/trash"
    mv -t "$(mktemp -d "$RWORK/trash/XXXXXX")" -- "$@"
}

# render_command LABEL: sets CMD to the argv of that rendering tool, after moving its
# previous output away (so nothing is reused: dicomprep also gets --overwrite) and flushing
# the previous run's writes to disk (so their writeback does not land in this run's time).
render_command() {
    local out="$RWORK/${1//[^a-zA-Z0-9]/_}"
    case "$1" in
        "dicomprep video")
            CMD=("$DICOMPREP" convert "$RSTUDY" --dest "$out" --as video -q --overwrite --no-mp4) ;;
        "dicomprep video -j1")
            CMD=("$DICOMPREP" convert "$RSTUDY" --dest "$out" --as video -q --overwrite --no-mp4 -j 1) ;;
        "dicomprep video + MP4")
            # DICOM all the way to the MP4 (plus HQ/LQ frames and thumbnail).
            CMD=("$DICOMPREP" convert "$RSTUDY" --dest "$out" --as video -q --overwrite) ;;
        "ffmpeg PNG -> MP4")
            # The ffmpeg CLI over the same HQ frames, already rendered (mogrify's input).
            CMD=(ffmpeg -v error -y -framerate 10 -i "$MOGRIFY_DIR/%05d.png" -c:v libx264 -pix_fmt yuv420p "$out/video.mp4") ;;
        "dicomprep images")
            CMD=("$DICOMPREP" convert "$RSTUDY" --dest "$out" --as images -q --overwrite) ;;
        "dicomprep images -j1")
            CMD=("$DICOMPREP" convert "$RSTUDY" --dest "$out" --as images -q --overwrite -j 1) ;;
        "dcmj2pnm (xargs -P 2)")
            # One dcmj2pnm process per file, two at a time (both cores); +on: 8-bit PNG,
            # +Wm: min-max window. The file list (bare names: the study is flat) is made
            # untimed in render_section.
            CMD=(xargs -0 -a "$RWORK/files.list" -P 2 -I{} dcmj2pnm +on +Wm "$RSTUDY/{}" "$out/{}.png") ;;
        "pydicom+Pillow (2 processes)")
            CMD=("$PY" scripts/peers/pydicom_render.py "$RSTUDY" "$out" --processes 2 --png-level 1) ;;
        "pydicom+Pillow (2 processes, PNG level 6)")
            # Pillow's default PNG compression: what a script that does not set it gets.
            CMD=("$PY" scripts/peers/pydicom_render.py "$RSTUDY" "$out" --processes 2 --png-level 6) ;;
        "pydicom+Pillow (pydicom LUTs, defaults)")
            # The script pydicom's documentation leads to: apply_modality_lut + apply_voi_lut,
            # Pillow's default PNG level (2 processes, as the others).
            CMD=("$PY" scripts/peers/pydicom_render.py "$RSTUDY" "$out" --processes 2 --png-level 6 --luts pydicom) ;;
        "mogrify (default threads)")
            out="$MOGRIFY_DIR"
            CMD=(mogrify "${MOGRIFY_ARGS[@]}" "$MOGRIFY_DIR"/*.png) ;;
        "mogrify -limit thread 1")
            out="$MOGRIFY_DIR"
            CMD=(mogrify -limit thread 1 "${MOGRIFY_ARGS[@]}" "$MOGRIFY_DIR"/*.png) ;;
        *) die "unknown rendering tool: $1" ;;
    esac
    if [[ "$out" == "$MOGRIFY_DIR" ]]; then
        # mogrify writes NAME.jpg beside NAME.png: move the last run's thumbnails only.
        local jpgs=()
        mapfile -t jpgs < <(find "$MOGRIFY_DIR" -name '*.jpg')
        stash "${jpgs[@]}"
    else
        if [[ -e "$out" ]]; then stash "$out"; fi
        mkdir -p "$out"
    fi
    sync
}

# The folder render_command writes LABEL's output to.
render_out() { echo "$RWORK/${1//[^a-zA-Z0-9]/_}"; }

# Renders the study once with dicomprep (untimed), copies its HQ PNGs into $MOGRIFY_DIR
# (flat) as mogrify's input, and checks from its size that the outputs of every timed run
# fit on disk (they are all kept until exit, see stash).
prepare_render_outputs() {
    local src="$RWORK/mogrify-source" copied used_kb need_kb avail_kb
    log "rendering mogrify's input PNGs with dicomprep (untimed)"
    "$DICOMPREP" convert "$RSTUDY" --dest "$src" --as video -q --overwrite
    mkdir -p "$MOGRIFY_DIR"
    # One volume, so the frame names (00000.png, ...) are unique.
    find "$src" -path '*/frames/hq/*.png' -exec cp -t "$MOGRIFY_DIR" {} +
    copied="$(find "$MOGRIFY_DIR" -name '*.png' | wc -l)"
    ((copied == RENDER_N)) || die "expected $RENDER_N PNGs for mogrify, got $copied"

    # No tool writes more than 10% over dicomprep's video output (HQ + LQ per slice).
    used_kb="$(du -sk "$src" | cut -f1)"
    stash "$src"
    need_kb=$((used_kb * 11 * (RUNS + 1) * ${#RENDER_TOOLS[@]} / 10))
    avail_kb="$(df -Pk "$WORK" | awk 'NR == 2 {print $4}')"
    if ((avail_kb < need_kb)); then
        die "not enough disk in $WORK for the rendering outputs: need ~$((need_kb / 1024)) MiB, have $((avail_kb / 1024)) MiB"
    fi
}

# measure_render: one untimed run per tool, then RUNS timed runs (median). A tool whose
# untimed run took more than SLOW_SECONDS is not run again: that run is reported instead.
declare -A RUNS_OF FOREIGN_PCT
measure_render() {
    local label i result
    for label in "${RENDER_TOOLS[@]}"; do
        STATUS["render/$label"]=ok RSS_KB["render/$label"]=0 FOREIGN_PCT["$label"]=0
        R_SECS=""
        result="$(time_once render_command "$label")"
        if awk -v lim="$SLOW_SECONDS" '{exit !($1 > lim)}' <<<"$result"; then
            RUNS_OF["$label"]="1 (slow)"
            record_render_run "$label" "$result"
        else
            RUNS_OF["$label"]="$RUNS"
            check_exit "$label" "$(cut -d' ' -f3 <<<"$result")"
            for ((i = 1; i <= RUNS; i++)); do
                record_render_run "$label" "$(time_once render_command "$label")"
            done
        fi
        SECONDS_OF["render/$label"]="$(printf '%s' "$R_SECS" | median)"
        log "render: $label: $(printf '%s' "$R_SECS" | tr '\n' ' ')s"
    done
}

# record_render_run LABEL RESULT: adds one time_once result to LABEL's figures: its seconds
# to R_SECS, the largest RSS and share of foreign CPU (percent of all cores) to the tables.
# The first 0.05 s of foreign CPU is not counted: /proc/stat and GNU time count in
# hundredths, which on a run of a few hundredths would look like a busy machine.
record_render_run() {
    local label="$1" secs rss rc foreign pct max_rss max_pct
    read -r secs rss rc foreign <<<"$2"
    check_exit "$label" "$rc"
    [[ "$rc" -eq 0 ]] || STATUS["render/$label"]="exit $rc"
    R_SECS+="$secs"$'\n'
    # (Labels hold spaces and parentheses: compared through plain variables, not in (( )).)
    max_rss="${RSS_KB[render/$label]}" max_pct="${FOREIGN_PCT[$label]}"
    if ((rss > max_rss)); then RSS_KB["render/$label"]="$rss"; fi
    pct="$(awk -v f="$foreign" -v s="$secs" -v c="$(nproc)" 'BEGIN {
        f = (f > 0.05 ? f - 0.05 : 0); printf "%.0f", (s > 0 ? 100 * f / (s * c) : 0) }')"
    if ((pct > max_pct)); then FOREIGN_PCT["$label"]="$pct"; fi
}

# count_out LABEL NAME_GLOB: how many files named like NAME_GLOB LABEL's last run wrote.
count_out() { find "$(render_out "$1")" -type f -name "$2" | wc -l; }

# expect_count NAME GOT WHAT: prints OK or MISMATCH for a file count against RENDER_N.
expect_count() {
    if (("$2" == RENDER_N)); then
        echo "$1: OK ($2 $3)"
    else
        echo "$1: MISMATCH ($2 $3, expected $RENDER_N)"
    fi
}

# check_manifest LABEL KIND: DEST/manifest.json must list RENDER_N frames (KIND video: in
# video items, with an LQ JPEG each; KIND images: one image item per slice), and every HQ,
# LQ and thumbnail key it names must exist.
check_manifest() {
    "$PY" - "$(render_out "$1")" "$2" "$RENDER_N" "$1" <<'EOF'
import json, os, sys

dest, kind, n, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
try:
    items = json.load(open(os.path.join(dest, "manifest.json")))["items"]
except (OSError, ValueError, KeyError) as exc:
    print(f"{name}: MISMATCH (no readable manifest: {exc})")
    sys.exit(0)
frames = [f for item in items for f in item["frames"]]
keys = [f["hq_key"] for f in frames] + [f["lq_key"] for f in frames if f.get("lq_key")]
keys += [item["thumbnail_key"] for item in items if item.get("thumbnail_key")]
missing = [k for k in keys if not os.path.isfile(os.path.join(dest, k))]
lq = sum(1 for f in frames if f.get("lq_key"))
thumbs = sum(1 for item in items if item.get("thumbnail_key"))
problems = []
if len(frames) != n:
    problems.append(f"{len(frames)} frames, expected {n}")
if {item["kind"] for item in items} != {"video" if kind == "video" else "image"}:
    problems.append("item kinds " + ",".join(sorted({item["kind"] for item in items})))
if kind == "video" and lq != n:
    problems.append(f"{lq} LQ frames, expected {n}")
if missing:
    problems.append(f"{len(missing)} listed files missing, e.g. {missing[0]}")
summary = f"manifest lists {len(frames)} frames in {len(items)} {kind.rstrip('s')} item(s): " \
          f"{len(frames)} PNG, {lq} LQ JPEG, {thumbs} thumbnail(s), all on disk"
print(f"{name}: " + (f"MISMATCH ({'; '.join(problems)})" if problems else f"OK ({summary})"))
EOF
}

# check_pixels: the first slice of dicomprep's video (its HQ PNG) against dcmj2pnm's and
# pydicom's PNG of the same file: identical, or how many pixels differ and by how much.
# dicomprep and pydicom_render.py use the header's window when there is one, dcmj2pnm +Wm
# always the min-max one: that case is reported as not comparable.
check_pixels() {
    "$PY" - "$RSTUDY" "$(render_out "dicomprep video")" "$(render_out "dcmj2pnm (xargs -P 2)")" \
        "$(render_out "pydicom+Pillow (2 processes)")" \
        "$(render_out "pydicom+Pillow (pydicom LUTs, defaults)")" <<'EOF'
import json, os, sys
import numpy as np
import pydicom
from PIL import Image

study, dest, dcmtk, pyd, pyd_luts = sys.argv[1:6]
try:
    frame = json.load(open(os.path.join(dest, "manifest.json")))["items"][0]["frames"][0]
    ours = np.asarray(Image.open(os.path.join(dest, frame["hq_key"])), dtype=np.int16)
except (OSError, ValueError, KeyError, IndexError) as exc:
    print(f"pixels: cannot read dicomprep's first frame: {exc}")
    sys.exit(0)
header = pydicom.dcmread(os.path.join(study, frame["path"]), stop_before_pixels=True)
windowed = "WindowCenter" in header and "WindowWidth" in header
flat = frame["path"].replace("/", "_") + ".png"
for name, path in (("dcmj2pnm +Wm", os.path.join(dcmtk, frame["path"] + ".png")),
                   ("pydicom+Pillow", os.path.join(pyd, "hq", flat)),
                   ("pydicom+Pillow, pydicom LUTs", os.path.join(pyd_luts, "hq", flat))):
    try:
        theirs = np.asarray(Image.open(path), dtype=np.int16)
    except OSError as exc:
        print(f"pixels, slice 0 vs {name}: MISMATCH (cannot read: {exc})")
        continue
    if theirs.shape != ours.shape:
        print(f"pixels, slice 0 vs {name}: MISMATCH (shape {theirs.shape} vs {ours.shape})")
        continue
    diff = np.abs(theirs - ours)
    n = int((diff > 0).sum())
    note = ""
    if windowed and name.startswith("dcmj2pnm"):
        note = (f" (not comparable: dicomprep uses the header window {header.WindowCenter}/"
                f"{header.WindowWidth}, +Wm the min-max one)")
    print(f"pixels, slice 0 vs {name}: " + ("OK (identical)" if n == 0 else
          f"{n} of {diff.size} pixels differ, by at most {int(diff.max())}") + note)
EOF
}

check_render() {
    echo
    echo "Correctness (N=$RENDER_N slices; the last run of each tool):"
    check_manifest "dicomprep video" video
    check_manifest "dicomprep video -j1" video
    check_manifest "dicomprep video + MP4" video
    check_manifest "dicomprep images" images
    check_manifest "dicomprep images -j1" images
    expect_count "dcmj2pnm (xargs -P 2)" "$(count_out "dcmj2pnm (xargs -P 2)" '*.png')" PNG
    local pyd
    pyd="$(render_out "pydicom+Pillow (2 processes)")"
    expect_count "pydicom+Pillow, PNG" "$(find "$pyd/hq" -name '*.png' | wc -l)" "HQ PNG"
    expect_count "pydicom+Pillow, JPEG" "$(find "$pyd/lq" -name '*.jpg' | wc -l)" "LQ JPEG"
    expect_count "pydicom+Pillow, thumbnails" "$(find "$pyd/thumbnails" -name '*.jpg' | wc -l)" "thumbnail JPEG"
    pyd="$(render_out "pydicom+Pillow (pydicom LUTs, defaults)")"
    expect_count "pydicom LUTs, PNG" "$(find "$pyd/hq" -name '*.png' | wc -l)" "HQ PNG"
    expect_count "mogrify (last: -limit thread 1)" "$(find "$MOGRIFY_DIR" -name '*.jpg' | wc -l)" "JPEG thumbnails"
    check_pixels
}

# ratio_text ME THEM: "dicomprep is 3.1x faster" (THEM took longer) or "... slower".
ratio_text() {
    awk -v me="$1" -v them="$2" 'BEGIN {
        if (me <= 0 || them <= 0) print "n/a"
        else if (them >= me) printf "dicomprep is %.1fx faster", them / me
        else printf "dicomprep is %.1fx slower", me / them }'
}

# rate_of LABEL: slices (or images) per second of a rendering tool.
rate_of() { awk -v n="$RENDER_N" -v s="${SECONDS_OF[render/$1]}" 'BEGIN {printf "%.0f", (s > 0 ? n / s : 0)}'; }

print_render_table() {
    local label secs ratio busy ref="${SECONDS_OF[render/dicomprep video]}"
    echo
    echo "Rendering, warm cache, N=$RENDER_N slices (512x512 16-bit CT), median of $RUNS runs after" \
        "1 untimed (a tool slower than ${SLOW_SECONDS} s: its 1 run):"
    printf '%-30s | %8s | %8s | %-37s | %11s | %s\n' tool seconds slices/s "vs dicomprep video" "peak RSS MB" runs
    printf '%s\n' "-------------------------------+----------+----------+---------------------------------------+-------------+-----------"
    for label in "${RENDER_TOOLS[@]}"; do
        secs="${SECONDS_OF[render/$label]}"
        if [[ "$label" == "dicomprep video" ]]; then ratio="(reference)"; else ratio="$(ratio_text "$ref" "$secs")"; fi
        [[ "${STATUS[render/$label]}" == ok ]] || ratio+=" [${STATUS[render/$label]}]"
        busy="${FOREIGN_PCT[$label]}"
        if ((busy > 5)); then ratio+=" [busy $busy%]"; fi
        printf '%-30s | %8.3f | %8s | %-37s | %11.1f | %s\n' "$label" "$secs" "$(rate_of "$label")" "$ratio" \
            "$(awk -v k="${RSS_KB[render/$label]}" 'BEGIN {print k / 1024}')" "${RUNS_OF[$label]}"
    done
    echo "(mogrify rows: images/s, PNG in, thumbnail JPEG out. [busy N%]: in its worst run, N% of"
    echo " the machine's CPU went to something else (another process, steal, writeback): skewed)"
}

# times_ratio FAST SLOW: SLOW / FAST, one decimal (how many times faster FAST is).
times_ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (a > 0 ? b / a : 0)}'; }

# target_line WHAT VALUE TARGET UNIT: "WHAT: VALUE UNIT, target >= TARGET UNIT: MET|NOT MET".
target_line() {
    awk -v what="$1" -v v="$2" -v t="$3" -v unit="$4" 'BEGIN {
        printf "  %s: %s%s, target >= %s%s: %s\n", what, v, unit, t, unit, (v + 0 >= t + 0 ? "MET" : "NOT MET") }'
}

print_render_targets() {
    local video pyd images mog images1 mog1
    video="${SECONDS_OF[render/dicomprep video]}"
    pyd="${SECONDS_OF[render/pydicom+Pillow (2 processes)]}"
    images="${SECONDS_OF[render/dicomprep images]}"
    images1="${SECONDS_OF[render/dicomprep images -j1]}"
    mog="${SECONDS_OF[render/mogrify (default threads)]}"
    mog1="${SECONDS_OF[render/mogrify -limit thread 1]}"
    echo
    echo "Targets:"
    target_line "dicomprep video (HQ PNG + LQ JPEG + thumbnail)" "$(rate_of "dicomprep video")" 1000 " slices/s"
    # The issue measured pydicom+Pillow at ~110 slices/s: the documented-API script's speed
    # here, not that of our tuned one, which is checked against the same 9x as well.
    target_line "dicomprep video vs pydicom+Pillow, pydicom LUTs and Pillow defaults" \
        "$(times_ratio "$video" "${SECONDS_OF[render/pydicom+Pillow (pydicom LUTs, defaults)]}")" 9 "x"
    target_line "dicomprep video vs our tuned pydicom+Pillow (numpy LUTs, PNG level 1)" \
        "$(times_ratio "$video" "$pyd")" 9 "x"
    echo "    (vs the tuned script at Pillow's default PNG level 6:" \
        "$(times_ratio "$video" "${SECONDS_OF[render/pydicom+Pillow (2 processes, PNG level 6)]}")x)"
    target_line "thumbnails: dicomprep images vs mogrify (default threads)" "$(times_ratio "$images" "$mog")" 10 "x"
    target_line "dicomprep DICOM -> MP4 (+ frames, thumbnail) vs ffmpeg PNG -> MP4" \
        "$(times_ratio "${SECONDS_OF[render/dicomprep video + MP4]}" "${SECONDS_OF[render/ffmpeg PNG -> MP4]}")" 1 "x"
    target_line "whole video-mode convert (MP4 + HQ + LQ + thumbnail)" "$(rate_of "dicomprep video + MP4")" 250 " slices/s"
    echo "    (same on one core: dicomprep images -j1 vs mogrify -limit thread 1: $(times_ratio "$images1" "$mog1")x)"
    echo "    dicomprep's images mode reads the DICOM, windows it, writes the PNG and the thumbnail:"
    echo "    a superset of mogrify's work (decode PNG, resize, write JPEG), so its thumbnail-only"
    echo "    throughput is higher than this ratio shows."
    local label busy skewed=()
    for label in "${RENDER_TOOLS[@]}"; do
        busy="${FOREIGN_PCT[$label]}"
        if ((busy > 5)); then skewed+=("$label"); fi
    done
    if ((${#skewed[@]})); then
        echo "  WARNING: other load skewed ${#skewed[@]} row(s) (marked [busy N%]): re-run on an idle machine"
    fi
}

# The whole RENDER section: study, warm-up, timings, checks, table, targets.
render_section() {
    echo
    echo "RENDER: $RSTUDY ($RENDER_N files, 1 series, $(du -sh "$RSTUDY" | cut -f1)), outputs in $WORK" \
        "($(df -T "$WORK" | awk 'NR == 2 {print $2}'))"
    sync
    check_idle
    warm_cache "$RSTUDY"
    mkdir -p "$RWORK"
    find "$RSTUDY" -type f -printf '%P\0' >"$RWORK/files.list"
    prepare_render_outputs

    measure_render
    check_render
    print_render_table
    print_render_targets
    echo
    echo "Notes: dicomprep video = per slice HQ PNG + LQ JPEG (q75), one thumbnail per volume;" \
        "images = per slice PNG + thumbnail JPEG (q50). pydicom+Pillow does per slice PNG" \
        "(Pillow compress_level=1, or Pillow's default 6 in its own rows) + JPEG q75 + thumbnail" \
        "(fit 356x200, JPEG q50): a thumbnail per slice more than dicomprep's video mode; its" \
        "values go to 8 bits through our numpy code, or through pydicom's apply_modality_lut and" \
        "apply_voi_lut in the 'pydicom LUTs' row (same pixels). dcmj2pnm writes only the PNG (libpng's default" \
        "zlib level), one process per file, 2 at a time (xargs -P 2). -j1 sets dicomprep's worker" \
        "threads only (header reads keep their default I/O threads). Peak RSS is that of the largest" \
        "single process."
}

# ---------------------------------------------------------------------------

# The scan section: study, warm-up, timings, order checks, tables.
scan_section() {
    echo "Study: $STUDY ($N files, $SERIES series, $(du -sh "$STUDY" | cut -f1))"

    # A freshly generated study is still being written back to disk: let that finish first,
    # or it competes with the timed runs.
    sync
    check_idle

    # Read every file whole once, so the warm runs all start from a fully cached folder:
    # reading only the headers is not enough, as dcm2niix reads whole files and the others
    # read different amounts past the header (readahead).
    warm_cache "$STUDY"

    measure warm

    echo
    echo "Correctness (against $TRUTH):"
    check_order "dicomprep" "$WORK/dicomprep.json" dicomprep
    check_order "dicomprep (1 thread)" "$WORK/dicomprep-t1.json" dicomprep
    check_order "pydicom (1 process)" "$WORK/pydicom.json" pydicom
    check_order "pydicom (2 processes)" "$WORK/pydicom-p2.json" pydicom
    check_indexes
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

# ---------------------------------------------------------------------------
# The store section: the same header scan from the moto S3 server on loopback and from the
# local disk (page cache warm), with the requests dicomprep made per file.

# Starts moto on a free port (installed by scripts/setup.sh --test); sets MOTO_PORT.
start_moto() {
    scripts/setup.sh --test >&2
    MOTO_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    .emulators/venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
    MOTO_PID=$!
    trap 'kill "$MOTO_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null && return
        sleep 0.1
    done
    die "moto did not start (see $WORK/moto.log)"
}

# Uploads the study to s3://bench/study on moto (boto3 comes with moto).
upload_study() {
    log "uploading $STUDY to the S3 server (moto keeps it in memory)"
    .emulators/venv/bin/python - "$STUDY" "$MOTO_PORT" <<'PY'
import concurrent.futures, os, sys
import boto3
root, port = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket="bench")
files = sorted(os.path.join(d, f) for d, _, names in os.walk(root) for f in names)
def put(path):
    s3.upload_file(path, "bench", "study/" + os.path.relpath(path, root))
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    list(pool.map(put, files))
PY
}

store_section() {
    echo "Study: $STUDY ($N files, $(du -sh "$STUDY" | cut -f1)), scanned with 'dicomprep scan'"
    start_moto
    upload_study
    warm_cache "$STUDY"
    export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT" AWS_ALLOW_HTTP=true \
        AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
    local label src i secs all summary
    printf '\n%-28s %10s %10s  %s\n' "source" "seconds" "files/s" "requests"
    for label in "local disk" "S3 (moto, loopback)"; do
        src="$STUDY"
        [[ "$label" == S3* ]] && src="s3://bench/study"
        "$DICOMPREP" scan "$src" -o /dev/null 2>/dev/null || true # untimed first run
        all=""
        for ((i = 1; i <= RUNS; i++)); do
            local start="$EPOCHREALTIME"
            "$DICOMPREP" scan "$src" -o /dev/null 2>"$WORK/stderr" || check_exit "$label" "$?"
            all+="$(awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN {printf "%.3f", e - s}')"$'\n'
        done
        secs="$(printf '%s' "$all" | median)"
        summary="$(tail -n1 "$WORK/stderr" | grep -o '[0-9]* requests (.*' || true)"
        printf '%-28s %10s %10.0f  %s\n' "$label" "$secs" "$(awk -v n="$N" -v s="$secs" 'BEGIN {print n / s}')" "$summary"
    done
    echo
    echo "Notes: median of $RUNS runs after an untimed one; local files warm in the page cache;" \
        "moto is a single Python process, so the S3 figure is bound by the server, not by dicomprep" \
        "(dicomprep's default of 64 requests in flight)."
}

main() {
    [[ "$N" =~ ^[0-9]+$ && "$N" -gt 0 ]] || die "N_SLICES must be a positive integer, got '$N'"
    [[ "$RENDER_N" =~ ^[0-9]+$ && "$RENDER_N" -gt 0 ]] || die "the rendering N_SLICES must be a positive integer, got '$RENDER_N'"
    [[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -gt 0 ]] || die "RUNS must be a positive integer, got '$RUNS'"
    install_native_tools
    install_python_peers
    build
    if [[ "$SCAN" == 1 || "$STORE" == 1 ]]; then generate_study "$STUDY" "$N" "$SERIES"; fi
    if [[ "$RENDER" == 1 ]]; then generate_study "$RSTUDY" "$RENDER_N" 1 "$RENDER_TEMPLATE"; fi

    echo
    print_machine
    print_versions
    if [[ "$SCAN" == 1 ]]; then scan_section; fi
    if [[ "$STORE" == 1 ]]; then store_section; fi
    if [[ "$RENDER" == 1 ]]; then render_section; fi
}

main "$@"
