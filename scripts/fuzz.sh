#!/usr/bin/env bash
# Fuzzes the header reader, decode+render and the JPEG-LS decoder for SECONDS_PER_TARGET each
# (default 60), one target at a time on one core, at low priority.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      targets: header render jpeg_ls (default all)
#
# Needs only stable Rust: cargo-fuzz's nightly flags are enabled with RUSTC_BOOTSTRAP=1.
# Runs of different targets may go at once (e.g. one per core, in two shells).
# Seeds (rebuilt each run, never committed): every small DICOM file of test-data/ plus the fault
# corpus. The corpus grown by libFuzzer stays in fuzz/corpus/<target>/, crashes go to
# fuzz/artifacts/<target>/; a crash becomes a regression file in test-data/fuzz-regressions/.
# FUZZ_TARGET_DIR sets where the instrumented build goes (default fuzz/target; it is large).
# FUZZ_TIMEOUT_SCALE multiplies the per-input timeouts (default 1): on a machine loaded by other
# work a niced fuzzer is starved and reports timeouts that take milliseconds when run alone.
set -euo pipefail

seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(header render jpeg_ls)

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

# Seeds of this run only (so that runs of different targets can go at once, one per core).
seeds=fuzz/seeds/run-$$
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds/test-data" "$seeds/faults"
# Small files only: libFuzzer mutates faster, and the fault corpus covers larger shapes.
find test-data -type f -size -64k \( -name '*.dcm' -o -name 'DICOMDIR*' -o -path '*/IM*' \) \
  | while read -r file; do cp "$file" "$seeds/test-data/$(echo "$file" | tr '/' '_')"; done
cargo run --quiet --example fault_corpus -- --out "$seeds/faults" --seed "$RANDOM" --count 200
# JPEG-LS seeds: the codestreams (SOI to EOI) of the test data's JPEG-LS files.
mkdir -p "$seeds/jpeg_ls"
python3 - "$seeds/jpeg_ls" <<'PY'
import pathlib, sys
out = pathlib.Path(sys.argv[1])
for n, path in enumerate(sorted(pathlib.Path("test-data").rglob("*.dcm"))):
    data = path.read_bytes()
    if b"1.2.840.10008.1.2.4.8" not in data[:4096]:
        continue
    start = data.find(b"\xff\xd8\xff")
    end = data.find(b"\xff\xd9", start)
    if 0 <= start < end and end - start < 65536:
        (out / f"{n}.jls").write_bytes(data[start:end + 2])
PY

for target in "${targets[@]}"; do
  inputs=("${seeds#fuzz/}/test-data" "${seeds#fuzz/}/faults")
  case $target in
    header) timeout=2 ;;
    render) timeout=20 ;;
    jpeg_ls) timeout=5 inputs=("${seeds#fuzz/}/jpeg_ls") ;;
    *) echo "fuzz.sh: unknown target $target (header, render, jpeg_ls)" >&2; exit 2 ;;
  esac
  timeout=$((timeout * ${FUZZ_TIMEOUT_SCALE:-1}))
  mkdir -p "fuzz/corpus/$target"
  echo "fuzz.sh: $target for ${seconds}s" >&2
  (cd fuzz && nice -n 19 cargo fuzz run --target-dir "${FUZZ_TARGET_DIR:-target}" "$target" \
    "corpus/$target" "${inputs[@]}" -- \
    -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 -max_len=65536 \
    -dict=dicom.dict -print_final_stats=1)
done
