#!/usr/bin/env python3
"""Derive, independently of the Rust implementation, which files a `--where` selection
must pick, using pydicom.

Usage:
    python3 scripts/expected-selection.py TEST_DATA_ROOT MODALITY > OUT.json

Every regular file below TEST_DATA_ROOT (the `expected/` folder excepted) is read with
pydicom (header only, force=True). A file counts when it has a Pixel Data element. The
selection is by whole series, as dicomprep documents for a condition on `modality`: every
file of a series (SeriesInstanceUID) one of whose files has that Modality. Written:

    {"modality": "CT", "series": {"<SeriesInstanceUID>": ["path", ...]}}

with '/'-separated paths relative to TEST_DATA_ROOT, sorted.
"""
import json
import os
import sys

import pydicom

PIXEL_TAGS = [0x7FE00010, 0x7FE00008, 0x7FE00009]


def has_pixel_data(path):
    ds = pydicom.dcmread(path, force=True, specific_tags=PIXEL_TAGS, defer_size=256)
    return any(tag in ds for tag in PIXEL_TAGS)


def main():
    root, modality = sys.argv[1], sys.argv[2]
    by_series = {}
    chosen = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if rel.startswith("expected/") or not os.path.isfile(full):
                continue
            try:
                ds = pydicom.dcmread(full, stop_before_pixels=True, force=True)
                if not has_pixel_data(full):
                    continue
            except Exception:  # broken input: not an instance
                continue
            uid = str(ds.get("SeriesInstanceUID", "")).strip()
            by_series.setdefault(uid, []).append(rel)
            if str(ds.get("Modality", "")).strip() == modality:
                chosen.add(uid)
    series = {uid: sorted(by_series[uid]) for uid in sorted(chosen)}
    json.dump({"modality": modality, "series": series}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
