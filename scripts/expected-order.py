#!/usr/bin/env python3
"""Derive expected slice orders for dicomprep's test cases, independently of
the Rust implementation, using pydicom.

Usage:
    python3 scripts/expected-order.py TEST_DATA_ROOT [--out DIR] [CASE ...]

For every case folder (path relative to TEST_DATA_ROOT; default: DEFAULT_CASES)
all regular files below it are read with pydicom and grouped by
SeriesInstanceUID.  One JSON file per case is written to
TEST_DATA_ROOT/expected/<case-name>.json (or to --out), where <case-name> is
the case path with '/' replaced by '__':

    {"case": "<case>",
     "series": {"<SeriesInstanceUID>": {
         "files": N, "rows": R, "columns": C,
         "echoes": [...],               # distinct EchoNumbers, ascending
         "positions": [[pos, count], ...],
         "instance": [paths...], "spatial": [...], "darwin": [...]}},
     "skipped": [paths...]}

Paths are relative to the case folder and use '/' separators.

Definitions (the Rust side must implement exactly these to compare):

* projection: dot(cross(IOP[0:3], IOP[3:6]), IPP) using the file's own
  ImageOrientationPatient (IOP) and ImagePositionPatient (IPP); undefined
  ("missing") if either attribute is absent or malformed.
* natural path order: the relative path is split into maximal runs of ASCII
  digits and of non-digits; the run sequences are compared run by run, where
  two digit runs compare as integers, two non-digit runs compare as strings
  (code point order == UTF-8 byte order) and a digit run vs a non-digit run
  compares by their first character.  A sequence that is a prefix of the
  other sorts first.  Remaining ties (e.g. "01" vs "1") are broken by
  comparing the whole paths bytewise (UTF-8).
* missing values: at any level of a sort key, a missing (or unparsable) value
  sorts after every present value.
* "instance": (InstanceNumber, natural path)
* "spatial":  (projection, InstanceNumber, natural path)
* "darwin":   (SeriesNumber, InstanceNumber, SliceLocation, projection,
               natural path)
* "positions": projection rounded to 0.01 mm (half away from zero, like
  Rust's f64::round on projection*100), distinct values ascending with the
  number of files at each; files without a projection count under null,
  listed last.
* "echoes": distinct EchoNumbers values ascending; null (listed last) if at
  least one file lacks EchoNumbers.
* "rows"/"columns": the value shared by all files of the series, or the
  ascending list of distinct values if they differ (null if absent).
* skipped: files pydicom cannot read (even with force=True) or that have no
  PixelData / FloatPixelData / DoubleFloatPixelData element.
"""

import argparse
import json
import math
import os
import sys

import pydicom
from pydicom.multival import MultiValue

from dicom_keys import get_float, get_int, missing_last, natural_key, projection

DEFAULT_CASES = [
    "dicom2nifti/siemens/anatomical",
    "dicom2nifti/hitachi/anatomical",
    "dicom2nifti/ge/anatomical",
    "dicom2nifti/generic/anatomical",
    "dicom2nifti/failing/gantrytilting",
    "dicom2nifti/failing/sliceincrement",
    "dicom2nifti/failing/notavolume",
    "dicom2nifti/failing/sliceorientation",
    "dicom2nifti/failing/slicecount",
    "dcm_qa_nih/In/20180918GE/mr_0004",
    "dcm_qa_nih/In/20180918Si",
    "pydicom/dicomdirtests",
]

# Pixel data elements whose presence marks a file as an image.
PIXEL_TAGS = [0x7FE00010, 0x7FE00008, 0x7FE00009]  # PixelData, Float.., DoubleFloat..

NO_SERIES_UID = "(no SeriesInstanceUID)"

def get_ints(ds, keyword):
    """All integer values of a (possibly multi-valued) IS/US attribute."""
    try:
        value = ds.get(keyword)
        if value is None or value == "":
            return []
        if not isinstance(value, (list, tuple, MultiValue)):
            value = [value]
        return [int(v) for v in value]
    except (ValueError, TypeError):
        return []


def round_position(value):
    """Round to 0.01 mm, half away from zero; never returns -0.0."""
    scaled = abs(value) * 100.0
    rounded = math.floor(scaled + 0.5)
    result = math.copysign(rounded, value) / 100.0
    return result + 0.0  # turns -0.0 into 0.0


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------

