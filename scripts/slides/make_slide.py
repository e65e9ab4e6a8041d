#!/usr/bin/env python3
"""Write a DICOM whole-slide image (VL Whole Slide Microscopy Image, SOP class
1.2.840.10008.5.1.4.1.1.77.1.6) from real microscopy pixels.

The pixels are scikit-image's immunohistochemistry picture (512x512 RGB, colonic
glands, "no known copyright restrictions"), mirrored into a 1024x1024 period,
shifted by a seeded offset and modulated by a smooth "tissue" mask and a colour
gradient, so that no two tiles of the slide are alike and a misplaced tile shows.

Level L (L = 0 is the full resolution) is ceil(W / 2^L) x ceil(H / 2^L) pixels:
sizes are rounded up, so levels do not halve exactly. Level L's pixels are the
2^L x 2^L box average of level 0's for L <= 7 (to within rounding and the slowly varying
mask), so a reader may build any level from any other.

Everything is made tile by tile and streamed to disk: memory stays at a few
tiles whatever the slide's size. The output is reproducible: the same flags
and --seed give byte-identical files (UIDs and dates derive from the seed).

One folder per slide, one file per instance:
  level-<L>.dcm (or level-<L>-part-<i>.dcm with --concatenate), label.dcm,
  overview.dcm, thumbnail.dcm.
A JSON summary (levels, files, dropped tiles) is printed on standard output.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import os
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageDraw, ImageFont

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

SM_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.6"
TS_EXPLICIT_LE = "1.2.840.10008.1.2.1"
TS_JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
TS_J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
TS_J2K = "1.2.840.10008.1.2.4.91"

# tags used as dimension index pointers
TAG_PLANE_POSITION_SLIDE_SEQ = 0x0048021A
TAG_COLUMN_POSITION = 0x0048021E
TAG_ROW_POSITION = 0x0048021F

PERIOD = 1024  # the mirrored source picture repeats every 1024 pixels
MAX_EXACT_LEVEL = 10  # 2^10 = PERIOD: deeper levels reuse the 1x1 average
# the seeded offset is a multiple of 128, so levels 0..7 are exact box averages of
# level 0 (deeper ones are shifted by less than one of their pixels)
OFFSET_STEP = 128

FIRST_NAMES = ["JANE", "JOHN", "MARIA", "AHMED", "WEI", "OLGA", "KOFI", "LUCIA"]
LAST_NAMES = ["DOE", "ROE", "SMITH", "MULLER", "TANAKA", "OKAFOR", "SILVA", "NOWAK"]


# ----------------------------------------------------------------------------
# pixels


def find_source_png() -> Path:
    """scikit-image's ihc.png, located without importing scikit-image."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "scikit-image is not installed: pip install scikit-image "
            "(or give --source PNG, e.g. skimage/data/ihc.png taken from its wheel)"
        )
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "data" / "ihc.png"
        if p.is_file():
            return p
    raise SystemExit("skimage/data/ihc.png not found in the installed scikit-image")


