#!/usr/bin/env python3
"""Oracles for whole-slide outputs: what OpenSlide 4 (and wsidicom, tifffile)
read from a DICOM slide, a pyramidal TIFF and Deep Zoom tiles. Every subcommand
prints one JSON object on standard output; the comparing ones exit 1 when a
check fails (the JSON says which), 2 on bad input.

  dicom-info DIR                      levels, sizes, downsamples, mpp, associated images
  tiff-info FILE                      OpenSlide's and tifffile's view of a tiled TIFF
  compare-regions DICOM_DIR TIFF      random regions of one level, DICOM vs TIFF
  dzi-check DZI DICOM_DIR             every Deep Zoom tile vs OpenSlide's read of the DICOM

Pixels: OpenSlide returns RGBA with transparent pixels where a TILED_SPARSE slide
has no tile; they are composited over --background (white by default), which is
what a converter is expected to fill missing tiles with.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PIL import Image

warnings.simplefilter("ignore")  # wsidicom and pydicom warn about benign things

SM_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.6"

Image.MAX_IMAGE_PIXELS = None


# ----------------------------------------------------------------------------
# helpers


def emit(res: dict) -> None:
    """JSON on stdout, lists of plain numbers kept on one line."""
    text = json.dumps(res, indent=1)
    text = re.sub(r"\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    print(text)


def parse_rgb(s: str) -> tuple[int, int, int]:
    named = {"white": (255, 255, 255), "black": (0, 0, 0)}
    if s in named:
        return named[s]
    parts = [int(p) for p in s.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("expected R,G,B or white/black")
    return tuple(parts)


def flatten(img: Image.Image, bg) -> np.ndarray:
    """RGBA (OpenSlide) or RGB image -> uint8 (h, w, 3), alpha composited over bg."""
    a = np.asarray(img)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.shape[2] == 4:
        rgb = a[..., :3].astype(np.float32)
        al = a[..., 3:4].astype(np.float32) / 255.0
        if (al == 1).all():
            return np.ascontiguousarray(a[..., :3])
        out = rgb * al + np.array(bg, np.float32) * (1 - al)
        return (out + 0.5).astype(np.uint8)
    return np.ascontiguousarray(a[..., :3])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    mse = float((d * d).mean()) if d.size else 0.0
    if mse == 0:
        return math.inf
    return 10 * math.log10(255.0 ** 2 / mse)


def jnum(x: float):
    """JSON has no infinity: exact matches are reported as the string "inf"."""
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return round(x, 3) if isinstance(x, float) else x


def dicom_files(d: Path) -> list[Path]:
    """The slide-microscopy files of a folder, level-0 VOLUME first."""
    import pydicom
    found = []
    for p in sorted(d.iterdir()):
        if not p.is_file():
            continue
        try:
            ds = pydicom.dcmread(p, stop_before_pixels=True,
                                 specific_tags=["SOPClassUID", "ImageType", "TotalPixelMatrixColumns"])
        except Exception:
            continue
        if str(ds.get("SOPClassUID", "")) != SM_CLASS:
            continue
        it = [str(x) for x in ds.get("ImageType", [])]
        is_vol = len(it) > 2 and it[2] == "VOLUME"
        found.append((not is_vol, -int(ds.get("TotalPixelMatrixColumns", 0) or 0), p))
    found.sort()
    return [p for (_, _, p) in found]


def open_dicom_openslide(d: Path):
    import openslide
    files = dicom_files(d)
    if not files:
        raise SystemExit(f"no slide-microscopy DICOM file in {d}")
    return openslide.OpenSlide(str(files[0])), files


def open_dicom_wsidicom(d: Path):
    import wsidicom
    return wsidicom.WsiDicom.open(str(d))


def openslide_summary(s) -> dict:
    import openslide
    p = s.properties
    out = {
        "openslide_version": openslide.__library_version__,
        "vendor": p.get("openslide.vendor"),
        "level_count": s.level_count,
        "level_dimensions": [list(x) for x in s.level_dimensions],
        "level_downsamples": [round(x, 6) for x in s.level_downsamples],
        "level_tile_sizes": [[int(p.get(f"openslide.level[{i}].tile-width", 0)),
                              int(p.get(f"openslide.level[{i}].tile-height", 0))]
                             for i in range(s.level_count)],
        "mpp_x": float(p["openslide.mpp-x"]) if "openslide.mpp-x" in p else None,
        "mpp_y": float(p["openslide.mpp-y"]) if "openslide.mpp-y" in p else None,
        "objective_power": p.get("openslide.objective-power"),
        "associated_images": {k: list(v.size) for k, v in s.associated_images.items()},
        "icc_profile": s.color_profile is not None,
        "background_color": p.get("openslide.background-color"),
    }
    return out


# ----------------------------------------------------------------------------
# dicom-info


def cmd_dicom_info(args) -> int:
    d = Path(args.dir)
    res: dict = {"dir": str(d)}
    try:
        s, files = open_dicom_openslide(d)
        res["files"] = [p.name for p in files]
        res["openslide"] = openslide_summary(s)
        if args.properties:
            res["openslide"]["properties"] = dict(s.properties)
        s.close()
    except Exception as e:  # noqa: BLE001 - reported in JSON
        res["openslide"] = {"error": f"{type(e).__name__}: {e}"}
    if not args.no_wsidicom:
        try:
            w = open_dicom_wsidicom(d)
            res["wsidicom"] = {
                "levels": [{"width": lv.size.width, "height": lv.size.height,
                            "tile": [lv.tile_size.width, lv.tile_size.height],
                            "mpp": [lv.mpp.width, lv.mpp.height]}
                           for lv in w.levels],
                "mpp": [w.mpp.width, w.mpp.height] if w.mpp else None,
                "labels": [[im.size.width, im.size.height] for im in (w.labels or [])] if w.labels else [],
                "overviews": [[im.size.width, im.size.height] for im in (w.overviews or [])] if w.overviews else [],
            }
            w.close()
        except Exception as e:  # noqa: BLE001
            res["wsidicom"] = {"error": f"{type(e).__name__}: {e}"}
    emit(res)
    return 0 if "error" not in res["openslide"] else 1


# ----------------------------------------------------------------------------
# tiff-info


def cmd_tiff_info(args) -> int:
    import openslide
    import tifffile
    res: dict = {"file": args.file}
    try:
        s = openslide.OpenSlide(args.file)
        res["openslide"] = openslide_summary(s)
        s.close()
    except Exception as e:  # noqa: BLE001
        res["openslide"] = {"error": f"{type(e).__name__}: {e}"}
    try:
        with tifffile.TiffFile(args.file) as t:
            pages = []
            for i, pg in enumerate(t.pages):
                pages.append({
                    "ifd": i,
                    "width": pg.imagewidth, "height": pg.imagelength,
                    "tiled": pg.is_tiled,
                    "tile": [pg.tilewidth, pg.tilelength] if pg.is_tiled else None,
                    "compression": pg.compression.name,
                    "photometric": pg.photometric.name,
                    "samples": pg.samplesperpixel,
                    "subfiletype": int(pg.subfiletype),
                    "jpeg_tables": bool(pg.jpegtables) if hasattr(pg, "jpegtables") else None,
                    "subifds": len(pg.subifds) if pg.subifds else 0,
                    "description": (pg.description or "")[:200],
                })
            res["tifffile"] = {
                "bigtiff": t.is_bigtiff,
                "ifds": len(t.pages),
                "pages": pages,
                "series": [{"name": se.name, "kind": se.kind,
                            "levels": [list(lv.shape) for lv in se.levels]} for se in t.series],
            }
    except Exception as e:  # noqa: BLE001
        res["tifffile"] = {"error": f"{type(e).__name__}: {e}"}
    emit(res)
    return 0 if "error" not in res["openslide"] else 1


# ----------------------------------------------------------------------------
# compare-plane
def cmd_compare_plane(args) -> int:
    """wsidicom's read of one optical path at one focal plane against level 0 of a TIFF."""
    import tifffile
    wsi = open_dicom_wsidicom(Path(args.dicom_dir))
    tiff = tifffile.TiffFile(args.tiff).pages[0].asarray()[..., :3]
    h, w = tiff.shape[:2]
    rng = np.random.default_rng(args.seed)
    worst, regions = float("inf"), []
    for _ in range(args.regions):
        size = min(args.size, w), min(args.size, h)
        x, y = int(rng.integers(0, w - size[0] + 1)), int(rng.integers(0, h - size[1] + 1))
        a = np.asarray(wsi.read_region((x, y), 0, size, z=args.z, path=args.path))[..., :3]
        b = tiff[y:y + size[1], x:x + size[0]]
        p = psnr(a, b)
        worst = min(worst, p)
        regions.append({"x": x, "y": y, "psnr": jnum(p)})
    ok = worst >= args.min_psnr
    print(json.dumps({"z": args.z, "path": args.path, "regions": regions,
                      "worst_psnr": jnum(worst), "pass": ok}, indent=1))
    return 0 if ok else 1


