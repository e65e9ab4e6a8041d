#!/usr/bin/env python3
"""Makes label test cases with highdicom and pydicom from the project's real test images.

usage: make_label_cases.py LABELS_DIR OUT

LABELS_DIR is test-data/labels (highdicom's CT2 source images, dcmqi's CT slices, rt-utils'
RTSTRUCT). Each case is a folder OUT/<case> holding images and label objects, as a user's SRC:

  overlap       binary SEG, 3 segments over the 4 CT2 images: 1 and 2 overlap on 2 frames,
                3 only on the last image (frames sparse)
  odd-size      binary SEG over three 23 x 38 images: frames of 874 bits, not byte-aligned
  labelmap      Label Map Segmentation (SOP class .66.7), 3 segments
  labelmap-palette  the same label map shown through a palette (PALETTE COLOR)
  fractional    fractional SEG, 2 overlapping probability maps
  dangling      binary SEG over the 4 CT2 images, one of them missing from SRC
  no-references binary SEG without source image references: placed by Frame of Reference
                and plane position
  rt-shapes     rt-utils' RTSTRUCT plus an ROI of a POINT and an OPEN_PLANAR contour, and an
                ROI whose contours are bad (2 points; a NaN)
  rt-plane      rt-utils' RTSTRUCT without Contour Image Sequences, in its images' Frame of
                Reference: placed by plane
  bad-segment   the overlap SEG with frame 2 naming segment 7, which SegmentSequence does not
                list
  other-series  binary SEG, one frame referencing an image of another series in SRC
  truncated     binary SEG cut in its pixel data
  for-mismatch  binary SEG without image references in another Frame of Reference
"""
import copy
import shutil
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.uid import generate_uid

PREFIX = "1.2.826.0.1.3680043.10.511.3."  # highdicom's root, as its own test files use


def uid(name):
    """Deterministic UIDs: the cases are the same files on every run."""
    return generate_uid(prefix=PREFIX, entropy_srcs=[name])


def description(number, label):
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=label,
        segmented_property_category=hd.sr.CodedConcept("91723000", "SCT", "Anatomical Structure"),
        segmented_property_type=hd.sr.CodedConcept("23451007", "SCT", "Adrenal gland"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )


def seg(name, images, pixels, kind, labels, **extra):
    return hd.seg.Segmentation(
        source_images=images,
        pixel_array=pixels,
        segmentation_type=kind,
        segment_descriptions=[description(i + 1, l) for i, l in enumerate(labels)],
        series_instance_uid=uid(name + "/series"),
        series_number=100,
        sop_instance_uid=uid(name + "/sop"),
        instance_number=1,
        manufacturer="dicomprep tests",
        manufacturer_model_name="make_label_cases",
        software_versions="1",
        device_serial_number="1",
        **extra,
    )


def ct2(labels_dir):
    """The 4 CT2 images (16 x 16), in z order."""
    images = [pydicom.dcmread(p) for p in sorted((labels_dir / "highdicom" / "source").glob("1*"))]
    return sorted(images, key=lambda d: float(d.ImagePositionPatient[2]))


