#!/usr/bin/env python3
"""Checks the label files of a dicomprep conversion against independent readers.

usage: labels_oracle.py SRC DEST [--threshold T]

For every label entry of every item in DEST/manifest.json, the labels as the platforms' own
clients read them are compared, frame by frame and class by class, with an oracle:

- Darwin: the item's Darwin JSON 2.0 file is parsed by darwin-py's importer
  (`darwin.importer.get_importer("darwin")`, what `darwin dataset import` runs); masks are
  decoded from its `__raster_layer__` dense_rle, polygons filled at pixel centres (even-odd);
  darwin-py's own pre-import check of masks against the raster layer
  (`_parse_empty_masks`) runs on every mask annotation.
- Encord: the item's label row is loaded offline by the Encord SDK
  (`LabelRowV2.from_labels_dict` with the ontology the file carries); bitmasks are decoded by
  the SDK (`BitmaskCoordinates.to_numpy_array`), polygons filled as above.
- Oracle, SEG: highdicom's `Segmentation.get_pixels_by_source_instance` for the images of the
  item's frames, pixel for pixel (fractional SEGs at >= T of the maximum).
- Oracle, RTSTRUCT: pydicom reads the contour points and each referenced image's position,
  orientation and pixel spacing; pixel centres inside the contours (even-odd) are the mask.
  dicomprep's mask must equal it within one pixel of a contour boundary.
- NIfTI label maps (`--outputs nifti`), read with nibabel: the volume's shape and affine; each
  segment covers as many voxels as the oracle's masks have pixels, and those voxels of the
  volume hold the very values (rescaled, by pydicom) of the masks' pixels in the images: the
  labels sit on the voxels that show what they label.

Prints a JSON summary ({"checked": [{item, source, class, frames, pixels}]}) and exits 1 on
the first mismatch, naming the item, class and frame.
"""
import json
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pydicom
import highdicom as hd

OVERLAP_SUFFIX = " (polygon)"


def fail(message):
    print(f"labels oracle: {message}", file=sys.stderr)
    sys.exit(1)


def fill(rings, width, height):
    """Pixel centres (x = column, y = row, whole numbers) inside `rings` by the even-odd rule."""
    ys, xs = np.mgrid[0:height, 0:width].astype(float)
    inside = np.zeros((height, width), bool)
    for ring in rings:
        pts = np.asarray(ring, float)
        x0, y0 = pts[:, 0], pts[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        for a, b, c, d in zip(x0, y0, x1, y1):
            if b == d:
                continue
            crosses = ((b <= ys) & (ys < d)) | ((d <= ys) & (ys < b))
            at = a + (ys - b) * (c - a) / (d - b)
            inside ^= crosses & (xs < at)
    return inside


def near_boundary(expected):
    """Pixels with an 8-neighbour of the other value."""
    padded = np.pad(expected, 1, mode="edge")
    h, w = expected.shape
    out = np.zeros_like(expected)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            out |= padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] != expected
    return out


# --- the platforms' readers -------------------------------------------------------------


def darwin_masks(path, width, height):
    """{(class, frame): mask} as darwin-py parses the file."""
    from darwin.importer import get_importer
    from darwin.importer.importer import _parse_empty_masks
    import darwin.datatypes as dt

    parsed = get_importer("darwin")(Path(path))
    if parsed is None:
        fail(f"darwin-py did not parse {path}")
    if isinstance(parsed, list):
        (parsed,) = parsed
    annotations = parsed.annotations
    raster = [a for a in annotations if a.annotation_class.name == "__raster_layer__"]
    masks = [a for a in annotations if a.annotation_class.annotation_type == "mask"]
    for mask in masks:
        for layer in raster:
            _parse_empty_masks(mask, layer, None, None)
    out = defaultdict(lambda: np.zeros((height, width), bool))
    names = {}
    for annotation in annotations:
        kind = annotation.annotation_class.annotation_type
        frames = annotation.frames if isinstance(annotation, dt.VideoAnnotation) else {0: annotation}
        if isinstance(annotation, dt.VideoAnnotation):
            keyed = {f for f, k in annotation.keyframes.items() if k}
            if keyed != set(frames):
                fail(f"{path}: {annotation.annotation_class.name}: frames not all keyframes")
        if kind == "mask":
            names[annotation.id] = annotation.annotation_class.name
        elif kind == "polygon":
            name = annotation.annotation_class.name
            if name.endswith(OVERLAP_SUFFIX):  # the parts of a segment over another's
                name = name[: -len(OVERLAP_SUFFIX)]
            for f, a in frames.items():
                rings = [[(p["x"] - 0.5, p["y"] - 0.5) for p in ring] for ring in a.data["paths"]]
                out[(name, f)] |= fill(rings, width, height)
    for layer in raster:
        frames = layer.frames if isinstance(layer, dt.VideoAnnotation) else {0: layer}
        for f, a in frames.items():
            data = a.data
            rle = data["dense_rle"]
            values = np.repeat(np.array(rle[0::2]), np.array(rle[1::2]))
            if values.size != width * height or data["total_pixels"] != width * height:
                fail(f"{path}: frame {f}: dense_rle covers {values.size} pixels, not {width}x{height}")
            values = values.reshape(height, width)
            for mask_id, value in data["mask_annotation_ids_mapping"].items():
                out[(names[mask_id], f)] |= values == value
    return out


