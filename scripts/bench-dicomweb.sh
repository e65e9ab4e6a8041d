#!/usr/bin/env bash
# DICOMweb benchmark: a generated N-slice CT series (default 1000, 512x512) loaded into a local
# Orthanc; ordering it by series metadata (dicomprep) vs by retrieving every instance first
# (WADO-RS, 8 in flight), and converting it from Orthanc vs from disk.
#
#   scripts/bench-dicomweb.sh [SLICES]      (needs: cargo build --release --bin dicomprep
#                                            --example gen_study; orthanc + orthanc-dicomweb)
set -euo pipefail
cd "$(dirname "$0")/.."
slices=${1:-1000}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bin=target/release/dicomprep
cleanup() { [ -n "${orthanc:-}" ] && kill "$orthanc" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

target/release/examples/gen_study --template test-data/dicom2nifti/failing/gantrytilting/001/IM-0001-0001.dcm \
  --out "$work/in" --slices "$slices" --series 1 --seed 1 >/dev/null
cat > "$work/orthanc.json" <<JSON
{"HttpPort": $port, "StorageDirectory": "$work/db", "IndexDirectory": "$work/db",
 "DicomServerEnabled": false, "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"]}
JSON
/usr/sbin/Orthanc "$work/orthanc.json" >"$work/orthanc.log" 2>&1 &
orthanc=$!
until curl -sf "http://127.0.0.1:$port/system" >/dev/null; do sleep 0.1; done
find "$work/in" -name '*.dcm' -print0 |
  xargs -0 -P 4 -I{} curl -sf -o /dev/null -H 'Expect:' --data-binary @{} "http://127.0.0.1:$port/instances"
root="http://127.0.0.1:$port/dicom-web"
study=$(curl -sf "$root/studies" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["0020000D"]["Value"][0])')
series=$(curl -sf "$root/studies/$study/series" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["0020000E"]["Value"][0])')
url="dicomweb+$root/studies/$study/series/$series"
echo "== $slices slices, Orthanc $(curl -sf "http://127.0.0.1:$port/system" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Version"])') on 127.0.0.1:$port"

now() { date +%s.%N; }
echo "-- order by series metadata (dicomprep, QIDO + one metadata request)"
$bin order "$url" -o /dev/null --debug-requests
echo "-- order by retrieving every instance (QIDO instances + one WADO-RS retrieve each, 8 in flight), then order the files"
start=$(now)
mkdir -p "$work/retrieved"
python3 - "$root/studies/$study/series/$series" "$work/retrieved" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, out = sys.argv[1], sys.argv[2]
sops = [i["00080018"]["Value"][0] for i in json.load(urllib.request.urlopen(base + "/instances?limit=100000"))]
accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
def fetch(sop):
    answer = urllib.request.urlopen(urllib.request.Request(f"{base}/instances/{sop}", headers={"Accept": accept}))
    boundary = answer.headers.get_param("boundary").encode()
    body = answer.read()
    part = body[body.index(b"\r\n\r\n") + 4 : body.rindex(b"\r\n--" + boundary)]
    open(f"{out}/{sop}.dcm", "wb").write(part)
with ThreadPoolExecutor(8) as pool:
    list(pool.map(fetch, sops))
PY
retrieved=$(now)
$bin order "$work/retrieved" -o /dev/null -q
end=$(now)
python3 -c "print(f'{$slices + 1} requests; retrieve {$retrieved - $start:.2f} s, then order {$end - $retrieved:.2f} s: {$end - $start:.2f} s')"
echo "-- convert from Orthanc"
$bin convert "$url" --dest "$work/out-dicomweb" --no-html
echo "-- convert from disk"
$bin convert "$work/in" --dest "$work/out-disk" --no-html
