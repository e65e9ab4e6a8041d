#!/usr/bin/env python3
"""Makes the VR-mismatch test files: a real file whose file meta Transfer Syntax UID is rewritten
to the other VR mode, its dataset bytes left exactly as they are.

    python3 test-data/vr_mismatch/make.py   # from the repository root; standard library only

- implicit_under_explicit_meta.dcm: pydicom/MR_small_implicit.dcm (implicit VR little endian
  dataset) under a meta group that says Explicit VR Little Endian (1.2.840.10008.1.2.1).
- explicit_under_implicit_meta.dcm: pydicom/MR_small.dcm (explicit VR little endian dataset)
  under a meta group that says Implicit VR Little Endian (1.2.840.10008.1.2).
"""
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYDICOM = HERE.parent / "pydicom"
SHORT_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO",
             b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}


def elements(meta: bytes):
    """(group, element, vr, value) of an explicit VR little-endian meta group."""
    at = 0
    while at < len(meta):
        group, element, vr = struct.unpack_from("<HH2s", meta, at)
        if vr in SHORT_VRS:
            (length,) = struct.unpack_from("<H", meta, at + 6)
            at += 8
        else:
            (length,) = struct.unpack_from("<I", meta, at + 8)
            at += 12
        yield group, element, vr, meta[at:at + length]
        at += length


def encode(group, element, vr, value):
    if vr in SHORT_VRS:
        return struct.pack("<HH2sH", group, element, vr, len(value)) + value
    return struct.pack("<HH2sHI", group, element, vr, 0, len(value)) + value


def rewrite(source: Path, target: Path, syntax: str):
    data = source.read_bytes()
    assert data[128:132] == b"DICM", source
    (group_length,) = struct.unpack_from("<I", data, 132 + 8)
    meta_end = 132 + 12 + group_length
    uid = syntax.encode() + (b"\0" if len(syntax) % 2 else b"")
    body = b"".join(
        encode(g, e, vr, uid if (g, e) == (2, 0x10) else value)
        for g, e, vr, value in elements(data[132 + 12:meta_end])
    )
    header = encode(2, 0, b"UL", struct.pack("<I", len(body)))
    target.write_bytes(data[:132] + header + body + data[meta_end:])


rewrite(PYDICOM / "MR_small_implicit.dcm", HERE / "implicit_under_explicit_meta.dcm",
        "1.2.840.10008.1.2.1")
rewrite(PYDICOM / "MR_small.dcm", HERE / "explicit_under_implicit_meta.dcm", "1.2.840.10008.1.2")
