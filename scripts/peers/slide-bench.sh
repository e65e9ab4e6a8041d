#!/usr/bin/env bash
# Whole-slide rows of the side-by-side benchmark (`scripts/compare-peers.sh --slides`): all of a
# slide's outputs from `dicomprep convert` (pyramid, Deep Zoom tiles, pictures) against libvips
# `dzsave` alone (Debian's vips reading the DICOM through OpenSlide 4: PyPI openslide-bin's
# library), on a generated slide of real microscopy pixels (scripts/slides/make_slide.py:
# scikit-image's IHC picture tiled up), same machine, same run. Prints the median wall time of
# RUNS runs, the speed-up and peak RSS. Every run writes into a new folder (creating files
# right after deleting as many costs ext4 several times the CPU).
#
# Usage: scripts/peers/slide-bench.sh [WIDTH HEIGHT]   (default 20000 15000: 7 levels, 256² JPEG)
# Environment:
#   RUNS   timed runs per tool, after one untimed (default 3)
#   PY     the Python with the slide scripts' packages (default .emulators/venv/bin/python,
#          which `scripts/setup.sh --test` makes)
# The pyramid alone: `convert --slide-deep-zoom no --slide-max-size 512` (the pyramid and
# small pictures) against Orthanc's OrthancWSIDicomToTiff (Debian's orthanc-wsi, which copies
# the tiles), timed after the slide is uploaded to an Orthanc this script starts on loopback.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WIDTH="${1:-20000}"
HEIGHT="${2:-15000}"
RUNS="${RUNS:-3}"
PY="${PY:-.emulators/venv/bin/python}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/slide-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

log() { printf '==> %s\n' "$*" >&2; }
as_root() { if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }

command -v vips >/dev/null || as_root apt-get install -y -qq libvips-tools >/dev/null
command -v OrthancWSIDicomToTiff >/dev/null || as_root apt-get install -y -qq orthanc orthanc-wsi >/dev/null
command -v curl >/dev/null || as_root apt-get install -y -qq curl >/dev/null
[[ -x /usr/bin/time ]] || as_root apt-get install -y -qq time >/dev/null
[[ -x "$PY" ]] || { echo "no $PY: run scripts/setup.sh --test" >&2; exit 1; }
log "building dicomprep (release)"
cargo build --release -q --bin dicomprep
DICOMPREP="$ROOT/target/release/dicomprep"

# libvips 8.14's OpenSlide module calls 13 functions OpenSlide 4 still has: OpenSlide 4's
# library under the old soname is enough for Debian's vips to read DICOM slides.
lib="$("$PY" -c 'import openslide_bin, pathlib; print(next(pathlib.Path(openslide_bin.__file__).parent.glob("libopenslide.so.1")))')"
mkdir -p "$WORK/openslide4"
ln -sf "$lib" "$WORK/openslide4/libopenslide.so.0"

log "generating a ${WIDTH}x${HEIGHT} slide (7 levels, 256x256 JPEG tiles)"
"$PY" scripts/slides/make_slide.py "$WORK/slide" --width "$WIDTH" --height "$HEIGHT" \
    --levels 7 --tile 256 --codec jpeg >/dev/null

# run TOOL N: one run into a new folder; prints "seconds peak_kb".
run() {
    local tool="$1" out="$WORK/out-$1-$2" start end
    mkdir -p "$out"
    start="$EPOCHREALTIME"
    case "$tool" in
        dicomprep) /usr/bin/time -f '%M' -o "$out.rss" "$DICOMPREP" convert "$WORK/slide" \
            --dest "$out" -q --no-html ;;
        pyramid) /usr/bin/time -f '%M' -o "$out.rss" "$DICOMPREP" convert "$WORK/slide" \
            --dest "$out" -q --no-html --slide-deep-zoom no --slide-max-size 512 ;;
        orthanc) /usr/bin/time -f '%M' -o "$out.rss" OrthancWSIDicomToTiff \
            --orthanc="http://127.0.0.1:$PORT/" "$SERIES" "$out/slide.tif" >/dev/null 2>&1 ;;
        vips) LD_LIBRARY_PATH="$WORK/openslide4" /usr/bin/time -f '%M' -o "$out.rss" \
            vips dzsave "$WORK/slide/level-0.dcm" "$out/slide" --tile-size 254 --overlap 1 \
            --suffix '.jpg[Q=90]' ;;
    esac
    end="$EPOCHREALTIME"
    echo "$(echo "$end - $start" | bc -l) $(cat "$out.rss")"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

log "starting Orthanc on loopback and uploading the slide"
PORT=$((20000 + RANDOM % 20000))
mkdir -p "$WORK/orthanc"
cat > "$WORK/orthanc.json" <<JSON
{"HttpPort": $PORT, "StorageDirectory": "$WORK/orthanc", "IndexDirectory": "$WORK/orthanc",
 "DicomServerEnabled": false, "RemoteAccessAllowed": false}
JSON
/usr/sbin/Orthanc "$WORK/orthanc.json" >"$WORK/orthanc.log" 2>&1 &
ORTHANC=$!
trap 'kill $ORTHANC 2>/dev/null; wait $ORTHANC 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/system" >/dev/null && break; sleep 0.1; done
SERIES=""
for file in "$WORK"/slide/level-*.dcm; do
    SERIES="$(curl -sf -H 'Expect:' -X POST --data-binary @"$file" \
        "http://127.0.0.1:$PORT/instances" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["ParentSeries"])')"
done

declare -A seconds peak
for tool in dicomprep vips pyramid orthanc; do
    run "$tool" warmup >/dev/null
    results="$(for i in $(seq "$RUNS"); do run "$tool" "$i"; done)"
    seconds[$tool]="$(echo "$results" | awk '{print $1}' | median)"
    peak[$tool]="$(echo "$results" | awk '{print $2}' | sort -n | tail -1)"
done
printf '\n%-44s %10s %10s %12s\n' "${WIDTH}x${HEIGHT} slide, $RUNS runs" seconds speed-up "peak RSS"
printf '%-44s %10.2f %10s %9d MB\n' "dicomprep convert (pyramid, Deep Zoom, pictures)" \
    "${seconds[dicomprep]}" "1.0x" "$((peak[dicomprep] / 1024))"
printf '%-44s %10.2f %9.1fx %9d MB\n' "vips dzsave (Deep Zoom only)" "${seconds[vips]}" \
    "$(echo "${seconds[vips]} / ${seconds[dicomprep]}" | bc -l)" "$((peak[vips] / 1024))"
printf '%-44s %10.2f %10s %9d MB\n' "dicomprep convert --slide-deep-zoom no" \
    "${seconds[pyramid]}" "1.0x" "$((peak[pyramid] / 1024))"
printf '%-44s %10.2f %9.1fx %9d MB\n' "OrthancWSIDicomToTiff (pyramid only)" "${seconds[orthanc]}" \
    "$(echo "${seconds[orthanc]} / ${seconds[pyramid]}" | bc -l)" "$((peak[orthanc] / 1024))"
