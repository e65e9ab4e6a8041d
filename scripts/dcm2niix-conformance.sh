#!/usr/bin/env bash
# NIfTI conformance against dcm2niix: converts the In/ DICOM of dcm2niix's six regression suites
# (dcm_qa, dcm_qa_nih, dcm_qa_mosaic, dcm_qa_xa30, dcm_qa_fmap, dcm_qa_ts) and compares what was
# written with each suite's Ref/ by content (scripts/nifti_conformance.py: exact / equivalent /
# wrong / missing per Ref, bval/bvec, sidecar keys), then prints how many of the Refs that
# Debian's dcm2niix itself reproduces (scripts/dcm2niix-conformance-goal.json) we reproduce.
#
# Usage: scripts/dcm2niix-conformance.sh [--suites DIR] [--bin PATH] [--out DIR] [--peer]
#                                        [--only SUITE,...]
#   --suites DIR  where the suites are unpacked, DIR/SUITE/{In,Ref} (default /tmp/dcm2niix-qa,
#                 made with /work/shared/test-data/dcm2niix-qa/unpack.sh if absent)
#   --bin PATH    our converter (default target/release/dicomprep), run as `$BIN convert In
#                 --dest OUT/SUITE --outputs nifti --nifti-gzip no --progress never` (without
#                 --progress if `$BIN convert --help` does not list it)
#   --out DIR     where to write: a folder per suite (emptied first), its .log, and report.json
#                 (default target/conformance/ours, or target/conformance/peer)
#   --peer        convert with dcm2niix (-b y -z n -f %p_%s) instead of ours: tests the checker,
#                 and shows which Refs the installed dcm2niix reproduces
#   --only LIST   only these suites (comma-separated)
# The Python venv with nibabel and numpy lives at .emulators/conformance-venv (made if absent).
# Exits non-zero only when it cannot run (no converter, no suites, no venv).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
suites_dir=/tmp/dcm2niix-qa
bin=$root/target/release/dicomprep
out=
peer=0
only=
while (($#)); do
  case $1 in
    --suites) suites_dir=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --peer) peer=1; shift ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z $out ]]; then
  if ((peer)); then out=$root/target/conformance/peer; else out=$root/target/conformance/ours; fi
fi
suites=(dcm_qa dcm_qa_nih dcm_qa_mosaic dcm_qa_xa30 dcm_qa_fmap dcm_qa_ts)
if [[ -n $only ]]; then IFS=, read -r -a suites <<<"$only"; fi
# Refs whose DICOM input the suite snapshots lack (see the suites' README): absent, not failures.
absent=(
  dcm_qa/noPF_noPAT_noPOS_PEres100_ES0p59_BW2222_INTERP_AP_28.nii
  dcm_qa/noPF_noPAT_noPOS_PEres100_ES0p59_BW2222_INTERP_PA_29.nii
)

unpack=/work/shared/test-data/dcm2niix-qa/unpack.sh
if [[ ! -d $suites_dir ]]; then
  if [[ $suites_dir == /tmp/dcm2niix-qa && -x $unpack ]]; then
    echo "unpacking the suites into $suites_dir"
    "$unpack" "$suites_dir"
  else
    echo "no suites at $suites_dir (make them with: $unpack $suites_dir)" >&2; exit 1
  fi
fi

venv=$root/.emulators/conformance-venv
if ! "$venv/bin/python" -c 'import nibabel, numpy' 2>/dev/null; then
  echo "setting up $venv (nibabel, numpy)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check nibabel numpy
fi

if ((peer)); then
  command -v dcm2niix >/dev/null || { echo "no dcm2niix: apt-get install -y dcm2niix" >&2; exit 1; }
  echo "converter: $(dcm2niix --version 2>&1 | grep -m1 -i version || true)"
else
  [[ -x $bin ]] || { echo "no converter at $bin (build it, or pass --bin PATH)" >&2; exit 1; }
  help=$("$bin" convert --help 2>&1) || { echo "$bin convert --help failed:" >&2; echo "$help" >&2; exit 1; }
  if ! grep -q -- '--outputs' <<<"$help"; then
    echo "$bin convert has no --outputs option: this build cannot write NIfTI, nothing to check" >&2
    exit 1
  fi
  progress=()
  if grep -q -- '--progress' <<<"$help"; then progress=(--progress never); fi
  echo "converter: $bin"
fi

mkdir -p "$out"
pairs=()
for suite in "${suites[@]}"; do
  in=$suites_dir/$suite/In ref=$suites_dir/$suite/Ref dest=$out/$suite
  if [[ ! -d $in || ! -d $ref ]]; then echo "$suite: no In/ or Ref/ under $suites_dir, skipped"; continue; fi
  rm -rf "$dest"
  start=$SECONDS
  if ((peer)); then
    mkdir -p "$dest"
    cmd=(dcm2niix -b y -z n -f %p_%s -o "$dest" "$in")
  else
    cmd=("$bin" convert "$in" --dest "$dest" --outputs nifti --nifti-gzip no "${progress[@]}")
  fi
  if "${cmd[@]}" >"$out/$suite.log" 2>&1; then status=ok; else status="exit $?"; fi
  echo "$suite: converter $status ($((SECONDS - start)) s, log $out/$suite.log)"
  [[ $status == ok ]] || tail -n 3 "$out/$suite.log" | sed 's/^/    /'
  mkdir -p "$dest"  # the checker's view of a converter that wrote nothing
  pairs+=("$ref" "$dest")
done
((${#pairs[@]})) || { echo "no suite to check" >&2; exit 1; }

args=(--json "$out/report.json")
goal=$root/scripts/dcm2niix-conformance-goal.json
[[ -f $goal ]] && args+=(--goal "$goal")
for a in "${absent[@]}"; do args+=(--absent "$a"); done
"$venv/bin/python" "$root/scripts/nifti_conformance.py" "${pairs[@]}" "${args[@]}"
echo "report: $out/report.json"
