#!/usr/bin/env python3
"""A slide made by a third party's dicomizer (Debian's orthanc-wsi, OrthancWSIDicomizer), for
the tests: what it reads, and a copy of what it writes that OpenSlide accepts.

    dicomizer_case.py picture OUT.png [WIDTH HEIGHT]
        scikit-image's immunohistochemistry picture (real microscopy pixels) tiled up to
        WIDTH x HEIGHT (default 1500 x 1000): the dicomizer's input.
    dicomizer_case.py fix DICOMIZED_DIR OUT_DIR
        OrthancWSIDicomizer 1.1 writes no ImageType and no DimensionOrganizationType, and marks
        each level a concatenation of one instance; OpenSlide refuses such files. The copy gets
        ImageType ORIGINAL\\PRIMARY\\VOLUME\\NONE and TILED_FULL (true with --threads=1) and
        loses the one-part concatenation, so that OpenSlide can be the oracle of the
        dicomizer's slide as written.
"""

import importlib.util
import sys
from pathlib import Path

import pydicom
from PIL import Image


def picture(out: Path, width: int = 1500, height: int = 1000):
    data = Path(importlib.util.find_spec("skimage").submodule_search_locations[0]) / "data"
    tile = Image.open(data / "ihc.png").convert("RGB")
    big = Image.new("RGB", (width, height))
    for y in range(0, height, tile.height):
        for x in range(0, width, tile.width):
            big.paste(tile, (x, y))
    big.save(out)


def fix(src: Path, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
        ds.DimensionOrganizationType = "TILED_FULL"
        for keyword in (
            "ConcatenationUID",
            "InConcatenationNumber",
            "InConcatenationTotalNumber",
            "ConcatenationFrameOffsetNumber",
            "SOPInstanceUIDOfConcatenationSource",
        ):
            if keyword in ds:
                delattr(ds, keyword)
        ds.save_as(out / path.name, enforce_file_format=True)


if __name__ == "__main__":
    if sys.argv[1] == "picture":
        picture(Path(sys.argv[2]), *map(int, sys.argv[3:5]))
    else:
        fix(Path(sys.argv[2]), Path(sys.argv[3]))