# compare-regions


def cmd_compare_regions(args) -> int:
    import openslide
    ds, _ = open_dicom_openslide(Path(args.dicom_dir))
    ts = openslide.OpenSlide(args.tiff)
    res: dict = {"dicom_dir": args.dicom_dir, "tiff": args.tiff, "level": args.level,
                 "min_psnr": jnum(args.min_psnr), "checks": {}, "regions": []}
    ok = True
    lv_ok = [list(x) for x in ds.level_dimensions] == [list(x) for x in ts.level_dimensions]
    res["checks"]["level_dimensions_equal"] = lv_ok
    res["dicom_levels"] = [list(x) for x in ds.level_dimensions]
    res["tiff_levels"] = [list(x) for x in ts.level_dimensions]
    if not args.no_level_check and not lv_ok:
        ok = False
    if args.level >= ds.level_count or args.level >= ts.level_count:
        res["error"] = "level out of range"
        emit(res)
        return 1
    W, H = ds.level_dimensions[args.level]
    if list(ts.level_dimensions[args.level]) != [W, H]:
        res["error"] = "level sizes differ"
        emit(res)
        return 1
    f = ds.level_downsamples[args.level]
    fts = ts.level_downsamples[args.level]
    wsi = None
    if not args.no_wsidicom:
        try:
            wsi = open_dicom_wsidicom(Path(args.dicom_dir))
        except Exception as e:  # noqa: BLE001
            res["wsidicom_error"] = f"{type(e).__name__}: {e}"
    rng = np.random.default_rng(args.seed)
    S = args.size
    boxes = [(0, 0), (max(0, W - S), max(0, H - S))]  # corners: top-left, bottom-right
    while len(boxes) < args.regions:
        boxes.append((int(rng.integers(0, max(1, W - S + 1))), int(rng.integers(0, max(1, H - S + 1)))))
    boxes = boxes[:args.regions]
    worst = math.inf
    for (x, y) in boxes:
        w, h = min(S, W - x), min(S, H - y)
        a = flatten(ds.read_region((int(x * f), int(y * f)), args.level, (w, h)), args.background)
        b = flatten(ts.read_region((int(x * fts), int(y * fts)), args.level, (w, h)), args.background)
        r = {"x": x, "y": y, "w": w, "h": h,
             "max_abs_diff": int(np.abs(a.astype(int) - b.astype(int)).max()),
             "psnr": psnr(a, b)}
        if wsi is not None:
            try:
                c = flatten(wsi.read_region((x, y), args.level, (w, h)), args.background)
                r["wsidicom_vs_tiff_psnr"] = jnum(psnr(c, b))
                r["wsidicom_vs_tiff_max_abs_diff"] = int(np.abs(c.astype(int) - b.astype(int)).max())
                r["wsidicom_vs_openslide_max_abs_diff"] = int(np.abs(c.astype(int) - a.astype(int)).max())
            except Exception as e:  # noqa: BLE001
                r["wsidicom_error"] = f"{type(e).__name__}: {e}"
        worst = min(worst, r["psnr"])
        passed = r["max_abs_diff"] == 0 if math.isinf(args.min_psnr) else r["psnr"] >= args.min_psnr
        r["pass"] = passed
        ok = ok and passed
        r["psnr"] = jnum(r["psnr"])
        res["regions"].append(r)
    res["worst_psnr"] = jnum(worst)
    res["pass"] = ok
    emit(res)
    return 0 if ok else 1