def save_images(images, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for image in images:
        image.save_as(folder / f"{image.SOPInstanceUID}.dcm", enforce_file_format=True)


def disk(size, centre, radius):
    ys, xs = np.mgrid[0 : size[0], 0 : size[1]]
    return (ys - centre[0]) ** 2 + (xs - centre[1]) ** 2 <= radius**2


def odd_images(labels_dir):
    """Three 23 x 38 CT images made from a CT2 image (new UIDs, positions 2 mm apart)."""
    template = ct2(labels_dir)[1]
    out = []
    for i in range(3):
        image = copy.deepcopy(template)
        image.Rows, image.Columns = 23, 38
        image.PixelData = (np.arange(23 * 38, dtype=np.int16) + 100 * i).tobytes()
        image.SeriesInstanceUID = uid("odd/series")
        image.SOPInstanceUID = uid(f"odd/{i}")
        image.InstanceNumber = i + 1
        position = [float(v) for v in template.ImagePositionPatient]
        image.ImagePositionPatient = [position[0], position[1], position[2] + 2.0 * i]
        image.SliceLocation = position[2] + 2.0 * i
        out.append(image)
    return out


def main(labels_dir, out):
    labels_dir, out = Path(labels_dir), Path(out)
    images = ct2(labels_dir)
    size = (images[0].Rows, images[0].Columns)

    # overlap: 1 and 2 overlap on images 1 and 2; 3 only on image 3.
    pixels = np.zeros((4, *size, 3), bool)
    pixels[0:3, ..., 0] = disk(size, (7, 7), 5)
    pixels[1:3, 4:12, 6:14, 1] = True
    pixels[3, 2:6, 2:9, 2] = True
    case = out / "overlap"
    save_images(images, case)
    overlap = seg("overlap", images, pixels, "BINARY", ["Liver", "Tumour", "Spleen"])
    overlap.save_as(case / "seg.dcm")

    # odd-size: 23 x 38 frames, 2 segments.
    odd = odd_images(labels_dir)
    pixels = np.zeros((3, 23, 38, 2), bool)
    pixels[:, 3:20, 5:30, 0] = True
    pixels[1, 10:15, 31:37, 1] = True
    case = out / "odd-size"
    save_images(odd, case)
    seg("odd", odd, pixels, "BINARY", ["Body", "Marker"]).save_as(case / "seg.dcm")

    # labelmap: values are segment numbers.
    pixels = np.zeros((4, *size), np.uint8)
    pixels[0:2, 2:8, 2:8] = 1
    pixels[1:3, 9:14, 3:12] = 2
    pixels[3, 4:12, 4:12] = 3
    case = out / "labelmap"
    save_images(images, case)
    seg("labelmap", images, pixels, "LABELMAP", ["A", "B", "C"]).save_as(case / "seg.dcm")
    palette = hd.PaletteColorLUTTransformation.from_colors(["black", "red", "green", "blue"])
    case = out / "labelmap-palette"
    save_images(images, case)
    seg(
        "labelmap-palette", images, pixels, "LABELMAP", ["A", "B", "C"],
        palette_color_lut_transformation=palette,
    ).save_as(case / "seg.dcm")

    # fractional: two overlapping probability maps.
    ys, xs = np.mgrid[0 : size[0], 0 : size[1]]
    ramp = (xs / (size[1] - 1)).astype(np.float32)
    pixels = np.zeros((4, *size, 2), np.float32)
    pixels[1:3, ..., 0] = ramp
    pixels[2:4, ..., 1] = (ys / (size[0] - 1)).astype(np.float32)
    case = out / "fractional"
    save_images(images, case)
    seg("fractional", images, pixels, "FRACTIONAL", ["Left", "Down"], max_fractional_value=200).save_as(
        case / "seg.dcm"
    )

    # dangling: the SEG covers 4 images, SRC holds 3.
    pixels = np.zeros((4, *size, 1), bool)
    pixels[:, 3:12, 3:12, 0] = True
    dangling = seg("dangling", images, pixels, "BINARY", ["Box"])
    case = out / "dangling"
    save_images(images[:3], case)
    dangling.save_as(case / "seg.dcm")

    # no-references: the same SEG without DerivationImageSequence.
    unreferenced = copy.deepcopy(dangling)
    for item in unreferenced.PerFrameFunctionalGroupsSequence:
        del item.DerivationImageSequence
    unreferenced.SOPInstanceUID = uid("no-references/sop")
    case = out / "no-references"
    save_images(images, case)
    unreferenced.save_as(case / "seg.dcm")

    # for-mismatch: no references, and another Frame of Reference.
    mismatch = copy.deepcopy(unreferenced)
    mismatch.FrameOfReferenceUID = uid("for-mismatch/for")
    mismatch.SOPInstanceUID = uid("for-mismatch/sop")
    case = out / "for-mismatch"
    save_images(images, case)
    mismatch.save_as(case / "seg.dcm")

    # bad-segment: frame 2 names segment 7.
    bad = copy.deepcopy(overlap)
    bad.PerFrameFunctionalGroupsSequence[1].SegmentIdentificationSequence[0].ReferencedSegmentNumber = 7
    bad.SOPInstanceUID = uid("bad-segment/sop")
    case = out / "bad-segment"
    save_images(images, case)
    bad.save_as(case / "seg.dcm")

    # other-series: frame 1 references an image of dcmqi's CT series (also in SRC).
    other = copy.deepcopy(dangling)
    dcmqi = sorted((labels_dir / "dcmqi" / "ct-3slice").glob("*.dcm"))
    foreign = pydicom.dcmread(dcmqi[0], stop_before_pixels=True)
    source = other.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
    source.ReferencedSOPInstanceUID = foreign.SOPInstanceUID
    other.SOPInstanceUID = uid("other-series/sop")
    case = out / "other-series"
    save_images(images, case)
    shutil.copytree(labels_dir / "dcmqi" / "ct-3slice", case / "ct-3slice")
    other.save_as(case / "seg.dcm")

    # truncated: the SEG cut 10 bytes into its pixel data.
    case = out / "truncated"
    save_images(images, case)
    dangling.save_as(case / "seg.dcm")
    data = (case / "seg.dcm").read_bytes()
    (case / "seg.dcm").write_bytes(data[: len(data) - 20])

    # rt-shapes: rt-utils' RTSTRUCT with a point, a line and two bad contours more.
    rt = pydicom.dcmread(labels_dir / "rt-utils" / "rt.dcm")
    case = out / "rt-shapes"
    case.mkdir(parents=True, exist_ok=True)
    for name in ("ct_1.dcm", "ct_2.dcm"):
        shutil.copy(labels_dir / "rt-utils" / name, case / name)
    first_roi = rt.StructureSetROISequence[0]
    first_contours = rt.ROIContourSequence[0]
    z = float(first_contours.ContourSequence[0].ContourData[2])
    image_ref = first_contours.ContourSequence[0].ContourImageSequence
    for number, name, contours in (
        (2, "Markers", [("POINT", [10.0, 12.0, z]), ("OPEN_PLANAR", [0.0, 0.0, z, 8.0, 3.0, z, 15.0, -4.0, z])]),
        (3, "Broken", [("CLOSED_PLANAR", [0.0, 0.0, z, 5.0, 5.0, z]), ("CLOSED_PLANAR", [0.0, 0.0, z, float("nan"), 1.0, z, 3.0, 3.0, z])]),
    ):
        roi = copy.deepcopy(first_roi)
        roi.ROINumber, roi.ROIName = number, name
        rt.StructureSetROISequence.append(roi)
        roi_contour = copy.deepcopy(first_contours)
        roi_contour.ReferencedROINumber = number
        roi_contour.ROIDisplayColor = [20 * number, 200, 40]
        items = []
        for kind, points in contours:
            contour = copy.deepcopy(first_contours.ContourSequence[0])
            contour.ContourGeometricType = kind
            contour.NumberOfContourPoints = len(points) // 3
            contour.ContourData = points
            contour.ContourImageSequence = copy.deepcopy(image_ref)
            items.append(contour)
        roi_contour.ContourSequence = items
        rt.ROIContourSequence.append(roi_contour)
    rt.save_as(case / "rt.dcm")

    # rt-plane: rt-utils' RTSTRUCT placed by Frame of Reference and plane alone.
    plane = pydicom.dcmread(labels_dir / "rt-utils" / "rt.dcm")
    image_for = pydicom.dcmread(labels_dir / "rt-utils" / "ct_1.dcm").FrameOfReferenceUID
    for roi in plane.StructureSetROISequence:
        roi.ReferencedFrameOfReferenceUID = image_for
    for roi_contour in plane.ROIContourSequence:
        for contour in roi_contour.ContourSequence:
            del contour.ContourImageSequence
    case = out / "rt-plane"
    case.mkdir(parents=True, exist_ok=True)
    for name in ("ct_1.dcm", "ct_2.dcm"):
        shutil.copy(labels_dir / "rt-utils" / name, case / name)
    plane.save_as(case / "rt.dcm")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