def encord_masks(path, width, height):
    """{(class, frame): mask} as the Encord SDK loads the label row."""
    from encord.objects.bitmask import BitmaskCoordinates
    from encord.objects.coordinates import PolygonCoordinates
    from encord.objects.ontology_labels_impl import LabelRowV2
    from encord.objects.ontology_structure import OntologyStructure
    from encord.ontology import Ontology
    from encord.orm.label_row import LabelRowMetadata, LabelStatus
    from encord.orm.ontology import Ontology as OrmOntology

    row = json.loads(Path(path).read_text())
    now = datetime.now(timezone.utc)
    structure = OntologyStructure.from_dict(row["ontology"])
    ontology = Ontology(
        OrmOntology(title="t", structure=structure, ontology_hash="t", created_at=now, last_edited_at=now),
        api_client=None,
    )
    unit = next(iter(row["data_units"].values()))
    frames = [int(k) for k in unit["labels"]] or [0]
    meta = LabelRowMetadata(
        label_hash=row["label_hash"], created_at=None, last_edited_at=None, branch_name="main",
        data_hash=row["data_hash"], dataset_hash=row["dataset_hash"],
        dataset_title=row["dataset_title"], data_title=row["data_title"],
        data_type=row["data_type"].upper(), data_link=None,
        label_status=LabelStatus(row["label_status"]), annotation_task_status=None,
        workflow_graph_node=None, is_shadow_data=False, frames_per_second=None,
        number_of_frames=max(frames) + 1, duration=None, height=unit["height"],
        width=unit["width"], audio_sample_rate=None, audio_codec=None, audio_bit_depth=None,
        audio_num_channels=None, spaces={},
    )
    label_row = LabelRowV2(meta, None, ontology)
    label_row.from_labels_dict(row)
    label_row.to_encord_dict()  # runs the SDK's checks of bitmask sizes
    out = defaultdict(lambda: np.zeros((height, width), bool))
    for instance in label_row.get_object_instances():
        name = instance.ontology_item.name
        for annotation in instance.get_annotations():
            c = annotation.coordinates
            key = (name, annotation.frame)
            if isinstance(c, BitmaskCoordinates):
                out[key] |= c.to_numpy_array()
            elif isinstance(c, PolygonCoordinates):
                rings = [
                    [(p.x * width - 0.5, p.y * height - 0.5) for p in ring]
                    for polygon in c.polygons
                    for ring in polygon
                ]
                out[key] |= fill(rings, width, height)
    return out


# --- the oracles ------------------------------------------------------------------------


def seg_by_position(src, item, label, threshold):
    """{(class, frame): mask} of a SEG without source image references: pydicom's pixels,
    each frame on the image at its PlanePositionSequence position."""
    ds = pydicom.dcmread(Path(src) / label["source"])
    pixels = ds.pixel_array.reshape(int(ds.get("NumberOfFrames", 1)), ds.Rows, ds.Columns)
    names = {s["number"]: s["name"] for s in label["segments"]}
    positions = {}
    for f, frame in enumerate(item["frames"]):
        image = pydicom.dcmread(Path(src) / frame["path"], stop_before_pixels=True)
        positions[f] = np.array(image.ImagePositionPatient, float)
    shared = ds.SharedFunctionalGroupsSequence[0]
    out = {}
    for i, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
        at = np.array(group.PlanePositionSequence[0].ImagePositionPatient, float)
        frames = [f for f, p in positions.items() if np.abs(p - at).max() < 1e-3]
        ident = group if "SegmentIdentificationSequence" in group else shared
        number = ident.SegmentIdentificationSequence[0].ReferencedSegmentNumber
        if ds.SegmentationType == "FRACTIONAL":
            mask = pixels[i] >= threshold * ds.MaximumFractionalValue
        else:
            mask = pixels[i] > 0
        for f in frames:
            if number in names and mask.any():
                key = (names[number], f)
                out[key] = out.get(key, np.zeros_like(mask)) | mask
    return out