# ----------------------------------------------------------------------------
# dzi-check


def parse_dzi(path: Path) -> dict:
    root = ET.parse(path).getroot()
    tag = root.tag.split("}")[-1]
    if tag != "Image":
        raise SystemExit(f"{path}: root element is {tag}, not Image")
    size = None
    for ch in root:
        if ch.tag.split("}")[-1] == "Size":
            size = ch
    if size is None:
        raise SystemExit(f"{path}: no Size element")
    return {"tile_size": int(root.get("TileSize")), "overlap": int(root.get("Overlap")),
            "format": root.get("Format"), "width": int(size.get("Width")),
            "height": int(size.get("Height"))}


class Reference:
    """OpenSlide's DICOM slide at any Deep Zoom level: regions of the OpenSlide
    level whose size equals the DZ level's (read as is), else of the best finer
    level, resized with a box (area) filter."""

    def __init__(self, slide, bg, filt):
        self.s = slide
        self.bg = bg
        self.filt = filt

    def region(self, dz_down: int, dz_w: int, dz_h: int, x0: int, y0: int, w: int, h: int) -> np.ndarray:
        s = self.s
        for k, (lw, lh) in enumerate(s.level_dimensions):
            if (lw, lh) == (dz_w, dz_h):
                f = s.level_downsamples[k]
                return flatten(s.read_region((int(round(x0 * f)), int(round(y0 * f))), k, (w, h)), self.bg)
        # the finest level no finer than needed
        k = s.get_best_level_for_downsample(dz_down)
        lw, lh = s.level_dimensions[k]
        W0, H0 = s.level_dimensions[0]
        # scale from DZ-level coordinates to level-k coordinates
        sx = lw / dz_w
        sy = lh / dz_h
        bx0, by0 = x0 * sx, y0 * sy
        bx1, by1 = min((x0 + w) * sx, lw), min((y0 + h) * sy, lh)
        ix0, iy0 = int(math.floor(bx0)), int(math.floor(by0))
        ix1, iy1 = int(math.ceil(bx1)), int(math.ceil(by1))
        f = s.level_downsamples[k]
        reg = s.read_region((int(round(ix0 * f)), int(round(iy0 * f))), k, (ix1 - ix0, iy1 - iy0))
        img = Image.fromarray(flatten(reg, self.bg))
        img = img.resize((w, h), self.filt, box=(bx0 - ix0, by0 - iy0, bx1 - ix0, by1 - iy0))
        return np.asarray(img)


