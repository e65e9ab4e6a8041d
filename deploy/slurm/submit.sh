#!/usr/bin/env bash
# Plans SRC into N shards under DEST, submits the shards as one Slurm job array and the merge
# as a job that runs only when every task succeeded. Prints the two job ids.
#   deploy/slurm/submit.sh SRC DEST N [plan flags: --as, --window, --payload, --where, ...]
# Environment: DICOMPREP (the binary; default `dicomprep`), SBATCH_FLAGS (extra sbatch flags for
# both jobs, e.g. "--partition=cpu --time=04:00:00").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 3 ] || { echo "usage: $0 SRC DEST N [plan flags]" >&2; exit 2; }
src=$1 dest=$2 shards=$3
shift 3
"${DICOMPREP:-dicomprep}" plan "$src" --dest "$dest" --shards "$shards" --quiet "$@"
export DEST=$dest
# shellcheck disable=SC2086 # SBATCH_FLAGS is a list of flags
array=$(sbatch --parsable ${SBATCH_FLAGS:-} --array="0-$((shards - 1))" "$here/shard.sbatch")
array=${array%%;*}
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${SBATCH_FLAGS:-} --dependency="afterok:$array" --kill-on-invalid-dep=yes "$here/merge.sbatch")
echo "shards: $array merge: ${merge%%;*}"
