#!/usr/bin/env python3
"""Cases and oracle for `convert --burned-in` (tests/it/burned_in.rs), with pydicom.

    burned_in_cases.py make TEST_DATA OUT
        Writes, from pydicom's real ultrasound and other examples in TEST_DATA/pydicom:
        - us_rgb.dcm: examples_ybr_color.dcm (30 frames, one region from column 84, row 31),
          decoded to native RGB, with a magenta text band planted above and left of its region;
        - us_palette.dcm: examples_palette.dcm (regions from column 120, row 60), a palette
          entry it does not use made magenta and text planted with it above its regions;
        - declared_ct.dcm: CT_small.dcm declaring BurnedInAnnotation YES (no regions);
        - declared_us.dcm: us_rgb.dcm as another series, declaring YES (regions);
        - sc_undeclared.dcm: SC_rgb_small_odd.dcm, a Secondary Capture that declares nothing.
        Prints {file: [x, y, width, height]}: the union of each ultrasound case's regions
        within its frame.

    burned_in_cases.py volume SERIES OUT [X0,Y0,X1,Y1]
        Copies the images of SERIES (a real MR or CT series) with a Sequence of Ultrasound
        Regions planted (one region: columns X0-X1, rows Y0-Y1; default 10,20,99,119), so that
        a volume with its geometry is cut (the NIfTI writer's crop, labels on cut items);
        label objects (SEG, RTSTRUCT) are copied as they are.

    burned_in_cases.py nifti-check WHOLE CUT
        With nibabel: maps every voxel of the cut NIfTI file into the whole one through both
        affines and compares the values. Prints JSON {"shape", "voxels", "equal",
        "max_index_error"} (index error: how far from a whole voxel a cut voxel's centre lies).

    burned_in_cases.py check CASES OUT
        Counts the pictures under OUT (PNG, JPEG; video frames extracted beside them) that
        show the planted magenta, and compares each HQ PNG frame of us_rgb.dcm's item with
        pydicom's pixels of CASES/us_rgb.dcm cut to the item's crop. Prints JSON:
        {"pictures", "with_band": [paths], "frames_compared", "frames_equal"}.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageDraw
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MAGENTA = (255, 0, 255)
TEXT = "DOE^JANE  ID 0451-22  19700101"


def band(width, height, text_at):
    """A mask of planted text: each string drawn at its (x, y)."""
    image = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(image)
    for (x, y), text in text_at:
        draw.text((x, y), text, fill=255)
        draw.rectangle((x, y + 12, x + 6 * len(text), y + 14), fill=255)
    return np.asarray(image) > 0


def regions_crop(ds):
    rows, columns = ds.Rows, ds.Columns
    regions = ds.SequenceOfUltrasoundRegions
    x0 = min(r.RegionLocationMinX0 for r in regions)
    y0 = min(r.RegionLocationMinY0 for r in regions)
    x1 = min(max(r.RegionLocationMaxX1 for r in regions), columns - 1)
    y1 = min(max(r.RegionLocationMaxY1 for r in regions), rows - 1)
    return [x0, y0, x1 - x0 + 1, y1 - y0 + 1]


def as_native(ds):
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.is_implicit_VR = False
    ds.is_little_endian = True


def make(test_data, out):
    out.mkdir(parents=True, exist_ok=True)
    examples = test_data / "pydicom"
    crops = {}

    us = pydicom.dcmread(examples / "examples_ybr_color.dcm")
    pixels = us.pixel_array.copy()  # RGB, frames x rows x columns x 3
    x, y, _, _ = regions_crop(us)
    mask = band(us.Columns, us.Rows, [((2, 2), TEXT), ((0, 40), "DOE")])
    assert not mask[y:, x:].any(), "the planted text must lie outside the region"
    pixels[:, mask] = MAGENTA
    us.PixelData = pixels.tobytes()
    us.PhotometricInterpretation = "RGB"
    us.PlanarConfiguration = 0
    as_native(us)
    us.save_as(out / "us_rgb.dcm", enforce_file_format=True)
    crops["us_rgb.dcm"] = regions_crop(us)

    us.SeriesInstanceUID = generate_uid()
    us.SOPInstanceUID = generate_uid()
    us.file_meta.MediaStorageSOPInstanceUID = us.SOPInstanceUID
    us.SeriesNumber = 2
    us.BurnedInAnnotation = "YES"
    us.save_as(out / "declared_us.dcm", enforce_file_format=True)
    crops["declared_us.dcm"] = regions_crop(us)

    palette = pydicom.dcmread(examples / "examples_palette.dcm")
    indices = palette.pixel_array.copy()
    unused = next(i for i in range(256) if not (indices == i).any())
    for colour, value in zip(("Red", "Green", "Blue"), MAGENTA):
        tag = f"{colour}PaletteColorLookupTableData"
        table = np.frombuffer(getattr(palette, tag), dtype="<u2").copy()
        table[unused] = value * 257
        setattr(palette, tag, table.tobytes())
    x, y, _, _ = regions_crop(palette)
    mask = band(palette.Columns, palette.Rows, [((300, 8), TEXT), ((4, 200), "DOE")])
    assert not mask[y:, x:].any(), "the planted text must lie outside the regions"
    indices[mask] = unused
    palette.PixelData = indices.tobytes()
    palette.save_as(out / "us_palette.dcm", enforce_file_format=True)
    crops["us_palette.dcm"] = regions_crop(palette)

    ct = pydicom.dcmread(examples / "CT_small.dcm")
    ct.BurnedInAnnotation = "YES"
    ct.save_as(out / "declared_ct.dcm", enforce_file_format=True)

    sc = pydicom.dcmread(examples / "SC_rgb_small_odd.dcm")
    assert "BurnedInAnnotation" not in sc
    sc.save_as(out / "sc_undeclared.dcm", enforce_file_format=True)
    print(json.dumps(crops, sort_keys=True))


def shows_band(path):
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # Lossy pictures blur the text: magenta-ish pixels, a few of them.
    return int(((r > 170) & (g < 90) & (b > 170)).sum()) >= 4


def check(cases, out):
    pictures = sorted(
        p for p in out.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")
    )
    with_band = [str(p.relative_to(out)) for p in pictures if shows_band(p)]
    manifest = json.loads((out / "manifest.json").read_text())
    source = pydicom.dcmread(cases / "us_rgb.dcm").pixel_array
    compared = equal = 0
    for item in manifest["items"]:
        for frame in item["frames"]:
            if frame["path"] != "us_rgb.dcm" or not frame["hq_key"].endswith(".png"):
                continue
            crop = item.get("crop") or {"x": 0, "y": 0, "width": 320, "height": 240}
            x, y, w, h = crop["x"], crop["y"], crop["width"], crop["height"]
            want = source[frame["frame"], y : y + h, x : x + w]
            got = np.asarray(Image.open(out / frame["hq_key"]).convert("RGB"))
            compared += 1
            equal += int(got.shape == want.shape and (got == want).all())
    print(
        json.dumps(
            {
                "pictures": len(pictures),
                "with_band": with_band,
                "frames_compared": compared,
                "frames_equal": equal,
            }
        )
    )


def volume(series, out, corners="10,20,99,119"):
    out.mkdir(parents=True, exist_ok=True)
    x0, y0, x1, y1 = (int(v) for v in corners.split(","))
    for path in sorted(p for p in series.iterdir() if p.is_file()):
        try:
            ds = pydicom.dcmread(path)
        except pydicom.errors.InvalidDicomError:
            continue
        if ds.get("Modality") not in ("SEG", "RTSTRUCT"):
            region = pydicom.Dataset()
            region.RegionLocationMinX0 = x0
            region.RegionLocationMinY0 = y0
            region.RegionLocationMaxX1 = x1
            region.RegionLocationMaxY1 = y1
            ds.SequenceOfUltrasoundRegions = [region]
        ds.save_as(out / path.name, enforce_file_format=True)


def nifti_check(whole, cut):
    import nibabel

    whole, cut = nibabel.load(whole), nibabel.load(cut)
    a, b = whole.get_fdata(), cut.get_fdata()
    to_whole = np.linalg.inv(whole.affine) @ cut.affine
    index = np.indices(b.shape[:3]).reshape(3, -1)
    mapped = to_whole @ np.vstack([index, np.ones(index.shape[1])])
    rounded = np.rint(mapped[:3]).astype(int)
    error = float(np.abs(mapped[:3] - rounded).max())
    inside = all(
        (rounded[k] >= 0).all() and (rounded[k] < a.shape[k]).all() for k in range(3)
    )
    equal = inside and bool(
        (a[rounded[0], rounded[1], rounded[2]] == b[index[0], index[1], index[2]]).all()
    )
    print(
        json.dumps(
            {
                "shape": list(b.shape),
                "voxels": int(index.shape[1]),
                "equal": equal,
                "max_index_error": error,
            }
        )
    )


if __name__ == "__main__":
    command, first, second = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    commands = {"make": make, "check": check, "volume": volume, "nifti-check": nifti_check}
    commands[command](first, second, *sys.argv[4:])