def seg_oracle(src, item, label, threshold):
    """{(class, frame): mask} from highdicom."""
    seg = hd.seg.segread(Path(src) / label["source"])
    referenced = {uid for (_, _, uid) in seg.get_source_image_uids()}
    numbers = {s["number"]: s["name"] for s in label["segments"]}
    fractional = seg.segmentation_type == hd.seg.SegmentationTypeValues.FRACTIONAL
    out = {}
    for f, frame in enumerate(item["frames"]):
        uid = frame.get("sop_instance_uid")
        if uid not in referenced:
            continue
        try:
            pixels = seg.get_pixels_by_source_instance(
                source_sop_instance_uids=[uid],
                segment_numbers=sorted(numbers),
                combine_segments=False,
                ignore_spatial_locations=True,
            )[0]
        except RuntimeError:  # frames without source references: placed by position
            return seg_by_position(src, item, label, threshold)
        for i, number in enumerate(sorted(numbers)):
            plane = pixels[..., i]
            mask = plane >= threshold if fractional else plane > 0
            if mask.any():
                out[(numbers[number], f)] = mask
    return out


def nearest_frame(src, item, points):
    """The item frame whose image plane holds `points` within half a millimetre."""
    best = None
    for f, frame in enumerate(item["frames"]):
        image = pydicom.dcmread(Path(src) / frame["path"], stop_before_pixels=True)
        origin = np.array(image.ImagePositionPatient, float)
        normal = np.cross(*np.array(image.ImageOrientationPatient, float).reshape(2, 3))
        distance = np.abs((points - origin) @ normal).max()
        if distance < 0.5 and (best is None or distance < best[0]):
            best = (distance, f)
    return best and best[1]


def rt_oracle(src, item, label, size):
    """{(class, frame): mask} from pydicom's contour points and image geometry."""
    ds = pydicom.dcmread(Path(src) / label["source"])
    names = {r.ROINumber: r.ROIName for r in ds.StructureSetROISequence}
    wanted = {s["name"] for s in label["segments"]}
    by_uid = {}
    for f, frame in enumerate(item["frames"]):
        by_uid[frame.get("sop_instance_uid")] = f
    rings = defaultdict(list)
    for roi in ds.ROIContourSequence:
        name = names.get(roi.ReferencedROINumber)
        if name not in wanted:
            continue
        for contour in getattr(roi, "ContourSequence", []):
            if contour.ContourGeometricType != "CLOSED_PLANAR":
                continue
            points = np.array(contour.ContourData, float).reshape(-1, 3)
            images = getattr(contour, "ContourImageSequence", [])
            if images:
                if images[0].ReferencedSOPInstanceUID not in by_uid:
                    continue
                f = by_uid[images[0].ReferencedSOPInstanceUID]
            else:  # the item frame whose plane the contour lies in
                f = nearest_frame(src, item, points)
                if f is None:
                    continue
            image = pydicom.dcmread(Path(src) / item["frames"][f]["path"], stop_before_pixels=True)
            origin = np.array(image.ImagePositionPatient, float)
            row_dir = np.array(image.ImageOrientationPatient[:3], float)
            col_dir = np.array(image.ImageOrientationPatient[3:], float)
            spacing = [float(v) for v in image.PixelSpacing]
            points = points - origin
            xy = np.stack([points @ row_dir / spacing[1], points @ col_dir / spacing[0]], axis=1)
            rings[(name, f)].append(xy)
    return {key: fill(r, *size) for key, r in rings.items()}


