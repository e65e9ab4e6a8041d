#!/usr/bin/env python3
"""Build an SQLite header index of a folder with pydicom: the Python peer of
`dicomprep index DIR --db FILE`, run by scripts/compare-peers.sh.

Usage:
    python scripts/peers/pydicom_index.py DIR --db FILE [--processes P] [--batch N]

Every regular file below DIR is read with ``pydicom.dcmread(path, defer_size=4096)`` (values
longer than 4 KiB, Pixel Data among them, are skipped over unread, so the presence of pixels
is known without reading them), in a multiprocessing Pool of P processes when P > 1. An image (PixelData present) becomes
one row of table ``instances``, with a subset of dicomprep's columns under the same names
and types (src/contract/index_schema.rs): identity (path, file_size, mtime_ns), the UIDs, the
selection fields and the geometry; multi-valued fields as JSON arrays, ImageType as DICOM
writes it. Any other file becomes a row of ``inputs`` (outcome 'skipped' or 'failed', with
the reason). Rows are inserted in one transaction per batch of N files with prepared
statements (``executemany``), as dicomprep does, and the same SQL indexes are declared.
No patient identifier is stored. Throughput is printed on stderr; the exit code is 0, or 3
when some files failed (as dicomprep's).
"""

import argparse
import json
import os
import sqlite3
import sys
import time
from multiprocessing import Pool

import pydicom

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dicom_keys import get_float, get_int  # noqa: E402

CREATE = """
CREATE TABLE IF NOT EXISTS instances (
    path TEXT PRIMARY KEY,
    file_size INTEGER NOT NULL,
    mtime_ns INTEGER,
    transfer_syntax TEXT NOT NULL,
    sop_class_uid TEXT,
    sop_instance_uid TEXT,
    study_instance_uid TEXT,
    series_instance_uid TEXT,
    modality TEXT,
    series_number INTEGER,
    series_description TEXT,
    study_date TEXT,
    study_description TEXT,
    protocol_name TEXT,
    body_part_examined TEXT,
    manufacturer TEXT,
    manufacturer_model_name TEXT,
    instance_number INTEGER,
    slice_location REAL,
    image_position_patient TEXT,
    image_orientation_patient TEXT,
    pixel_spacing_row REAL,
    pixel_spacing_column REAL,
    slice_thickness REAL,
    rows INTEGER,
    columns INTEGER,
    number_of_frames INTEGER NOT NULL,
    photometric_interpretation TEXT,
    bits_allocated INTEGER,
    image_type TEXT
);
CREATE INDEX IF NOT EXISTS instances_series ON instances (series_instance_uid);
CREATE INDEX IF NOT EXISTS instances_study ON instances (study_instance_uid);
CREATE INDEX IF NOT EXISTS instances_modality ON instances (modality, slice_thickness);
CREATE INDEX IF NOT EXISTS instances_body_part ON instances (body_part_examined);
CREATE INDEX IF NOT EXISTS instances_manufacturer ON instances (manufacturer);
CREATE INDEX IF NOT EXISTS instances_study_date ON instances (study_date);
CREATE INDEX IF NOT EXISTS instances_sop_instance ON instances (sop_instance_uid);
CREATE TABLE IF NOT EXISTS inputs (
    path TEXT PRIMARY KEY,
    file_size INTEGER,
    mtime_ns INTEGER,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL
);
"""

# Values longer than this are not read (pydicom seeks past them).
DEFER = 4096

COLUMNS = (
    "path file_size mtime_ns transfer_syntax sop_class_uid sop_instance_uid "
    "study_instance_uid series_instance_uid modality series_number series_description "
    "study_date study_description protocol_name body_part_examined manufacturer "
    "manufacturer_model_name instance_number slice_location image_position_patient "
    "image_orientation_patient pixel_spacing_row pixel_spacing_column slice_thickness rows "
    "columns number_of_frames photometric_interpretation bits_allocated image_type"
).split()

TEXT_FIELDS = {
    "sop_class_uid": "SOPClassUID",
    "sop_instance_uid": "SOPInstanceUID",
    "study_instance_uid": "StudyInstanceUID",
    "series_instance_uid": "SeriesInstanceUID",
    "modality": "Modality",
    "series_description": "SeriesDescription",
    "study_date": "StudyDate",
    "study_description": "StudyDescription",
    "protocol_name": "ProtocolName",
    "body_part_examined": "BodyPartExamined",
    "manufacturer": "Manufacturer",
    "manufacturer_model_name": "ManufacturerModelName",
    "photometric_interpretation": "PhotometricInterpretation",
}


