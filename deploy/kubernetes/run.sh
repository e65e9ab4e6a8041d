#!/usr/bin/env bash
# Plan, shards, merge, each after the previous one completed (Kubernetes has no job
# dependencies). Edit SRC, DEST and the shard count (--shards in plan.yaml = completions in
# shards.yaml) first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kubectl apply -f "$here/plan.yaml"
kubectl wait --for=condition=complete --timeout=24h job/dicomprep-plan
kubectl apply -f "$here/shards.yaml"
kubectl wait --for=condition=complete --timeout=72h job/dicomprep-shards
kubectl apply -f "$here/merge.yaml"
kubectl wait --for=condition=complete --timeout=24h job/dicomprep-merge