def check_nifti(src, dest, item, label, expected, exact):
    """The label maps of `label` against the oracle's masks (`expected`, by (class, frame), on
    the item's pictures: cut to its crop)."""
    import nibabel

    volume = nibabel.load(dest / item["nifti"]["image"])
    values = volume.get_fdata()  # scaled by the header's scl_slope and scl_inter
    values = values.reshape(values.shape[:3] + (-1,))[..., 0]
    names = {s["number"]: s["name"] for s in label["segments"]}
    files = [(label["nifti_key"], None)] if label.get("nifti_key") else []
    files += [(f["key"], f["number"]) for f in label.get("nifti_segments", [])]
    if not files:
        fail(f"{item['name']}: {label['source']}: no NIfTI label map")
    for key, only in files:
        image = nibabel.load(dest / key)
        if image.shape != values.shape or not np.allclose(image.affine, volume.affine, atol=1e-4):
            fail(f"{key}: shape {image.shape} or affine differs from the volume's")
        data = np.asarray(image.dataobj)
        for number, name in names.items():
            if only is not None and number != only:
                continue
            voxels = values[data == (1 if only is not None else number)]
            pixels = []
            for (cls, f), mask in expected.items():
                if cls != name:
                    continue
                frame = item["frames"][f]
                ds = pydicom.dcmread(Path(src) / frame["path"])
                stored = ds.pixel_array.astype(float)
                stored = stored.reshape(-1, ds.Rows, ds.Columns)[frame["frame"]]
                rescaled = stored * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
                pixels.extend(cut(rescaled, item.get("crop"))[mask])
            if exact:
                if len(voxels) != len(pixels) or not np.allclose(np.sort(voxels), np.sort(pixels), atol=1e-3):
                    fail(f"{key}: segment {name!r}: {len(voxels)} voxels do not hold the values of the {len(pixels)} labelled pixels")
            elif abs(len(voxels) - len(pixels)) > 0.2 * max(len(pixels), 1):
                fail(f"{key}: segment {name!r}: {len(voxels)} voxels for {len(pixels)} pixels")


def cut(frame, crop):
    """The part of a source frame an item shows (all of it without a crop)."""
    if not crop:
        return frame
    x, y = crop["x"], crop["y"]
    return frame[y : y + crop["height"], x : x + crop["width"]]


def frame_size(src, item):
    """(width, height) of the item's source frames (its pictures' size, unless cut)."""
    if not item.get("crop"):
        return item["width"], item["height"]
    image = pydicom.dcmread(Path(src) / item["frames"][0]["path"], stop_before_pixels=True)
    return image.Columns, image.Rows


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    src, dest = Path(argv[0]), Path(argv[1])
    threshold = float(argv[argv.index("--threshold") + 1]) if "--threshold" in argv else 0.5
    manifest = json.loads((dest / "manifest.json").read_text())
    checked = []
    for item in manifest["items"]:
        if not item.get("labels"):
            continue
        w, h = item["width"], item["height"]
        expected = {}
        exact = True
        # The oracles place labels on the source frames; a cropped item shows part of them.
        size = frame_size(src, item)
        for label in item["labels"]:
            if label["kind"] == "seg":
                got = seg_oracle(src, item, label, threshold)
            else:
                got = rt_oracle(src, item, label, size)
                exact = False
            for key, mask in got.items():
                mask = cut(mask, item.get("crop"))
                expected[key] = expected.get(key, np.zeros((h, w), bool)) | mask
        readers = {}
        if item["kind"] != "volume":  # NIfTI-only volumes have no pictures to annotate
            files = {label["darwin_key"] for label in item["labels"]} | {label["encord_key"] for label in item["labels"]}
            if None in files:
                fail(f"{item['name']}: a label file key is missing")
            readers = {
                "darwin": darwin_masks(dest / item["labels"][0]["darwin_key"], w, h),
                "encord": encord_masks(dest / item["labels"][0]["encord_key"], w, h),
            }
        for reader, masks in readers.items():
            keys = {k for k, m in masks.items() if m.any()} | {k for k, m in expected.items() if m.any()}
            for key in sorted(keys):
                want = expected.get(key, np.zeros((h, w), bool))
                have = masks.get(key, np.zeros((h, w), bool))
                differ = want != have
                if exact and differ.any():
                    fail(f"{reader}: {item['name']} class {key[0]!r} frame {key[1]}: {int(differ.sum())} pixels differ from the oracle")
                if not exact and (differ & ~near_boundary(want)).any():
                    fail(f"{reader}: {item['name']} class {key[0]!r} frame {key[1]}: pixels away from the contour differ")
        for label in item["labels"]:
            if item.get("nifti"):
                mine = {k: m for k, m in expected.items() if k[0] in {s["name"] for s in label["segments"]}}
                check_nifti(src, dest, item, label, mine, exact)
        for key in sorted(expected):
            checked.append(
                {"item": item["name"], "class": key[0], "frame": key[1], "pixels": int(expected[key].sum())}
            )
    print(json.dumps({"checked": checked}))


if __name__ == "__main__":
    main(sys.argv[1:])