def cmd_dzi_check(args) -> int:
    dzi = Path(args.dzi)
    meta = parse_dzi(dzi)
    files = dzi.with_name(dzi.stem + "_files")
    ds, _ = open_dicom_openslide(Path(args.dicom_dir))
    W0, H0 = ds.dimensions
    res: dict = {"dzi": str(dzi), "dicom_dir": args.dicom_dir, "dzi_meta": meta,
                 "min_psnr": args.min_psnr, "min_psnr_small": args.min_psnr_small, "levels": [], "problems": []}
    ok = True
    if (meta["width"], meta["height"]) != (W0, H0):
        res["problems"].append(f"dzi size {meta['width']}x{meta['height']} != slide {W0}x{H0}")
        ok = False
    W, H = meta["width"], meta["height"]
    T, O = meta["tile_size"], meta["overlap"]
    max_l = int(math.ceil(math.log2(max(W, H)))) if max(W, H) > 1 else 0
    present = sorted(int(p.name) for p in files.iterdir() if p.is_dir() and p.name.isdigit())
    if present != list(range(max_l + 1)):
        res["problems"].append(f"level folders {present[:3]}..{present[-3:]} != 0..{max_l}")
        ok = False
    filt = {"box": Image.Resampling.BOX, "lanczos": Image.Resampling.LANCZOS,
            "bilinear": Image.Resampling.BILINEAR}[args.filter]
    ref = Reference(ds, args.background, filt)
    levels = range(max_l, -1, -1)
    if args.levels:
        levels = [lv for lv in levels if lv in set(args.levels)]
    for L in levels:
        d = 1 << (max_l - L)
        w, h = -(-W // d), -(-H // d)
        cols, rows = -(-w // T), -(-h // T)
        ld = files / str(L)
        expect = {f"{c}_{r}.{meta['format']}" for c in range(cols) for r in range(rows)}
        have = {p.name for p in ld.iterdir()} if ld.is_dir() else set()
        missing = sorted(expect - have)
        extra = sorted(have - expect)
        info = {"level": L, "width": w, "height": h, "cols": cols, "rows": rows,
                "tiles": len(expect), "missing": len(missing), "extra": len(extra),
                "wrong_size": 0, "min_psnr": math.inf, "mean_psnr": 0.0, "max_abs_diff": 0}
        if missing:
            res["problems"].append(f"level {L}: {len(missing)} tiles missing, e.g. {missing[:3]}")
            ok = False
        if extra:
            res["problems"].append(f"level {L}: {len(extra)} unexpected files, e.g. {extra[:3]}")
            ok = False
        psnrs = []
        for r in range(rows):
            ty0 = max(0, r * T - O)
            ty1 = min(h, (r + 1) * T + O)
            strip = ref.region(d, w, h, 0, ty0, w, ty1 - ty0)
            for c in range(cols):
                name = f"{c}_{r}.{meta['format']}"
                if name not in have:
                    continue
                tx0 = max(0, c * T - O)
                tx1 = min(w, (c + 1) * T + O)
                with Image.open(ld / name) as im:
                    tile = np.asarray(im.convert("RGB"))
                if tile.shape[:2] != (ty1 - ty0, tx1 - tx0):
                    info["wrong_size"] += 1
                    if info["wrong_size"] <= 3:
                        res["problems"].append(
                            f"level {L} tile {name}: {tile.shape[1]}x{tile.shape[0]} "
                            f"!= {tx1 - tx0}x{ty1 - ty0}")
                    ok = False
                    continue
                expect_px = strip[:, tx0:tx1]
                p = psnr(tile, expect_px)
                psnrs.append(p)
                info["max_abs_diff"] = max(info["max_abs_diff"],
                                           int(np.abs(tile.astype(int) - expect_px.astype(int)).max()))
                if p < info["min_psnr"]:
                    info["min_psnr"] = p
                    info["worst_tile"] = name
        finite = [p for p in psnrs if not math.isinf(p)]
        info["mean_psnr"] = jnum(sum(finite) / len(finite)) if finite else "inf"
        if max(w, h) < args.tiny:
            limit = None  # a few pixels: PSNR means little, only sizes are checked
        else:
            limit = args.min_psnr if max(w, h) >= args.small else args.min_psnr_small
        info["limit"] = limit
        if limit is not None and info["min_psnr"] < limit:
            res["problems"].append(f"level {L}: min PSNR {info['min_psnr']:.2f} < {limit} "
                                   f"(tile {info.get('worst_tile')})")
            ok = False
        info["min_psnr"] = jnum(info["min_psnr"])
        res["levels"].append(info)
    res["pass"] = ok
    emit(res)
    return 0 if ok else 1


# ----------------------------------------------------------------------------


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    sub = p.add_subparsers(dest="cmd", required=True)

    q = sub.add_parser("dicom-info", help="OpenSlide's (and wsidicom's) view of a DICOM slide folder",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    q.add_argument("dir", help="folder holding the slide's DICOM files (one slide)")
    q.add_argument("--properties", action="store_true", help="include every OpenSlide property")
    q.add_argument("--no-wsidicom", action="store_true", help="skip wsidicom")
    q.set_defaults(fn=cmd_dicom_info)

    q = sub.add_parser("tiff-info", help="OpenSlide's and tifffile's view of a pyramidal TIFF",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    q.add_argument("file", help="the TIFF file")
    q.set_defaults(fn=cmd_tiff_info)

    q = sub.add_parser("compare-plane", help="one optical path at one focal plane (wsidicom) vs a TIFF's level 0")
    q.add_argument("dicom_dir")
    q.add_argument("tiff")
    q.add_argument("--z", type=float, required=True, help="ZOffsetInSlideCoordinateSystem of the plane")
    q.add_argument("--path", required=True, help="OpticalPathIdentifier")
    q.add_argument("--regions", type=int, default=8)
    q.add_argument("--size", type=int, default=64)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--min-psnr", type=float, default=40.0)
    q.set_defaults(fn=cmd_compare_plane)

    q = sub.add_parser("compare-regions", help="random regions, DICOM (OpenSlide, wsidicom) vs TIFF (OpenSlide)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    q.add_argument("dicom_dir", help="DICOM slide folder")
    q.add_argument("tiff", help="pyramidal TIFF")
    q.add_argument("--regions", type=int, default=16,
                   help="number of regions (the first two are the top-left and bottom-right corners)")
    q.add_argument("--size", type=int, default=512, help="region side in pixels (clipped at the edges)")
    q.add_argument("--seed", type=int, default=0, help="seed for region positions")
    q.add_argument("--level", type=int, default=0, help="OpenSlide level to compare (coordinates in that level)")
    q.add_argument("--min-psnr", type=float, default=math.inf,
                   help="pass when every region's PSNR (OpenSlide DICOM vs OpenSlide TIFF) is at least "
                        "this; the default (inf) demands identical pixels")
    q.add_argument("--background", type=parse_rgb, default=(255, 255, 255),
                   help="colour that transparent pixels (missing sparse tiles) are composited over")
    q.add_argument("--no-level-check", action="store_true",
                   help="do not fail when the level counts/sizes differ")
    q.add_argument("--no-wsidicom", action="store_true", help="skip the wsidicom read of the DICOM")
    q.set_defaults(fn=cmd_compare_regions)

    q = sub.add_parser("dzi-check", help="every Deep Zoom tile vs OpenSlide's read of the DICOM",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    q.add_argument("dzi", help="the .dzi file; tiles are read from <stem>_files/LEVEL/COL_ROW.<Format>")
    q.add_argument("dicom_dir", help="DICOM slide folder")
    q.add_argument("--min-psnr", type=float, default=30.0, help="minimum PSNR of every tile")
    q.add_argument("--small", type=int, default=256,
                   help="levels whose long side is below this use --min-psnr-small: at a few dozen "
                        "pixels, JPEG chroma subsampling alone costs ~31 dB and libvips dzsave ~26 dB")
    q.add_argument("--min-psnr-small", type=float, default=22.0, help="minimum tile PSNR on small levels")
    q.add_argument("--tiny", type=int, default=16,
                   help="levels whose long side is below this are checked for tile presence and size only")
    q.add_argument("--filter", choices=["box", "lanczos", "bilinear"], default="box",
                   help="filter for reference levels that OpenSlide does not hold at the DZ size")
    q.add_argument("--levels", type=int, nargs="*", help="check only these DZ levels")
    q.add_argument("--background", type=parse_rgb, default=(255, 255, 255),
                   help="colour that transparent pixels (missing sparse tiles) are composited over")
    q.set_defaults(fn=cmd_dzi_check)

    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
