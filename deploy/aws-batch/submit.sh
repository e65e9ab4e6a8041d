#!/usr/bin/env bash
# Plans SRC into N shards under DEST (an s3:// prefix), submits the shards as one array job
# (child K gets AWS_BATCH_JOB_ARRAY_INDEX=K) and the merge as a job depending on the whole
# array, which AWS Batch starts only when every child succeeded.
#   deploy/aws-batch/submit.sh SRC DEST N JOB_QUEUE [plan flags]
# Credentials: the jobs' jobRoleArn; this script uses the AWS CLI's own configuration.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 SRC DEST N JOB_QUEUE [plan flags]" >&2; exit 2; }
src=$1 dest=$2 shards=$3 queue=$4
shift 4
"${DICOMPREP:-dicomprep}" plan "$src" --dest "$dest" --shards "$shards" --quiet "$@"
array=$(aws batch submit-job --job-name dicomprep-shards --job-queue "$queue" \
  --job-definition dicomprep-shard --array-properties "size=$shards" \
  --parameters "dest=$dest" --query jobId --output text)
merge=$(aws batch submit-job --job-name dicomprep-merge --job-queue "$queue" \
  --job-definition dicomprep-merge --depends-on "jobId=$array" \
  --parameters "dest=$dest" --query jobId --output text)
echo "shards: $array merge: $merge"
