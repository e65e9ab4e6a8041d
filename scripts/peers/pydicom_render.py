#!/usr/bin/env python3
"""Render every slice under a folder to 8-bit PNG + JPEG + thumbnail with pydicom, numpy
and Pillow: the Python peer of `dicomprep convert`, run by scripts/compare-peers.sh.

Usage:
    python scripts/peers/pydicom_render.py DIR OUT [--processes P] [--png-level L] [--luts K]

Every regular file below DIR is, in a multiprocessing Pool of P worker processes (in this
process when P = 1):

1. read whole with ``pydicom.dcmread`` and decoded with ``ds.pixel_array``;
2. mapped to modality values (Rescale Slope/Intercept), then to 8 bits with the first
   window of the header (WindowCenter/WindowWidth, DICOM LINEAR function) or, without
   one, the slice's min-max window as DCMTK's ``+Wm`` and dicomprep's ``minmax``
   compute it (center = (min + max + 1) / 2, width = max - min + 1), rounded half up;
   MONOCHROME1 is inverted. K (``--luts``) says whose code does it:
   - ``tuned`` (default): our own numpy, in place on one float64 array: the fastest
     Python we could write;
   - ``pydicom``: pydicom's documented functions, ``apply_modality_lut`` then
     ``apply_voi_lut`` (whose output spans the stored range mapped through the
     rescale), scaled from that range to 0-255: what a script written from pydicom's
     documentation does;
3. saved as OUT/hq/<name>.png (Pillow, ``compress_level`` L, default 1: zlib's fastest,
   as close as zlib gets to dicomprep's fdeflate) and OUT/lq/<name>.jpg (quality 75,
   dicomprep's default LQ quality);
4. shrunk with ``Image.thumbnail((356, 200))`` (fit inside, aspect kept, as ImageMagick's
   ``-resize "356x200>"``; Pillow's default BICUBIC) and saved as
   OUT/thumbnails/<name>.jpg (quality 50).

That is dicomprep's `--as video` work per slice (HQ PNG + LQ JPEG) plus a thumbnail per
slice (dicomprep makes one per volume in video mode, one per slice in images mode). Only
grey images are handled (the benchmark study is CT); a colour file counts as failed.
The throughput (slices/s, from the start of the folder walk to the last file written) is
printed on stderr; the exit code is 0, or 3 if some files failed (as dicomprep's).
"""

import argparse
import os
import sys
import time
from multiprocessing import Pool

import numpy as np
import PIL
import pydicom
from PIL import Image
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, apply_voi_lut

# Files per Pool task: a slice takes milliseconds, so small chunks balance the workers
# well and the pickled paths and results cost nothing next to the work.
CHUNK_SIZE = 8
THUMBNAIL_BOX = (356, 200)
LQ_QUALITY = 75
THUMBNAIL_QUALITY = 50


