#!/usr/bin/env python3
"""Reference converter: a DICOM whole-slide image folder -> a tiled pyramidal
BigTIFF with exactly the DICOM's levels (one IFD per level, largest first,
SubfileType 1 on the reduced ones) and its tile size. For testing the oracles
and for comparing with dicomprep's slide.tif; not fast.

  --mode decode  (default) every tile read through OpenSlide (missing sparse
                 tiles composited over --background) and encoded once with
                 --compression (jpeg, deflate or none); tile sides that are not
                 multiples of 16 are rounded up (TIFF needs it)
  --mode copy    JPEG baseline frames copied byte for byte from the DICOM
                 (Photometric YCbCr for YBR_FULL_422 frames, RGB for RGB ones);
                 missing sparse tiles become a --background JPEG tile. Needs
                 tile sides that are multiples of 16. Reads one level's Pixel
                 Data into memory at a time.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

warnings.simplefilter("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from oracle import dicom_files, flatten, parse_rgb  # noqa: E402

SM_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.6"


def dicom_levels(d: Path):
    """VOLUME instances grouped by total matrix size, largest first:
    [(w, h, tile_w, tile_h, [datasets without pixel data], [paths])]."""
    import pydicom
    groups = {}
    for p in dicom_files(d):
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        it = [str(x) for x in ds.ImageType]
        if len(it) < 3 or it[2] != "VOLUME":
            continue
        key = (int(ds.TotalPixelMatrixColumns), int(ds.TotalPixelMatrixRows))
        g = groups.setdefault(key, (int(ds.Columns), int(ds.Rows), [], []))
        g[2].append(ds)
        g[3].append(p)
    out = []
    for (w, h), (tw, th, dss, paths) in sorted(groups.items(), key=lambda kv: -kv[0][0]):
        order = sorted(range(len(dss)), key=lambda i: int(dss[i].get("InConcatenationNumber", 1) or 1))
        out.append((w, h, tw, th, [dss[i] for i in order], [paths[i] for i in order]))
    return out


def frame_map(dss, paths, tw, th, w, h):
    """(col, row) -> (path index, frame index) for one level."""
    across = -(-w // tw)
    m = {}
    for k, ds in enumerate(dss):
        n = int(ds.NumberOfFrames)
        if "PerFrameFunctionalGroupsSequence" in ds:
            for i, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
                pp = item.PlanePositionSlideSequence[0]
                c = (int(pp.ColumnPositionInTotalImagePixelMatrix) - 1) // tw
                r = (int(pp.RowPositionInTotalImagePixelMatrix) - 1) // th
                m.setdefault((c, r), (k, i))
        else:
            off = int(ds.get("ConcatenationFrameOffsetNumber", 0) or 0)
            for i in range(n):
                j = off + i
                m[(j % across, j // across)] = (k, i)
    return m


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("dicom_dir", type=Path, help="DICOM slide folder")
    p.add_argument("out", type=Path, help="output .tif")
    p.add_argument("--mode", choices=["decode", "copy"], default="decode", help="see above (default decode)")
    p.add_argument("--compression", choices=["jpeg", "deflate", "none"], default="jpeg",
                   help="decode mode: tile compression (default jpeg)")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality for decode mode and filler tiles (default 90)")
    p.add_argument("--background", type=parse_rgb, default=(255, 255, 255),
                   help="fill for missing sparse tiles (default white)")
    args = p.parse_args(argv)

    import openslide
    import pydicom
    import tifffile
    from pydicom.encaps import generate_frames

    t0 = time.monotonic()
    levels = dicom_levels(args.dicom_dir)
    if not levels:
        raise SystemExit("no VOLUME instance")
    slide = openslide.OpenSlide(str(dicom_files(args.dicom_dir)[0]))
    os_dims = [tuple(x) for x in slide.level_dimensions]
    mpp = float(slide.properties.get("openslide.mpp-x", 0) or 0)
    summary = {"out": str(args.out), "mode": args.mode, "levels": [], "filled_tiles": 0}
    with tifffile.TiffWriter(args.out, bigtiff=True) as tif:
        for li, (w, h, tw, th, dss, paths) in enumerate(levels):
            k = os_dims.index((w, h))
            f = slide.level_downsamples[k]
            if args.mode == "decode":
                # TIFF tiles must be multiples of 16: round odd DICOM tile sizes up
                tw, th = -(-tw // 16) * 16, -(-th // 16) * 16
            across, down = -(-w // tw), -(-h // th)
            opts = dict(shape=(h, w, 3), dtype=np.uint8, tile=(th, tw),
                        subfiletype=0 if li == 0 else 1, metadata=None)
            if li == 0 and mpp:
                res = 10000.0 / mpp  # pixels per cm
                opts.update(resolution=(res, res), resolutionunit="CENTIMETER")
            if args.mode == "decode":
                def tiles():
                    for r in range(down):
                        for c in range(across):
                            x, y = c * tw, r * th
                            vw, vh = min(tw, w - x), min(th, h - y)
                            a = np.empty((th, tw, 3), np.uint8)
                            a[:] = args.background
                            reg = slide.read_region((int(x * f), int(y * f)), k, (vw, vh))
                            a[:vh, :vw] = flatten(reg, args.background)
                            yield a
                comp = {"jpeg": ("jpeg", {"level": args.quality}), "deflate": ("zlib", None),
                        "none": (None, None)}[args.compression]
                kw = {}
                if comp[0]:
                    kw["compression"] = comp[0]
                    if comp[1]:
                        kw["compressionargs"] = comp[1]
                tif.write(tiles(), photometric="rgb", **kw, **opts)
            else:
                ts = str(dss[0].file_meta.TransferSyntaxUID)
                if ts != "1.2.840.10008.1.2.4.50":
                    raise SystemExit(f"copy mode needs JPEG baseline frames, level {li} has {ts}")
                if tw % 16 or th % 16:
                    raise SystemExit(f"copy mode needs tiles of multiples of 16, level {li} has {tw}x{th}")
                pi = str(dss[0].PhotometricInterpretation)
                fm = frame_map(dss, paths, tw, th, w, h)
                pixel_data = [None] * len(paths)

                def frames_of(kk):
                    if pixel_data[kk] is None:
                        ds = pydicom.dcmread(paths[kk])
                        pixel_data[kk] = list(generate_frames(ds.PixelData,
                                                              number_of_frames=int(ds.NumberOfFrames)))
                    return pixel_data[kk]

                filler = io.BytesIO()
                Image.new("RGB", (tw, th), tuple(args.background)).save(
                    filler, "JPEG", quality=args.quality,
                    **({"keep_rgb": True, "subsampling": 0} if pi == "RGB" else {"subsampling": 1}))
                filled = [0]

                def tiles():
                    for r in range(down):
                        for c in range(across):
                            loc = fm.get((c, r))
                            if loc is None:
                                filled[0] += 1
                                yield filler.getvalue()
                            else:
                                yield frames_of(loc[0])[loc[1]]
                photometric = "rgb" if pi == "RGB" else "ycbcr"
                # YBR_FULL_422 frames: Photometric YCbCr, YCbCrSubSampling 2,1 (tifffile adds
                # ReferenceBlackWhite); RGB frames (Adobe, no transform): Photometric RGB
                extra = {"subsampling": (1, 1), "compressionargs": {"outcolorspace": "RGB"}} \
                    if pi == "RGB" else {"subsampling": (2, 1)}
                tif.write(tiles(), photometric=photometric, compression="jpeg", **extra, **opts)
                summary["filled_tiles"] += filled[0]
                pixel_data[:] = [None] * len(paths)
            summary["levels"].append({"width": w, "height": h, "tile": [tw, th]})
    summary["seconds"] = round(time.monotonic() - t0, 2)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