def has_pixel_data(path):
    """True if the file contains a pixel data element (value not loaded)."""
    ds = pydicom.dcmread(
        path, force=True, specific_tags=PIXEL_TAGS, defer_size=256
    )
    return any(tag in ds for tag in PIXEL_TAGS)


def read_header(path):
    """Header-only dataset, or None if the file is unreadable/not an image."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        if not has_pixel_data(path):
            return None, "no PixelData"
        return ds, None
    except Exception as exc:  # pydicom raises many types on broken input
        return None, f"{type(exc).__name__}: {exc}"


def list_files(case_dir):
    """All regular files below case_dir as '/'-separated relative paths."""
    result = []
    for dirpath, dirnames, filenames in os.walk(case_dir):
        dirnames.sort()
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):
                rel = os.path.relpath(full, case_dir)
                result.append(rel.replace(os.sep, "/"))
    return sorted(result, key=natural_key)


# ---------------------------------------------------------------------------
# Per-case processing
# ---------------------------------------------------------------------------

def single_or_list(values):
    """Shared value if all equal, else ascending distinct list (None last)."""
    distinct = sorted(set(values), key=missing_last)
    return distinct[0] if len(distinct) == 1 else distinct


def describe_series(entries):
    """entries: list of dicts with path + extracted attributes."""
    by_instance = sorted(
        entries, key=lambda e: (missing_last(e["instance"]), natural_key(e["path"])))
    by_space = sorted(
        entries,
        key=lambda e: (missing_last(e["proj"]), missing_last(e["instance"]),
                       natural_key(e["path"])))
    by_darwin = sorted(
        entries,
        key=lambda e: (missing_last(e["series_number"]), missing_last(e["instance"]),
                       missing_last(e["slice_location"]), missing_last(e["proj"]),
                       natural_key(e["path"])))

    counts = {}
    for e in entries:
        pos = None if e["proj"] is None else round_position(e["proj"])
        counts[pos] = counts.get(pos, 0) + 1
    positions = [[p, counts[p]] for p in sorted(counts, key=missing_last)]

    echoes = set()
    for e in entries:
        if e["echoes"]:
            echoes.update(e["echoes"])
        else:
            echoes.add(None)

    return {
        "files": len(entries),
        "rows": single_or_list([e["rows"] for e in entries]),
        "columns": single_or_list([e["columns"] for e in entries]),
        "echoes": sorted(echoes, key=missing_last),
        "positions": positions,
        "instance": [e["path"] for e in by_instance],
        "spatial": [e["path"] for e in by_space],
        "darwin": [e["path"] for e in by_darwin],
    }


def process_case(root, case):
    case_dir = os.path.join(root, case)
    if not os.path.isdir(case_dir):
        raise SystemExit(f"case folder not found: {case_dir}")

    series = {}
    skipped = []
    for rel in list_files(case_dir):
        ds, why = read_header(os.path.join(case_dir, rel))
        if ds is None:
            print(f"  skip {case}/{rel}: {why}", file=sys.stderr)
            skipped.append(rel)
            continue
        uid = str(ds.get("SeriesInstanceUID", "") or "").strip() or NO_SERIES_UID
        series.setdefault(uid, []).append({
            "path": rel,
            "instance": get_int(ds, "InstanceNumber"),
            "series_number": get_int(ds, "SeriesNumber"),
            "slice_location": get_float(ds, "SliceLocation"),
            "proj": projection(ds),
            "rows": get_int(ds, "Rows"),
            "columns": get_int(ds, "Columns"),
            "echoes": get_ints(ds, "EchoNumbers"),
        })

    return {
        "case": case,
        "series": {uid: describe_series(series[uid]) for uid in sorted(series)},
        "skipped": skipped,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="test-data root folder")
    parser.add_argument("cases", nargs="*", default=DEFAULT_CASES,
                        help="case folders relative to root "
                             "(default: the built-in list)")
    parser.add_argument("--out", help="output folder (default: ROOT/expected)")
    args = parser.parse_args()

    out_dir = args.out or os.path.join(args.root, "expected")
    os.makedirs(out_dir, exist_ok=True)

    for case in args.cases:
        case = case.strip("/")
        result = process_case(args.root, case)
        out_path = os.path.join(out_dir, case.replace("/", "__") + ".json")
        with open(out_path, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        summary = ", ".join(
            f"{uid[-12:]}:{s['files']}" for uid, s in result["series"].items())
        print(f"{case}: {len(result['series'])} series [{summary}], "
              f"{len(result['skipped'])} skipped -> {out_path}")


if __name__ == "__main__":
    main()