def first_float(value):
    """The first value of a possibly multi-valued DS attribute, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple, MultiValue)):
        value = value[0] if len(value) else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def to_8bit(ds):
    """Rescale, window and round the slice's pixels to a uint8 array (rows x columns)."""
    pixels = ds.pixel_array
    if pixels.ndim != 2:
        raise ValueError(f"not a grey single-frame image (array shape {pixels.shape})")
    slope = first_float(ds.get("RescaleSlope"))
    intercept = first_float(ds.get("RescaleIntercept"))
    values = pixels.astype(np.float64)
    if slope is not None and slope != 1.0:
        values *= slope
    if intercept:
        values += intercept

    center = first_float(ds.get("WindowCenter"))
    width = first_float(ds.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        low, high = float(values.min()), float(values.max())
        center, width = (low + high + 1.0) / 2.0, max(high - low, 0.0) + 1.0

    # PS3.3 C.11.2.1.2.1, LINEAR: below c - 0.5 - (w-1)/2 is black, above c - 0.5 + (w-1)/2
    # is white, linear in between. Clipping the line gives the same ends.
    width = max(width, 1.0)
    values -= center - 0.5
    values *= 255.0 / max(width - 1.0, np.finfo(np.float64).tiny)
    values += 127.5
    np.clip(values, 0.0, 255.0, out=values)
    values += 0.5  # round half up, as dicomprep (values are >= 0)
    out = values.astype(np.uint8)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        np.subtract(255, out, out=out)
    return out


def stored_range(ds):
    """The range apply_voi_lut maps a window onto: the stored values' (BitsStored,
    PixelRepresentation), through Rescale Slope/Intercept when both are present."""
    bits = int(ds.BitsStored)
    if ds.get("PixelRepresentation", 0) == 0:
        low, high = 0.0, float(2**bits - 1)
    else:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    slope = first_float(ds.get("RescaleSlope"))
    intercept = first_float(ds.get("RescaleIntercept"))
    if slope is not None and intercept is not None:
        low, high = low * slope + intercept, high * slope + intercept
    return low, high


def to_8bit_pydicom(ds):
    """to_8bit with pydicom's own LUT functions (``--luts pydicom``)."""
    pixels = ds.pixel_array
    if pixels.ndim != 2:
        raise ValueError(f"not a grey single-frame image (array shape {pixels.shape})")
    values = apply_modality_lut(pixels, ds)
    if "WindowCenter" in ds or "VOILUTSequence" in ds:
        values = apply_voi_lut(values, ds)
        low, high = stored_range(ds)
    else:
        low, high = float(values.min()), float(values.max())
    scaled = (values - low) * (255.0 / max(high - low, 1.0))
    out = np.clip(np.round(scaled), 0, 255).astype(np.uint8)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        np.subtract(255, out, out=out)
    return out


CONVERTERS = {"tuned": to_8bit, "pydicom": to_8bit_pydicom}


def render_one(root, rel, out, png_level, luts):
    """Render one file; returns (rel, None) or (rel, error text)."""
    try:
        ds = pydicom.dcmread(os.path.join(root, rel))
        image = Image.fromarray(CONVERTERS[luts](ds), mode="L")
        name = rel.replace("/", "_")
        image.save(os.path.join(out, "hq", name + ".png"), compress_level=png_level)
        image.save(os.path.join(out, "lq", name + ".jpg"), quality=LQ_QUALITY)
        image.thumbnail(THUMBNAIL_BOX)
        image.save(os.path.join(out, "thumbnails", name + ".jpg"), quality=THUMBNAIL_QUALITY)
    except Exception as exc:  # noqa: BLE001 (pydicom and Pillow raise many types)
        return rel, f"{type(exc).__name__}: {exc}"
    return rel, None


def render_chunk(args):
    """Pool task: render a chunk of files (top-level function so that it pickles)."""
    root, rels, out, png_level, luts = args
    return [render_one(root, rel, out, png_level, luts) for rel in rels]


def list_files(root):
    """All regular files below root, as '/'-separated paths relative to it."""
    result = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()  # deterministic walk order
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):
                result.append(os.path.relpath(full, root).replace(os.sep, "/"))
    return result


def render_all(root, rels, out, processes, png_level, luts):
    """Render every file, in this process (P = 1: no pool overhead) or in a Pool."""
    if processes <= 1:
        return [render_one(root, rel, out, png_level, luts) for rel in rels]
    chunks = [(root, rels[i:i + CHUNK_SIZE], out, png_level, luts)
              for i in range(0, len(rels), CHUNK_SIZE)]
    with Pool(processes) as pool:
        results = []
        for part in pool.imap_unordered(render_chunk, chunks):
            results.extend(part)
        return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="folder to render (scanned recursively)")
    parser.add_argument("out", help="output folder (hq/, lq/ and thumbnails/ are made in it)")
    parser.add_argument("--processes", "-p", type=int, default=1,
                        help="worker processes (default 1: render in this process)")
    parser.add_argument("--png-level", type=int, default=1, choices=range(10), metavar="0-9",
                        help="zlib level of the PNGs (default 1, the fastest that compresses)")
    parser.add_argument("--luts", choices=sorted(CONVERTERS), default="tuned",
                        help="whose code maps stored values to 8 bits: our numpy (tuned, "
                             "default) or pydicom's apply_modality_lut + apply_voi_lut")
    args = parser.parse_args()

    started = time.perf_counter()
    for sub in ("hq", "lq", "thumbnails"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    rels = list_files(args.dir)
    results = render_all(args.dir, rels, args.out, args.processes, args.png_level, args.luts)
    seconds = time.perf_counter() - started

    failed = [(rel, error) for rel, error in results if error is not None]
    for rel, error in failed:
        print(f"failed {rel}: {error}", file=sys.stderr)
    rate = len(rels) / seconds if seconds > 0 else float("inf")
    print(f"pydicom {pydicom.__version__}, numpy {np.__version__}, Pillow {PIL.__version__}: "
          f"{len(rels)} slices ({len(failed)} failed) in {seconds:.3f} s with "
          f"{args.processes} process(es), PNG level {args.png_level}, {args.luts} LUTs: "
          f"{rate:.0f} slices/s",
          file=sys.stderr)
    return 3 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
