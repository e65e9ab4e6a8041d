#!/usr/bin/env python3
"""Derive the tiles of Siemens mosaics for dicomprep's tests, independently of the Rust
implementation, with pydicom (headers) and nibabel's CSA reader (nibabel.nicom.csareader).

Usage:
    python3 scripts/expected-mosaic.py TEST_DATA_ROOT [--out DIR] [CASE ...]

For every case folder (relative to TEST_DATA_ROOT; default: DEFAULT_CASES) every file whose
ImageType holds MOSAIC is described in TEST_DATA_ROOT/expected/mosaic__<case-name>.json
(<case-name>: the case path with '/' replaced by '__'):

    {"case": "<case>",
     "files": {"<path>": {
         "series_instance_uid": "...", "instance_number": N,
         "rows": R, "columns": C,                  # the stored frame (whole grid)
         "tiles": T, "grid": G, "tile_rows": r, "tile_columns": c,
         "reversed": bool,                         # CSA ProtocolSliceNumber > 1
         "normal": [x, y, z],                      # unit row x column direction
         "positions": [[x, y, z], ...],            # ImagePositionPatient of tile 0..T-1
         "projections": [d, ...],                  # dot(normal, position) of each tile
         "tile_values": [[min, max, sum], ...]}}}  # stored values of each tile's pixels

Paths are relative to the case folder, with '/' separators.

Definitions (dcm2niix's, see its nii_dicom.c / nibabel's dicomwrappers.MosaicWrapper):

* tiles: CSA image header NumberOfImagesInMosaic, else private (0019,xx0A) of creator
  "SIEMENS MR HEADER"; grid = ceil(sqrt(tiles)); tile_rows = rows / grid (same for columns).
* tile 0 = IPP + row_dir * PixelSpacing[1] * (columns - tile_columns) / 2
             + col_dir * PixelSpacing[0] * (rows - tile_rows) / 2
  (IPP describes the corner of the whole grid); checked against nibabel's
  MosaicWrapper.image_position.
* tile k holds the pixels of grid row k // grid, grid column k % grid of the stored frame
  (pydicom's pixel_array).
* tile k = tile 0 + k * dz * s * normal, normal = unit(row_dir x col_dir),
  dz = SpacingBetweenSlices if > 0 else SliceThickness, s = -1 when the CSA SliceNormalVector
  points against normal, else +1.
"""

import argparse
import json
import math
import os
import sys
import warnings

import numpy as np
import pydicom
from nibabel.nicom import csareader

DEFAULT_CASES = ["dcm_qa_nih/In/20180918Si"]


def list_files(case_dir):
    result = []
    for dirpath, dirnames, filenames in os.walk(case_dir):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            result.append(os.path.relpath(full, case_dir).replace(os.sep, "/"))
    return sorted(result)


def private_tiles(ds):
    """(0019,xx0A) in the block of creator SIEMENS MR HEADER."""
    for block in range(0x10, 0x100):
        creator = ds.get((0x0019, block))
        if creator is not None and str(creator.value).strip().upper() == "SIEMENS MR HEADER":
            element = ds.get((0x0019, (block << 8) | 0x0A))
            return None if element is None else int(element.value)
    return None


def describe(ds):
    csa = csareader.get_csa_header(ds, "image")
    tiles = csareader.get_n_mosaic(csa) if csa else None
    if not tiles:
        tiles = private_tiles(ds)
    grid = math.ceil(math.sqrt(tiles))
    rows, columns = int(ds.Rows), int(ds.Columns)
    tile_rows, tile_columns = rows // grid, columns // grid
    iop = np.array([float(v) for v in ds.ImageOrientationPatient])
    row_dir, col_dir = iop[:3], iop[3:]
    ipp = np.array([float(v) for v in ds.ImagePositionPatient])
    spacing = [float(v) for v in ds.PixelSpacing]
    first = (ipp + row_dir * spacing[1] * (columns - tile_columns) / 2
             + col_dir * spacing[0] * (rows - tile_rows) / 2)

    # Independent check of tile 0 with nibabel's own mosaic geometry.
    from nibabel.nicom.dicomwrappers import wrapper_from_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapper = wrapper_from_data(ds)
        nib_first = np.asarray(wrapper.image_position, dtype=float)
    if not np.allclose(nib_first, first, atol=1e-6):
        raise SystemExit(f"tile 0 {first} disagrees with nibabel's {nib_first}")

    normal = np.cross(row_dir, col_dir)
    normal = normal / np.linalg.norm(normal)
    dz = float(ds.get("SpacingBetweenSlices") or 0)
    if dz <= 0:
        dz = float(ds.SliceThickness)
    csa_normal = csareader.get_slice_normal(csa) if csa else None
    sign = -1.0 if csa_normal is not None and np.dot(csa_normal, normal) < 0 else 1.0
    positions = [first + k * dz * sign * normal for k in range(tiles)]
    protocol_slice = csareader.get_scalar(csa, "ProtocolSliceNumber") if csa else None
    pixels = ds.pixel_array
    tile_values = []
    for k in range(tiles):
        r, c = divmod(k, grid)
        tile = pixels[r * tile_rows:(r + 1) * tile_rows, c * tile_columns:(c + 1) * tile_columns]
        tile_values.append([int(tile.min()), int(tile.max()), int(tile.astype(np.int64).sum())])
    return {
        "series_instance_uid": str(ds.SeriesInstanceUID),
        "instance_number": int(ds.InstanceNumber),
        "rows": rows,
        "columns": columns,
        "tiles": int(tiles),
        "grid": grid,
        "tile_rows": tile_rows,
        "tile_columns": tile_columns,
        "reversed": bool(protocol_slice is not None and protocol_slice > 1),
        "normal": normal.tolist(),
        "positions": [p.tolist() for p in positions],
        "projections": [float(np.dot(normal, p)) for p in positions],
        "tile_values": tile_values,
    }


def process_case(root, case):
    case_dir = os.path.join(root, case)
    files = {}
    for rel in list_files(case_dir):
        try:
            ds = pydicom.dcmread(os.path.join(case_dir, rel))
        except Exception as exc:  # not DICOM (README files)
            print(f"  skip {case}/{rel}: {type(exc).__name__}", file=sys.stderr)
            continue
        if "MOSAIC" not in [str(v).strip() for v in ds.get("ImageType", [])]:
            continue
        files[rel] = describe(ds)
    return {"case": case, "files": files}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="test-data root folder")
    parser.add_argument("cases", nargs="*", default=DEFAULT_CASES)
    parser.add_argument("--out", help="output folder (default: ROOT/expected)")
    args = parser.parse_args()
    out_dir = args.out or os.path.join(args.root, "expected")
    os.makedirs(out_dir, exist_ok=True)
    for case in args.cases:
        case = case.strip("/")
        result = process_case(args.root, case)
        out_path = os.path.join(out_dir, "mosaic__" + case.replace("/", "__") + ".json")
        with open(out_path, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1)
            fh.write("\n")
        print(f"{case}: {len(result['files'])} mosaic files -> {out_path}")


if __name__ == "__main__":
    main()
