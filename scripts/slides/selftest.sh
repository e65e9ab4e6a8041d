#!/usr/bin/env bash
# Self-test of the slide scripts: makes small slides of every kind with
# make_slide.py, converts them with ref_tiff.py (and libvips dzsave when
# `vips` and openslide-bin are there), and checks them with oracle.py.
# Usage: scripts/slides/selftest.sh [WORKDIR]   (PY=python with the packages)
set -u
here=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-python3}
work=${1:-$(mktemp -d)}
mkdir -p "$work"
pass=0 fail=0

check() { # name, command...
  local name=$1; shift
  if "$@" > "$work/$name.json" 2> "$work/$name.err"; then
    pass=$((pass + 1)); echo "ok   $name"
  else
    fail=$((fail + 1)); echo "FAIL $name (see $work/$name.json, .err)"
  fi
}

levels_are() { # dir, expected level count
  "$PY" "$here/oracle.py" dicom-info "$1" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
n = d["openslide"].get("level_count")
w = len(d.get("wsidicom", {}).get("levels", []))
print(json.dumps(d))
sys.exit(0 if n == int(sys.argv[1]) == w else 1)' "$2"
}

mk() { "$PY" "$here/make_slide.py" --force "$@" > /dev/null; }

mk "$work/full" --width 2100 --height 1500 --levels 4 --label --overview --thumbnail --seed 3
mk "$work/sparse" --width 2001 --height 1403 --levels 3 --organization sparse --drop-tiles 5 --shuffle --concatenate 3 --seed 4
mk "$work/j2k" --width 1500 --height 1001 --levels 3 --codec jpeg2000 --tile 240x200 --seed 5
mk "$work/j2k-lossy" --width 1200 --height 900 --levels 2 --codec jpeg2000 --j2k lossy --seed 6
mk "$work/native" --width 1000 --height 700 --levels 2 --codec none --tile 100x60 --seed 7
mk "$work/rgb-jpeg" --width 1000 --height 700 --levels 2 --jpeg-color rgb --seed 8

check full-levels levels_are "$work/full" 4
check sparse-levels levels_are "$work/sparse" 3
check j2k-levels levels_are "$work/j2k" 3
check j2k-lossy-levels levels_are "$work/j2k-lossy" 2
check native-levels levels_are "$work/native" 2

for s in full sparse rgb-jpeg; do
  "$PY" "$here/ref_tiff.py" "$work/$s" "$work/$s-copy.tif" --mode copy > /dev/null
  check "$s-copy-exact" "$PY" "$here/oracle.py" compare-regions "$work/$s" "$work/$s-copy.tif" --regions 12 --size 400
done
for s in full j2k j2k-lossy native sparse; do
  # JPEG Q90 4:2:0 of this texture from a lossless source gives ~39-41 dB: Q95 clears 40
  "$PY" "$here/ref_tiff.py" "$work/$s" "$work/$s-jpeg.tif" --compression jpeg --quality 95 > /dev/null
  check "$s-reencoded-40dB" "$PY" "$here/oracle.py" compare-regions "$work/$s" "$work/$s-jpeg.tif" --regions 12 --size 400 --min-psnr 40
  "$PY" "$here/ref_tiff.py" "$work/$s" "$work/$s-deflate.tif" --compression deflate > /dev/null
  check "$s-deflate-exact" "$PY" "$here/oracle.py" compare-regions "$work/$s" "$work/$s-deflate.tif" --regions 12 --size 400
done
check full-tiff-info "$PY" "$here/oracle.py" tiff-info "$work/full-copy.tif"

# a wrong TIFF must fail: the sparse slide through libvips (missing tiles black, other levels)
if command -v vips > /dev/null; then
  lib=$("$PY" -c 'import openslide_bin, pathlib; print(next(pathlib.Path(openslide_bin.__file__).parent.glob("libopenslide.so.1")))' 2>/dev/null)
  if [ -n "$lib" ]; then
    mkdir -p "$work/os4" && ln -sf "$lib" "$work/os4/libopenslide.so.0"
    for s in full; do
      rm -rf "$work/$s-dz"; mkdir -p "$work/$s-dz"
      first=$(ls "$work/$s"/level-0*.dcm | head -n 1)
      LD_LIBRARY_PATH="$work/os4" vips dzsave "$first" "$work/$s-dz/slide" \
        --tile-size 254 --overlap 1 --suffix '.jpg[Q=90]'
      check "$s-dzi" "$PY" "$here/oracle.py" dzi-check "$work/$s-dz/slide.dzi" "$work/$s"
    done
    # libvips fills a sparse slide's missing tiles with white where a whole DZ tile is
    # missing and black where part of it is: the oracle must reject that
    rm -rf "$work/sparse-dz"; mkdir -p "$work/sparse-dz"
    LD_LIBRARY_PATH="$work/os4" vips dzsave "$(ls "$work"/sparse/level-0*.dcm | head -n 1)" \
      "$work/sparse-dz/slide" --tile-size 254 --overlap 1 --suffix '.jpg[Q=90]'
    check sparse-dzi-white-must-fail bash -c "! '$PY' '$here/oracle.py' dzi-check '$work/sparse-dz/slide.dzi' '$work/sparse'"
    LD_LIBRARY_PATH="$work/os4" vips tiffsave "$(ls "$work"/sparse/level-0*.dcm | head -n 1)[rgb]" "$work/sparse-vips.tif" \
      --tile --pyramid --bigtiff --compression deflate --tile-width 256 --tile-height 256
    check sparse-vips-must-fail bash -c "! '$PY' '$here/oracle.py' compare-regions '$work/sparse' '$work/sparse-vips.tif' --regions 40 --size 400"
  fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
