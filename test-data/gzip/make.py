#!/usr/bin/env python3
"""Makes the gzip bomb test file (standard library only; run from anywhere):

    python3 test-data/gzip/make.py

inflates_past_bound.dcm: gzip content under a .dcm name (recognised by its magic bytes, not its
name). Inside, pydicom/MR_small.dcm's header with Rows and Columns raised to 6144 and Pixel Data
of 6144 x 6144 16-bit zeros (72 MiB): about 73 kB compressed, far beyond dicomprep's bound of
64 times the compressed size (at least 64 MiB), so it must fail with that reason and not be
inflated to the end.
"""
import gzip
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIDE = 6144

data = (HERE.parent / "pydicom" / "MR_small.dcm").read_bytes()
for tag in (b"\x28\x00\x10\x00US\x02\x00", b"\x28\x00\x11\x00US\x02\x00"):  # Rows, Columns
    at = data.index(tag) + len(tag)
    data = data[:at] + struct.pack("<H", SIDE) + data[at + 2:]
pixel = data.index(b"\xe0\x7f\x10\x00OW\x00\x00")
header = data[:pixel] + b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", SIDE * SIDE * 2)
with gzip.GzipFile(HERE / "inflates_past_bound.dcm", "wb", compresslevel=9, mtime=0) as out:
    out.write(header)
    zeros = bytes(1 << 20)
    for _ in range(SIDE * SIDE * 2 >> 20):
        out.write(zeros)
