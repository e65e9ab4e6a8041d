#!/usr/bin/env python3
"""Order the slices of every series under a folder with pydicom: the Python peer of
`dicomprep order`, run by scripts/compare-peers.sh.

Usage:
    python scripts/peers/pydicom_order.py DIR [--processes P] [-o out.json]

Every regular file below DIR is read with
``pydicom.dcmread(path, stop_before_pixels=True)`` (in a multiprocessing Pool of P
worker processes when P > 1, a chunk of files per task). The files are grouped by
SeriesInstanceUID and sorted within each series by

    (SeriesNumber, InstanceNumber, SliceLocation, projection, natural path)

where projection = dot(cross(IOP row, IOP column), ImagePositionPatient), a missing or
malformed value sorts after every present one at each level, and natural path order
compares digit runs as integers (the same definitions as scripts/expected-order.py and
dicomprep's `darwin` rule). The result is written as

    {"series": [{"series_instance_uid": "...", "paths": ["rel/path", ...]}, ...],
     "failed": ["rel/path", ...]}

with paths relative to DIR and '/'-separated. The throughput (files/s, from the start of
the folder walk to the JSON written) is printed on stderr; the exit code is 0, or 3 if
some files could not be read (as dicomprep's).
"""

import argparse
import json
import os
import sys
import time
from multiprocessing import Pool

import pydicom

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dicom_keys import get_float, get_int, missing_last, natural_key, projection  # noqa: E402

# Files per Pool task: big enough that inter-process overhead (pickling the paths in and
# the small result tuples out) is negligible, small enough to balance the workers.
CHUNK_SIZE = 256

# ---------------------------------------------------------------------------
# Reading (runs in the worker processes)
# ---------------------------------------------------------------------------

def read_one(root, rel):
    """(rel, uid, sort key) for one file, or (rel, None, error text) if unreadable.

    Only plain values travel back to the parent process, never the dataset: pickling
    datasets would cost more than reading them.
    """
    try:
        ds = pydicom.dcmread(os.path.join(root, rel), stop_before_pixels=True)
    except Exception as exc:  # noqa: BLE001 (pydicom raises many types on broken input)
        return rel, None, f"{type(exc).__name__}: {exc}"
    uid = str(ds.get("SeriesInstanceUID", "") or "").strip()
    key = (
        missing_last(get_int(ds, "SeriesNumber")),
        missing_last(get_int(ds, "InstanceNumber")),
        missing_last(get_float(ds, "SliceLocation")),
        missing_last(projection(ds)),
        natural_key(rel),
    )
    return rel, uid, key


def read_chunk(args):
    """Pool task: read a chunk of files (top-level function so that it pickles)."""
    root, rels = args
    return [read_one(root, rel) for rel in rels]


def list_files(root):
    """All regular files below root, as '/'-separated paths relative to it."""
    result = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()  # deterministic walk order
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):
                result.append(os.path.relpath(full, root).replace(os.sep, "/"))
    return result


def read_all(root, rels, processes):
    """Read every file, in this process (P = 1: no pool overhead) or in a Pool."""
    if processes <= 1:
        return [read_one(root, rel) for rel in rels]
    chunks = [(root, rels[i:i + CHUNK_SIZE]) for i in range(0, len(rels), CHUNK_SIZE)]
    with Pool(processes) as pool:
        results = []
        for part in pool.imap_unordered(read_chunk, chunks):
            results.extend(part)
        return results


# ---------------------------------------------------------------------------
# Grouping and output
# ---------------------------------------------------------------------------

def order(results):
    """Group by SeriesInstanceUID and sort; returns (series list, failed paths)."""
    groups = {}
    failed = []
    for rel, uid, key in results:
        if uid is None:
            print(f"skip {rel}: {key}", file=sys.stderr)
            failed.append(rel)
            continue
        groups.setdefault(uid, []).append((key, rel))
    series = []
    for uid, entries in groups.items():
        entries.sort()
        series.append({
            "series_instance_uid": uid,
            "paths": [rel for _, rel in entries],
            # Used only to order the series themselves; dropped before output.
            "_first_key": entries[0][0][0],
        })
    # Series in SeriesNumber order (missing last), then by UID: deterministic output.
    series.sort(key=lambda s: (s["_first_key"], s["series_instance_uid"]))
    for s in series:
        del s["_first_key"]
    return series, sorted(failed, key=natural_key)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="folder to scan (recursively)")
    parser.add_argument("--processes", "-p", type=int, default=1,
                        help="worker processes (default 1: read in this process)")
    parser.add_argument("-o", "--output", default="-",
                        help="JSON output file (default '-': stdout)")
    args = parser.parse_args()

    started = time.perf_counter()
    rels = list_files(args.dir)
    series, failed = order(read_all(args.dir, rels, args.processes))
    document = {"series": series, "failed": failed}
    if args.output == "-":
        json.dump(document, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        with open(args.output, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=1)
            fh.write("\n")
    seconds = time.perf_counter() - started

    rate = len(rels) / seconds if seconds > 0 else float("inf")
    print(f"pydicom {pydicom.__version__}: {len(rels)} files in {len(series)} series "
          f"({len(failed)} failed) in {seconds:.3f} s with {args.processes} process(es): "
          f"{rate:.0f} files/s", file=sys.stderr)
    return 3 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