def box_down(a: np.ndarray, f: int) -> np.ndarray:
    h, w, c = a.shape
    return a.reshape(h // f, f, w // f, f, c).mean(axis=(1, 3))


class Pixels:
    """The slide's pixels as a function of (level, x, y)."""

    def __init__(self, source: Path, width: int, height: int, seed: int,
                 background: tuple[int, int, int]):
        img = Image.open(source).convert("RGB")
        if img.size != (PERIOD // 2, PERIOD // 2):
            img = img.resize((PERIOD // 2, PERIOD // 2), Image.Resampling.LANCZOS)
        b = np.asarray(img, dtype=np.float32)
        top = np.concatenate([b, b[:, ::-1]], axis=1)
        p0 = np.concatenate([top, top[::-1]], axis=0)  # 1024 x 1024, seamless
        self.periods = []
        for lv in range(0, MAX_EXACT_LEVEL + 1):
            self.periods.append(box_down(p0, 1 << lv) if lv else p0)
        rng = np.random.default_rng(seed)
        step = OFFSET_STEP
        self.ox = int(rng.integers(0, PERIOD // step)) * step
        self.oy = int(rng.integers(0, PERIOD // step)) * step
        # tissue outline: an ellipse with a seeded wobble
        self.wob_a = rng.uniform(0.04, 0.09, size=3)
        self.wob_p = rng.uniform(0, 2 * np.pi, size=3)
        self.cx0 = rng.uniform(0.46, 0.54)
        self.cy0 = rng.uniform(0.46, 0.54)
        self.width = width
        self.height = height
        self.bg = np.array(background, dtype=np.float32)

    def region(self, level: int, x0: int, y0: int, w: int, h: int) -> np.ndarray:
        """Level `level` pixels [y0, y0+h) x [x0, x0+w), as uint8 (h, w, 3).
        Pixels past the level's size are computed too (the caller pads)."""
        lv = min(level, MAX_EXACT_LEVEL)
        p = self.periods[lv]
        n = p.shape[0]
        f = 1 << level
        xs = np.arange(x0, x0 + w)
        ys = np.arange(y0, y0 + h)
        xi = (xs + (self.ox >> lv)) % n
        yi = (ys + (self.oy >> lv)) % n
        base = p[yi[:, None], xi[None, :]]  # (h, w, 3) float32
        # modulation, evaluated at the level-0 centre of each pixel
        u = ((xs + 0.5) * f / self.width).astype(np.float32)  # 0..1 across
        v = ((ys + 0.5) * f / self.height).astype(np.float32)
        du = (u - self.cx0) / 0.42
        dv = (v[:, None] - self.cy0) / 0.40
        r = np.sqrt(du[None, :] ** 2 + dv ** 2)
        ang = np.arctan2(dv, du[None, :])
        wob = 1.0 + sum(a * np.sin((k + 2) * ang + ph)
                        for k, (a, ph) in enumerate(zip(self.wob_a, self.wob_p)))
        m = np.clip((wob - r) / 0.08, 0.0, 1.0).astype(np.float32)
        gr = (0.80 + 0.20 * u)[None, :]
        gb = (0.80 + 0.20 * v)[:, None]
        gg = 0.90 + 0.10 * (u[None, :] * v[:, None])
        out = np.empty_like(base)
        out[..., 0] = self.bg[0] - (self.bg[0] - base[..., 0]) * (m * gr)
        out[..., 1] = self.bg[1] - (self.bg[1] - base[..., 1]) * (m * gg)
        out[..., 2] = self.bg[2] - (self.bg[2] - base[..., 2]) * (m * gb)
        np.clip(out, 0, 255, out=out)
        return (out + 0.5).astype(np.uint8)


# ----------------------------------------------------------------------------
# encoding


@dataclass
class Codec:
    name: str  # jpeg | jpeg2000 | none
    ts: str
    photometric: str
    lossy: bool
    method: str | None
    encode: object


def make_codec(args) -> Codec:
    if args.codec == "jpeg":
        if args.jpeg_color == "rgb":
            kw = dict(quality=args.quality, subsampling=0, keep_rgb=True)
            pi = "RGB"
        else:
            kw = dict(quality=args.quality,
                      subsampling=1 if args.jpeg_color == "ybr422" else 2)
            # YBR_FULL_422 is what scanners write for any chroma subsampling;
            # libjpeg-based readers (OpenSlide) take 4:2:0 under that name too.
            pi = "YBR_FULL_422"

        def enc(a: np.ndarray) -> bytes:
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, "JPEG", **kw)
            return buf.getvalue()

        return Codec("jpeg", TS_JPEG_BASELINE, pi, True, "ISO_10918_1", enc)
    if args.codec == "jpeg2000":
        mode = args.j2k
        if mode == "lossless":
            kw = dict(irreversible=False, mct=0, no_jp2=True)
            ts, pi, lossy = TS_J2K_LOSSLESS, "RGB", False
        elif mode == "rct":
            kw = dict(irreversible=False, mct=1, no_jp2=True)
            ts, pi, lossy = TS_J2K_LOSSLESS, "YBR_RCT", False
        else:  # lossy
            kw = dict(irreversible=True, mct=1, no_jp2=True,
                      quality_mode="rates", quality_layers=[args.j2k_rate])
            ts, pi, lossy = TS_J2K, "YBR_ICT", True

        def enc(a: np.ndarray) -> bytes:
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, "JPEG2000", **kw)
            return buf.getvalue()

        return Codec("jpeg2000", ts, pi, lossy, "ISO_15444_1" if lossy else None, enc)

    def raw(a: np.ndarray) -> bytes:
        return np.ascontiguousarray(a).tobytes()

    return Codec("none", TS_EXPLICIT_LE, "RGB", False, None, raw)


# ----------------------------------------------------------------------------
# DICOM


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    d = Dataset()
    d.CodeValue = value
    d.CodingSchemeDesignator = scheme
    d.CodeMeaning = meaning
    return d


def fmt_ds(x: float) -> str:
    s = f"{x:.10g}"
    if len(s) > 16:
        s = f"{x:.9e}"
    return s[:16]


def fixed_date_icc(icc: bytes) -> bytes:
    """LittleCMS stamps the creation time into the ICC header (bytes 24-35): pin it to
    2026-01-01 so that output is reproducible, and redo the profile ID (MD5) if set."""
    b = bytearray(icc)
    b[24:36] = struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
    if any(b[84:100]):
        t = bytearray(b)
        t[44:48] = b"\0" * 4
        t[64:68] = b"\0" * 4
        t[84:100] = b"\0" * 16
        b[84:100] = hashlib.md5(bytes(t)).digest()
    return bytes(b)


class Ctx:
    """What every instance of the slide shares."""

    def __init__(self, args, codec: Codec):
        self.args = args
        self.codec = codec
        self.seed = args.seed
        rng = np.random.default_rng(args.seed + 1)
        self.patient_name = f"{LAST_NAMES[rng.integers(len(LAST_NAMES))]}^" \
                            f"{FIRST_NAMES[rng.integers(len(FIRST_NAMES))]}"
        self.patient_id = f"P{rng.integers(10**6, 10**7)}"
        self.accession = f"S26-{rng.integers(10000, 99999)}"
        self.container = f"{self.accession}-A1"
        self.barcode = f"{rng.integers(10**11, 10**12)}"
        self.date = f"2026{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
        self.time = f"{rng.integers(8, 18):02d}{rng.integers(0, 60):02d}00"
        self.study_uid = self.uid("study")
        self.series_uid = self.uid("series")
        self.for_uid = self.uid("frame-of-reference")
        self.specimen_uid = self.uid("specimen")
        self.dim_org_uid = self.uid("dimension-organization")
        prof = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        self.icc = fixed_date_icc(prof.tobytes())
        if len(self.icc) % 2:
            self.icc += b"\0"

    def uid(self, *parts) -> str:
        return generate_uid(entropy_srcs=[str(self.seed), self.args.uid_salt] +
                            [str(p) for p in parts])


def base_dataset(ctx: Ctx, sop_uid: str, image_type: list[str], instance_number: int,
                 total_w: int, total_h: int, tile_w: int, tile_h: int,
                 n_frames: int, spacing_mm: tuple[float, float],
                 organization: str, codec: Codec) -> Dataset:
    a = ctx.args
    ds = Dataset()
    fm = FileMetaDataset()
    fm.MediaStorageSOPClassUID = SM_CLASS
    fm.MediaStorageSOPInstanceUID = sop_uid
    fm.TransferSyntaxUID = codec.ts
    fm.ImplementationClassUID = "1.2.826.0.1.3680043.8.498.1"
    fm.ImplementationVersionName = "DICOMPREP_MKSL"
    ds.file_meta = fm

    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = image_type
    ds.SOPClassUID = SM_CLASS
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ctx.date
    ds.SeriesDate = ctx.date
    ds.ContentDate = ctx.date
    ds.StudyTime = ctx.time
    ds.SeriesTime = ctx.time
    ds.ContentTime = ctx.time
    ds.AcquisitionDateTime = ctx.date + ctx.time
    ds.AccessionNumber = ctx.accession
    ds.Modality = "SM"
    ds.Manufacturer = "dicomprep test slides"
    ds.ReferringPhysicianName = ""
    ds.ManufacturerModelName = "make_slide.py"
    ds.DeviceSerialNumber = "0000"
    ds.SoftwareVersions = "1"
    ds.PatientName = ctx.patient_name
    ds.PatientID = ctx.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = ctx.study_uid
    ds.SeriesInstanceUID = ctx.series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance_number
    ds.FrameOfReferenceUID = ctx.for_uid
    ds.PositionReferenceIndicator = "SLIDE_CORNER"
    ds.ContainerIdentifier = ctx.container
    ds.IssuerOfTheContainerIdentifierSequence = Sequence([])
    ds.ContainerTypeCodeSequence = Sequence([code_item("433466003", "SCT", "Microscope slide")])
    ds.AcquisitionContextSequence = Sequence([])
    spec = Dataset()
    spec.SpecimenIdentifier = ctx.container
    spec.SpecimenUID = ctx.specimen_uid
    spec.IssuerOfTheSpecimenIdentifierSequence = Sequence([])
    spec.SpecimenPreparationSequence = Sequence([])
    ds.SpecimenDescriptionSequence = Sequence([spec])

    # image pixel
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = codec.photometric
    ds.PlanarConfiguration = 0
    ds.Rows = tile_h
    ds.Columns = tile_w
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if codec.lossy:
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionMethod = codec.method
        ds.LossyImageCompressionRatio = "10"
    else:
        ds.LossyImageCompression = "00"

    # whole slide microscopy image
    ds.NumberOfFrames = n_frames
    ds.TotalPixelMatrixColumns = total_w
    ds.TotalPixelMatrixRows = total_h
    ds.TotalPixelMatrixFocalPlanes = 1
    org = Dataset()
    org.XOffsetInSlideCoordinateSystem = fmt_ds(ctx.origin_x)
    org.YOffsetInSlideCoordinateSystem = fmt_ds(ctx.origin_y)
    ds.TotalPixelMatrixOriginSequence = Sequence([org])
    ds.ImageOrientationSlide = [0, -1, 0, -1, 0, 0]
    ds.ImagedVolumeWidth = ctx.imaged_w_mm
    ds.ImagedVolumeHeight = ctx.imaged_h_mm
    ds.ImagedVolumeDepth = 1.0
    ds.VolumetricProperties = "VOLUME"
    ds.FocusMethod = "AUTO"
    ds.ExtendedDepthOfField = "NO"
    ds.BurnedInAnnotation = "NO"
    ds.SpecimenLabelInImage = "NO"
    ds.DimensionOrganizationType = organization
    dorg = Dataset()
    dorg.DimensionOrganizationUID = ctx.dim_org_uid
    ds.DimensionOrganizationSequence = Sequence([dorg])
    idx = []
    for ptr, desc in ((TAG_COLUMN_POSITION, "Column Position"),
                      (TAG_ROW_POSITION, "Row Position")):
        d = Dataset()
        d.DimensionOrganizationUID = ctx.dim_org_uid
        d.DimensionIndexPointer = ptr
        d.FunctionalGroupPointer = TAG_PLANE_POSITION_SLIDE_SEQ
        d.DimensionDescriptionLabel = desc
        idx.append(d)
    ds.DimensionIndexSequence = Sequence(idx)

    # optical path
    ds.NumberOfOpticalPaths = 1
    op = Dataset()
    op.OpticalPathIdentifier = "1"
    op.OpticalPathDescription = "brightfield"
    op.IlluminationTypeCodeSequence = Sequence([code_item("111744", "DCM", "Brightfield illumination")])
    op.IlluminationColorCodeSequence = Sequence([code_item("414298005", "SCT", "Full Spectrum")])
    op.ICCProfile = ctx.icc
    op.ColorSpace = "SRGB"
    if a.objective_power:
        op.ObjectiveLensPower = fmt_ds(a.objective_power)
        op.ObjectiveLensNumericalAperture = "0.75"
    ds.OpticalPathSequence = Sequence([op])

    # shared functional groups
    sh = Dataset()
    pm = Dataset()
    pm.PixelSpacing = [fmt_ds(spacing_mm[0]), fmt_ds(spacing_mm[1])]  # row, column
    pm.SliceThickness = fmt_ds(0.001)
    pm.SpacingBetweenSlices = fmt_ds(0.001)
    sh.PixelMeasuresSequence = Sequence([pm])
    ft = Dataset()
    ft.FrameType = image_type
    sh.WholeSlideMicroscopyImageFrameTypeSequence = Sequence([ft])
    opi = Dataset()
    opi.OpticalPathIdentifier = "1"
    sh.OpticalPathIdentificationSequence = Sequence([opi])
    ds.SharedFunctionalGroupsSequence = Sequence([sh])
    return ds


def write_instance(path: Path, ds: Dataset, frames, n_frames: int, codec: Codec,
                   frame_bytes: int) -> int:
    """Write `ds` then its Pixel Data, streaming `frames` (an iterator of bytes).
    Returns the file size."""
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        pydicom.dcmwrite(f, ds, enforce_file_format=True)
        if codec.name == "none":
            length = n_frames * frame_bytes
            if length >= 0xFFFFFFFF:
                raise SystemExit("native pixel data over 4 GiB: use --concatenate or a codec")
            f.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, length + (length & 1)))
            n = 0
            for fr in frames:
                f.write(fr)
                n += 1
            if length & 1:
                f.write(b"\0")
        else:
            f.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF))
            f.write(struct.pack("<HHI", 0xFFFE, 0xE000, 4 * n_frames))
            bot_pos = f.tell()
            f.write(b"\0" * (4 * n_frames))
            start = f.tell()
            offsets = []
            n = 0
            for fr in frames:
                off = f.tell() - start
                if off > 0xFFFFFFFF:
                    raise SystemExit("encapsulated pixel data over 4 GiB: use --concatenate")
                offsets.append(off)
                pad = len(fr) & 1
                f.write(struct.pack("<HHI", 0xFFFE, 0xE000, len(fr) + pad))
                f.write(fr)
                if pad:
                    f.write(b"\0")
                n += 1
            f.write(struct.pack("<HHI", 0xFFFE, 0xE0DD, 0))
            end = f.tell()
            f.seek(bot_pos)
            f.write(struct.pack(f"<{n_frames}I", *offsets))
            f.seek(end)
        if n != n_frames:
            raise RuntimeError(f"wrote {n} frames, expected {n_frames}")
        size = f.tell()
    os.replace(tmp, path)
    return size


# ----------------------------------------------------------------------------
# tiles

_G = {}  # per-process state for the worker pool


def _init_worker(pixels: Pixels, codec: Codec, tile_w: int, tile_h: int, fill):
    _G.update(pixels=pixels, codec=codec, tw=tile_w, th=tile_h, fill=np.array(fill, np.uint8))


def _render(job) -> bytes:
    level, col, row, lw, lh = job
    tw, th = _G["tw"], _G["th"]
    x0, y0 = col * tw, row * th
    a = _G["pixels"].region(level, x0, y0, tw, th)
    vw, vh = min(tw, lw - x0), min(th, lh - y0)
    if vw < tw:
        a[:, vw:] = _G["fill"]
    if vh < th:
        a[vh:, :] = _G["fill"]
    return _G["codec"].encode(a)


class Renderer:
    def __init__(self, pixels, codec, tw, th, fill, jobs):
        _init_worker(pixels, codec, tw, th, fill)
        self.pool = None
        if jobs > 1:
            import multiprocessing as mp
            self.pool = mp.get_context("fork").Pool(jobs, _init_worker,
                                                    (pixels, codec, tw, th, fill))

    def frames(self, jobs_list):
        if self.pool is None:
            return (_render(j) for j in jobs_list)
        return self.pool.imap(_render, jobs_list, chunksize=16)

    def close(self):
        if self.pool is not None:
            self.pool.close()
            self.pool.join()


def parse_tile(s: str) -> tuple[int, int]:
    if "x" in s.lower():
        w, h = s.lower().split("x", 1)
        return int(w), int(h)
    return int(s), int(s)


def parse_rgb(s: str) -> tuple[int, int, int]:
    named = {"white": (255, 255, 255), "black": (0, 0, 0)}
    if s in named:
        return named[s]
    parts = [int(p) for p in s.split(",")]
    if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
        raise argparse.ArgumentTypeError("expected R,G,B with values 0..255, or white/black")
    return tuple(parts)


def draw_label(ctx: Ctx, size: int, seed: int) -> np.ndarray:
    """A slide label: fake patient name, IDs and a fake 1-D barcode and 2-D code."""
    rng = np.random.default_rng(seed + 7)
    img = Image.new("RGB", (size, size), (236, 234, 226))
    d = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=max(12, size // 14))
        small = ImageFont.load_default(size=max(10, size // 20))
    except TypeError:  # Pillow without FreeType
        font = small = ImageFont.load_default()
    y = size // 20
    for text, fnt in ((ctx.patient_name.replace("^", ", "), font),
                      (f"ID {ctx.patient_id}", small),
                      (ctx.container, font),
                      ("H&E / FHL2-DAB", small)):
        d.text((size // 16, y), text, fill=(10, 10, 30), font=fnt)
        y += int(fnt.size * 1.35) if hasattr(fnt, "size") else 16
    # 1-D barcode from the barcode digits
    bits = "".join(format(int(c) + 3, "04b") + "0" for c in ctx.barcode)
    bw = max(1, (size - size // 8) // len(bits))
    bx = size // 16
    by0, by1 = int(size * 0.58), int(size * 0.78)
    for bit in bits:
        if bit == "1":
            d.rectangle([bx, by0, bx + bw - 1, by1], fill=(0, 0, 0))
        bx += bw
    d.text((size // 16, by1 + 4), ctx.barcode, fill=(0, 0, 0), font=small)
    # a small 2-D matrix code in the top right corner
    cell = max(2, size // 60)
    n = 14
    m = rng.integers(0, 2, size=(n, n))
    ox = size - size // 16 - n * cell
    for i in range(n):
        for j in range(n):
            if m[i, j] or j == 0 or i == n - 1 or (i == 0 and j % 2 == 0):
                d.rectangle([ox + j * cell, size // 20 + i * cell,
                             ox + (j + 1) * cell - 1, size // 20 + (i + 1) * cell - 1], fill=(0, 0, 0))
    return np.asarray(img)


# ----------------------------------------------------------------------------
# main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("out", type=Path, help="output folder (one slide; created, must be empty unless --force)")
    p.add_argument("--width", type=int, default=4000, help="level-0 width in pixels")
    p.add_argument("--height", type=int, default=3000, help="level-0 height in pixels")
    p.add_argument("--tile", type=parse_tile, default=(256, 256),
                   help="tile size: N for NxN, or WxH such as 240x200 (the frame's Columns x Rows)")
    p.add_argument("--levels", type=int, default=4,
                   help="number of pyramid levels; level L is ceil(W/2^L) x ceil(H/2^L)")
    p.add_argument("--codec", choices=["jpeg", "jpeg2000", "none"], default="jpeg",
                   help="jpeg: baseline 8-bit (1.2.840.10008.1.2.4.50); jpeg2000: see --j2k; "
                        "none: native RGB, Explicit VR Little Endian")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality (1-95)")
    p.add_argument("--jpeg-color", choices=["ybr422", "ybr420", "rgb"], default="ybr422",
                   help="JPEG colour: YCbCr 4:2:2 or 4:2:0 (both labelled YBR_FULL_422), "
                        "or RGB 4:4:4 without colour transform (Adobe marker; labelled RGB)")
    p.add_argument("--j2k", choices=["lossless", "lossy", "rct"], default="lossless",
                   help="JPEG 2000 flavour: lossless = .4.90 RGB, no colour transform; "
                        "lossy = .4.91 YBR_ICT; rct = .4.90 YBR_RCT (OpenSlide 4.0.1 reads it; newer OpenSlide source accepts only RGB and YBR_ICT)")
    p.add_argument("--j2k-rate", type=float, default=20.0,
                   help="compression ratio for --j2k lossy")
    p.add_argument("--organization", choices=["full", "sparse"], default="full",
                   help="full: TILED_FULL, frames row-major, no per-frame groups; "
                        "sparse: TILED_SPARSE with per-frame Plane Position (Slide)")
    p.add_argument("--drop-tiles", type=int, default=0,
                   help="sparse only: leave out this many tiles of --drop-level, chosen from --seed")
    p.add_argument("--drop-level", type=int, default=0, help="level whose tiles --drop-tiles leaves out")
    p.add_argument("--shuffle", action="store_true",
                   help="sparse only: write frames in a seeded random order instead of row-major")
    p.add_argument("--concatenate", type=int, default=1,
                   help="split level 0 over this many instances (ConcatenationUID, "
                        "InConcatenationNumber, ConcatenationFrameOffsetNumber)")
    p.add_argument("--label", action="store_true",
                   help="add a LABEL image: fake patient name, IDs and barcode drawn with Pillow")
    p.add_argument("--label-size", type=int, default=480, help="label image side in pixels")
    p.add_argument("--overview", action="store_true",
                   help="add an OVERVIEW image: the whole glass slide, label included")
    p.add_argument("--thumbnail", action="store_true",
                   help="add a THUMBNAIL image (DERIVED\\PRIMARY\\THUMBNAIL\\RESAMPLED), "
                        "the slide at the first level of at most 1024 px")
    p.add_argument("--mpp", type=float, default=0.25,
                   help="level-0 microns per pixel (PixelSpacing = mpp/1000 mm)")
    p.add_argument("--objective-power", type=float, default=40.0,
                   help="ObjectiveLensPower (0048,0112) in OpticalPathSequence; 0 to omit")
    p.add_argument("--background", type=parse_rgb, default=(250, 250, 250),
                   help="glass colour around the tissue, R,G,B")
    p.add_argument("--edge-fill", type=parse_rgb, default=(0, 0, 0),
                   help="colour of the pixels of right/bottom edge tiles that lie past the "
                        "matrix (black by default so that a reader showing them is caught)")
    p.add_argument("--source", type=Path, default=None,
                   help="source picture (default: scikit-image's data/ihc.png, found without importing it)")
    p.add_argument("--seed", type=int, default=1, help="seed for offsets, names, UIDs and dropped tiles")
    p.add_argument("--uid-salt", default="", help="extra text mixed into every UID (two slides with "
                   "the same seed but different salts get different UIDs)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes for tile encoding")
    p.add_argument("--force", action="store_true", help="write into a non-empty output folder")
    return p


def level_sizes(w: int, h: int, n: int) -> list[tuple[int, int]]:
    out = []
    for lv in range(n):
        f = 1 << lv
        out.append(((w + f - 1) // f, (h + f - 1) // f))
        if out[-1] == (1, 1):
            break
    return out


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.monotonic()
    tw, th = args.tile
    if tw < 1 or th < 1 or args.width < 1 or args.height < 1 or args.levels < 1:
        raise SystemExit("sizes and --levels must be positive")
    if args.codec == "jpeg" and (tw > 65535 or th > 65535):
        raise SystemExit("JPEG tiles must be at most 65535 pixels")
    if args.drop_tiles and args.organization != "sparse":
        raise SystemExit("--drop-tiles needs --organization sparse")
    if args.shuffle and args.organization != "sparse":
        raise SystemExit("--shuffle needs --organization sparse")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()) and not args.force:
        raise SystemExit(f"{out} is not empty (use --force)")

    sizes = level_sizes(args.width, args.height, args.levels)
    codec = make_codec(args)
    ctx = Ctx(args, codec)
    sp0 = args.mpp / 1000.0
    ctx.imaged_w_mm = args.width * sp0
    ctx.imaged_h_mm = args.height * sp0
    ctx.origin_x = 25.0  # mm; rows run along -X, columns along -Y (ImageOrientationSlide)
    ctx.origin_y = 60.0
    source = args.source or find_source_png()
    pixels = Pixels(source, args.width, args.height, args.seed, args.background)
    renderer = Renderer(pixels, codec, tw, th, args.edge_fill, args.jobs)
    frame_bytes = tw * th * 3
    rng = np.random.default_rng(args.seed + 2)

    summary = {
        "out": str(out), "width": args.width, "height": args.height,
        "tile": [tw, th], "codec": codec.name, "transfer_syntax": codec.ts,
        "photometric": codec.photometric,
        "organization": "TILED_FULL" if args.organization == "full" else "TILED_SPARSE",
        "mpp": args.mpp, "levels": [], "dropped": [], "files": [], "associated": {},
    }
    instance_number = 1
    try:
        for lv, (lw, lh) in enumerate(sizes):
            across = -(-lw // tw)
            down = -(-lh // th)
            tiles = [(c, r) for r in range(down) for c in range(across)]
            dropped = set()
            if args.organization == "sparse" and args.drop_tiles and lv == args.drop_level:
                k = min(args.drop_tiles, len(tiles) - 1)
                pick = rng.choice(len(tiles), size=k, replace=False)
                dropped = {tiles[i] for i in sorted(pick)}
                tiles = [t for t in tiles if t not in dropped]
                summary["dropped"] += [[lv, c, r] for (c, r) in sorted(dropped, key=lambda t: (t[1], t[0]))]
            if args.shuffle:
                order = rng.permutation(len(tiles))
                tiles = [tiles[i] for i in order]
            f = 1 << lv
            spacing = (sp0 * args.height / lh, sp0 * args.width / lw)
            image_type = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"] if lv == 0 else \
                         ["DERIVED", "PRIMARY", "VOLUME", "RESAMPLED"]
            parts = args.concatenate if lv == 0 else 1
            parts = max(1, min(parts, len(tiles)))
            bounds = [len(tiles) * i // parts for i in range(parts + 1)]
            level_info = {"level": lv, "width": lw, "height": lh, "downsample": f,
                          "tiles_across": across, "tiles_down": down,
                          "frames": len(tiles), "files": []}
            concat_uid = ctx.uid("concat", lv)
            concat_src = ctx.uid("concat-source", lv)
            for part in range(parts):
                chunk = tiles[bounds[part]:bounds[part + 1]]
                sop = ctx.uid("instance", lv, part)
                ds = base_dataset(ctx, sop, image_type, instance_number, lw, lh, tw, th,
                                  len(chunk), spacing,
                                  "TILED_FULL" if args.organization == "full" else "TILED_SPARSE",
                                  codec)
                if parts > 1:
                    ds.ConcatenationUID = concat_uid
                    ds.SOPInstanceUIDOfConcatenationSource = concat_src
                    ds.InConcatenationNumber = part + 1
                    ds.InConcatenationTotalNumber = parts
                    ds.ConcatenationFrameOffsetNumber = bounds[part]
                if args.organization == "sparse":
                    pf = []
                    for (c, r) in chunk:
                        item = Dataset()
                        fc = Dataset()
                        fc.DimensionIndexValues = [c + 1, r + 1]
                        item.FrameContentSequence = Sequence([fc])
                        pp = Dataset()
                        col1, row1 = c * tw + 1, r * th + 1
                        pp.ColumnPositionInTotalImagePixelMatrix = col1
                        pp.RowPositionInTotalImagePixelMatrix = row1
                        pp.XOffsetInSlideCoordinateSystem = fmt_ds(ctx.origin_x - (row1 - 1) * spacing[0])
                        pp.YOffsetInSlideCoordinateSystem = fmt_ds(ctx.origin_y - (col1 - 1) * spacing[1])
                        pp.ZOffsetInSlideCoordinateSystem = "0"
                        item.PlanePositionSlideSequence = Sequence([pp])
                        pf.append(item)
                    ds.PerFrameFunctionalGroupsSequence = Sequence(pf)
                name = f"level-{lv}.dcm" if parts == 1 else f"level-{lv}-part-{part + 1}.dcm"
                jobs = [(lv, c, r, lw, lh) for (c, r) in chunk]
                size = write_instance(out / name, ds, renderer.frames(jobs), len(chunk), codec, frame_bytes)
                level_info["files"].append(name)
                summary["files"].append({"name": name, "bytes": size, "frames": len(chunk),
                                         "sop_instance_uid": sop})
            # the parts of a concatenation share one InstanceNumber
            instance_number += 1
            summary["levels"].append(level_info)

        # associated images: one frame each, the frame is the whole matrix
        def associated(kind: str, image_type, arr: np.ndarray, spacing_mm, extra=None):
            nonlocal instance_number
            h, w = arr.shape[:2]
            sop = ctx.uid(kind)
            ds = base_dataset(ctx, sop, image_type, instance_number, w, h, w, h, 1,
                              spacing_mm, "TILED_FULL", codec)
            for k, v in (extra or {}).items():
                setattr(ds, k, v)
            name = f"{kind}.dcm"
            size = write_instance(out / name, ds, iter([codec.encode(arr)]), 1, codec, w * h * 3)
            summary["files"].append({"name": name, "bytes": size, "frames": 1, "sop_instance_uid": sop})
            summary["associated"][kind] = {"width": w, "height": h, "file": name,
                                           "image_type": "\\".join(image_type)}
            instance_number += 1

        label_arr = None
        if args.label or args.overview:
            label_arr = draw_label(ctx, args.label_size, args.seed)
        if args.label:
            associated("label", ["ORIGINAL", "PRIMARY", "LABEL", "NONE"], label_arr, (0.04, 0.04),
                       {"BurnedInAnnotation": "YES", "SpecimenLabelInImage": "YES",
                        "LabelText": f"{ctx.patient_name} {ctx.patient_id} {ctx.container}",
                        "BarcodeValue": ctx.barcode})
        if args.overview:
            # the glass slide (75 x 25 mm) at 0.06 mm/px, label on the left
            gw, gh = 1250, 416
            glass = Image.new("RGB", (gw, gh), (222, 226, 228))
            lab = Image.fromarray(label_arr).resize((gh - 40, gh - 40), Image.Resampling.LANCZOS)
            glass.paste(lab, (20, 20))
            k = 0
            while (args.width >> k) > 800 or (args.height >> k) > gh - 40:
                k += 1
            lw_, lh_ = -(-args.width // (1 << k)), -(-args.height // (1 << k))
            tissue = Image.fromarray(pixels.region(k, 0, 0, lw_, lh_))
            scale = min((gw - gh - 40) / lw_, (gh - 40) / lh_, 1.0)
            tissue = tissue.resize((max(1, int(lw_ * scale)), max(1, int(lh_ * scale))),
                                   Image.Resampling.LANCZOS)
            glass.paste(tissue, (gh + 10, (gh - tissue.height) // 2))
            associated("overview", ["ORIGINAL", "PRIMARY", "OVERVIEW", "NONE"], np.asarray(glass),
                       (0.06, 0.06), {"BurnedInAnnotation": "YES", "SpecimenLabelInImage": "YES"})
        if args.thumbnail:
            k = 0
            while -(-args.width // (1 << k)) > 1024 or -(-args.height // (1 << k)) > 1024:
                k += 1
            lw_, lh_ = -(-args.width // (1 << k)), -(-args.height // (1 << k))
            arr = pixels.region(k, 0, 0, lw_, lh_)
            associated("thumbnail", ["DERIVED", "PRIMARY", "THUMBNAIL", "RESAMPLED"], arr,
                       (sp0 * args.height / lh_, sp0 * args.width / lw_))
            summary["associated"]["thumbnail"]["downsample"] = 1 << k
    finally:
        renderer.close()

    summary["seconds"] = round(time.monotonic() - t0, 2)
    summary["bytes"] = sum(f["bytes"] for f in summary["files"])
    json.dump(summary, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
