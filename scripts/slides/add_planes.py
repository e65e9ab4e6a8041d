#!/usr/bin/env python3
"""Gives a generated TILED_SPARSE slide (make_slide.py --organization sparse --codec none) a
second optical path and a second focal plane, for the tests of `convert --slide-planes all`.

usage: add_planes.py SLIDE_DIR OUT_DIR

Every VOLUME instance gets OpticalPathSequence items "1" and "2" and frames for the four
(path, focal plane) pairs: path 1 at z 0 is the original; the others are made from it so that
each pair differs (z 1.5: the colours inverted; path 2: the channels rotated). Per-frame
Optical Path Identification and Plane Position (Slide) Z offsets say which is which, as
wsidicom reads them. Other instances are copied as they are.
"""

import copy
import sys
from pathlib import Path

import numpy as np
import pydicom


def variant(pixels, path, z):
    out = pixels
    if z:
        out = 255 - out
    if path == "2":
        out = np.roll(out, 1, axis=-1)
    return out


def main(src: Path, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        if list(ds.ImageType)[2] != "VOLUME" or ds.DimensionOrganizationType != "TILED_SPARSE":
            ds.save_as(out / path.name, enforce_file_format=True)
            continue
        frames = ds.pixel_array.reshape(int(ds.NumberOfFrames), ds.Rows, ds.Columns, 3)
        second = copy.deepcopy(ds.OpticalPathSequence[0])
        second.OpticalPathIdentifier = "2"
        ds.OpticalPathSequence.append(second)
        ds.NumberOfOpticalPaths = 2
        ds.TotalPixelMatrixFocalPlanes = 2
        groups, pixels = [], []
        for optical_path in ("1", "2"):
            for z in (0.0, 1.5):
                for item, frame in zip(ds.PerFrameFunctionalGroupsSequence, frames):
                    item = copy.deepcopy(item)
                    item.PlanePositionSlideSequence[0].ZOffsetInSlideCoordinateSystem = z
                    ident = pydicom.Dataset()
                    ident.OpticalPathIdentifier = optical_path
                    item.OpticalPathIdentificationSequence = [ident]
                    groups.append(item)
                    pixels.append(variant(frame, optical_path, z))
        ds.PerFrameFunctionalGroupsSequence = groups
        ds.NumberOfFrames = len(pixels)
        ds.PixelData = np.stack(pixels).astype(np.uint8).tobytes()
        ds.save_as(out / path.name, enforce_file_format=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
