#!/usr/bin/env bash
# Labels benchmark (`scripts/compare-peers.sh --labels`): what placing a SEG adds to a
# conversion. A generated CT of N slices (the project's generator, from a real 512 x 512 CT
# slice) gets a 10-segment binary SEG made with highdicom (spheres of different sizes, some
# overlapping, over most of the slices); the same folder is converted with `--labels off` and
# with `--labels auto` (Darwin and Encord files, the label sheet), warm cache, median of RUNS.
#
# Usage: scripts/peers/labels-bench.sh [N_SLICES]   (default 500)
# Environment:
#   TEMPLATE   the template slice (default test-data/labels/dcmqi/ct-3slice/01.dcm)
#   RUNS       timed runs per setting, interleaved (default 7); medians are printed
#   APART=1    spheres that do not overlap (10 along the slices): no outlines to trace
#   EXTRA      more convert flags for both settings (e.g. "--no-mp4" or "--outputs nifti")
#   OUT_ROOT   where the outputs are written (default /dev/shm when there is one: on this
#              VM, ext4 inode allocation right after deleting the previous run's files varies
#              by hundreds of milliseconds and would drown what is measured)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
N="${1:-500}"
TEMPLATE="${TEMPLATE:-test-data/labels/dcmqi/ct-3slice/01.dcm}"
RUNS="${RUNS:-7}"
EXTRA="${EXTRA:-}"
PY="$ROOT/.emulators/venv/bin/python"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/labels-bench.XXXXXX")"
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$WORK"' EXIT

log() { printf '==> %s\n' "$*" >&2; }
if ! "$PY" -c 'import highdicom' 2>/dev/null; then
    log "installing highdicom into .emulators/venv (scripts/setup.sh --test does it too)"
    python3 -m venv .emulators/venv
    "$PY" -m pip install -q "highdicom==0.28.*" "pydicom==3.*"
fi
log "building dicomprep (release) and the study generator"
cargo build --release -q --bin dicomprep --example gen_study
log "generating $N slices and their 10-segment SEG (highdicom)"
target/release/examples/gen_study --template "$TEMPLATE" --out "$WORK/ct" --slices "$N" \
    --series 1 --layout flat --seed 7 >/dev/null
APART="${APART:-0}" "$PY" - "$WORK/ct" <<'EOF'
import os
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom

folder = Path(sys.argv[1])
images = sorted(
    (pydicom.dcmread(p) for p in folder.glob("*.dcm")),
    key=lambda d: float(d.ImagePositionPatient[2]),
)
for image in images:  # the template's is empty, which highdicom refuses
    image.SpecificCharacterSet = "ISO_IR 100"
n, rows, cols = len(images), images[0].Rows, images[0].Columns
z, y, x = np.ogrid[0:n, 0:rows, 0:cols]
pixels = np.zeros((n, rows, cols, 10), bool)
rng = np.random.default_rng(7)
apart = os.environ.get("APART") == "1"
for s in range(10):
    centre = (rng.uniform(0.2, 0.8) * n, rng.uniform(0.3, 0.7) * rows, rng.uniform(0.3, 0.7) * cols)
    radius = rng.uniform(0.15, 0.35)
    if apart:  # ten spheres one after the other along the slices
        centre, radius = ((s + 0.5) * n / 10, rows / 2, cols / 2), 0.045
    pixels[..., s] = (((z - centre[0]) / n) ** 2 + ((y - centre[1]) / rows) ** 2 + ((x - centre[2]) / cols) ** 2) <= radius**2
category = hd.sr.CodedConcept("91723000", "SCT", "Anatomical Structure")
organ = hd.sr.CodedConcept("10200004", "SCT", "Liver")
segments = [
    hd.seg.SegmentDescription(
        segment_number=s + 1, segment_label=f"Region {s + 1}",
        segmented_property_category=category, segmented_property_type=organ,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    for s in range(10)
]
seg = hd.seg.Segmentation(
    source_images=images, pixel_array=pixels, segmentation_type="BINARY",
    segment_descriptions=segments, series_instance_uid=hd.UID(), series_number=99,
    sop_instance_uid=hd.UID(), instance_number=1, manufacturer="bench",
    manufacturer_model_name="labels-bench", software_versions="1", device_serial_number="1",
)
seg.save_as(folder / "seg.dcm")
print(f"SEG: {int(pixels.any(axis=(1, 2)).sum())} segment frames", file=sys.stderr)
EOF

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# run LABELS: prints "wall_seconds cpu_seconds" of one conversion.
OUT_ROOT="${OUT_ROOT:-$([[ -w /dev/shm ]] && mktemp -d /dev/shm/labels-bench.XXXXXX || echo "$WORK")}"
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$WORK" "$OUT_ROOT"' EXIT
run() {
    local labels="$1" out="$OUT_ROOT/out-$1"
    rm -rf "$out"
    # shellcheck disable=SC2086
    /usr/bin/time -f '%e %U %S' -o "$WORK/time" \
        target/release/dicomprep convert "$WORK/ct" --dest "$out" --labels "$labels" -q --no-html $EXTRA
    awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$WORK/time"
}
run off >/dev/null # warms the cache
# Interleaved (off, auto, off, auto...), so that a slow spell of the machine hits both.
declare -A wall cpu
for _ in $(seq "$RUNS"); do
    for labels in off auto; do
        read -r w c < <(run "$labels")
        wall[$labels]+="$w"$'\n'
        cpu[$labels]+="$c"$'\n'
    done
done
frames="$("$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); print(sum(l['frames'] for l in r['labels']))" "$OUT_ROOT/out-auto/report.json")"
printf '\n%-28s %12s %12s\n' "convert $N slices" "wall (s)" "CPU (s)"
for labels in off auto; do
    printf '%-28s %12s %12s\n' "--labels $labels" "$(printf '%s' "${wall[$labels]}" | median)" \
        "$(printf '%s' "${cpu[$labels]}" | median)"
done
w_off="$(printf '%s' "${wall[off]}" | median)" w_auto="$(printf '%s' "${wall[auto]}" | median)"
awk -v a="$w_auto" -v o="$w_off" -v f="$frames" \
    'BEGIN {printf "labels add %.1f%% wall time (goal: <= 10%%); %d labelled item frames\n", (a - o) / o * 100, f}'