def text(ds, keyword):
    value = ds.get(keyword)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def floats(ds, keyword, count):
    """A list of `count` floats as JSON text, or None when absent or malformed."""
    try:
        value = [float(v) for v in ds.get(keyword) or []]
    except (TypeError, ValueError):
        return None
    return json.dumps(value, separators=(",", ":")) if len(value) == count else None


def _joined(value):
    """A multi-valued attribute as DICOM writes it (`ORIGINAL\\PRIMARY\\AXIAL`)."""
    if value is None or isinstance(value, str):
        return value
    return "\\".join(str(v) for v in value)


def read_one(root, rel):
    """('instance', row) or ('skipped'|'failed', (rel, size, mtime, outcome, reason))."""
    full = os.path.join(root, rel)
    try:
        stat = os.stat(full)
        # Large values (Pixel Data) are skipped over, not read: the header only, and
        # whether there are pixels.
        ds = pydicom.dcmread(full, defer_size=DEFER)
    except Exception as exc:  # noqa: BLE001 (pydicom raises many types on broken input)
        return "skipped", (rel, None, None, "skipped", f"{type(exc).__name__}: {exc}")
    identity = (rel, stat.st_size, stat.st_mtime_ns)
    if "PixelData" not in ds:
        return "skipped", identity + ("skipped", "DICOM without pixel data")
    spacing = ds.get("PixelSpacing") or [None, None]
    try:
        spacing = [float(v) for v in spacing][:2] + [None, None]
    except (TypeError, ValueError):
        spacing = [None, None]
    image_type = ds.get("ImageType")
    row = {
        "path": rel,
        "file_size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "transfer_syntax": str(ds.file_meta.get("TransferSyntaxUID", "")),
        "series_number": get_int(ds, "SeriesNumber"),
        "instance_number": get_int(ds, "InstanceNumber"),
        "slice_location": get_float(ds, "SliceLocation"),
        "image_position_patient": floats(ds, "ImagePositionPatient", 3),
        "image_orientation_patient": floats(ds, "ImageOrientationPatient", 6),
        "pixel_spacing_row": spacing[0],
        "pixel_spacing_column": spacing[1],
        "slice_thickness": get_float(ds, "SliceThickness"),
        "rows": get_int(ds, "Rows"),
        "columns": get_int(ds, "Columns"),
        "number_of_frames": get_int(ds, "NumberOfFrames") or 1,
        "bits_allocated": get_int(ds, "BitsAllocated"),
        "image_type": _joined(image_type),
    }
    for column, keyword in TEXT_FIELDS.items():
        row[column] = text(ds, keyword)
    return "instance", tuple(row[c] for c in COLUMNS)


def read_chunk(args):
    root, rels = args
    return [read_one(root, rel) for rel in rels]


def list_files(root):
    result = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):
                result.append(os.path.relpath(full, root).replace(os.sep, "/"))
    return sorted(result)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="folder to index (recursively)")
    parser.add_argument("--db", required=True, help="SQLite file to write (created)")
    parser.add_argument("--processes", "-p", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1000,
                        help="files per transaction (dicomprep's default: 1000)")
    args = parser.parse_args()

    started = time.perf_counter()
    rels = list_files(args.dir)
    conn = sqlite3.connect(args.db)
    conn.executescript(CREATE)
    insert = (f"INSERT OR REPLACE INTO instances ({', '.join(COLUMNS)}) "
              f"VALUES ({', '.join('?' for _ in COLUMNS)})")
    insert_input = "INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?)"
    chunks = [(args.dir, rels[i:i + args.batch]) for i in range(0, len(rels), args.batch)]
    pool = Pool(args.processes) if args.processes > 1 else None
    results = pool.imap(read_chunk, chunks) if pool else map(read_chunk, chunks)
    counts = {"instance": 0, "skipped": 0, "failed": 0}
    for chunk in results:
        with conn:  # one transaction per batch
            conn.executemany(insert, [row for kind, row in chunk if kind == "instance"])
            conn.executemany(insert_input, [row for kind, row in chunk if kind != "instance"])
        for kind, _ in chunk:
            counts[kind] += 1
    if pool:
        pool.close()
    conn.close()
    seconds = time.perf_counter() - started
    print(f"{len(rels)} files in {seconds:.2f} s ({len(rels) / max(seconds, 1e-9):.0f} files/s): "
          f"{counts['instance']} instances, {counts['skipped']} skipped, {counts['failed']} failed",
          file=sys.stderr)
    return 3 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
