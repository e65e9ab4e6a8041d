#!/usr/bin/env python3
"""Check NIfTI conversions against dcm2niix's reference outputs (its dcm_qa* regression suites).

Usage: nifti_conformance.py REF_DIR OUT_DIR [REF_DIR OUT_DIR ...] [--json REPORT]
           [--goal GOAL] [--write-goal GOAL] [--absent SUITE/REF_NAME ...]

A REF_DIR (a suite's Ref/) holds dcm2niix's .nii, .json, .bval, .bvec; an OUT_DIR holds our
*.nii / *.nii.gz anywhere below it, each with its sidecar (same stem, .json) and any .bval/.bvec
beside it. Names are arbitrary: Refs and outputs are paired by content. Candidates share the
sidecars' SeriesNumber (a side without one is a candidate only if its image matches); the best
pairs are taken first, one output per Ref: exact, then equivalent, then same series, then fewest
differing SeriesDescription/ProtocolName/Echo/ImageType keys, then closest in world space.

Each Ref is classed
  exact       same dims (a trailing single volume aside), same voxel values after scl_slope/
              scl_inter (bitwise on float64; 1e-5 relative if the on-disk type or scaling
              differ), best affine and each sform/qform the Ref sets within 1e-3;
  equivalent  the same image in another voxel order (both reoriented to the closest canonical
              orientation, then compared as above);
  wrong       a candidate exists but differs (dims, max abs value difference, affine);
  missing     no candidate;
  absent      the Ref's NIfTI (or, named with --absent, its DICOM input) is not in the suite:
              not a failure; if paired, its bval, bvec and sidecar are still compared.
Also compared: bvals (within 1e-3), bvecs (within 1e-3 per volume, either sign; as written, so
an "equivalent" pair may differ), and the CORE sidecar keys the Ref has (numbers to 1e-4
relative, lists elementwise, strings exactly); other Ref keys we lack are listed as information.
Unpaired outputs are "extra". A Ref is "reproduced" when exact with equal bval/bvec; --goal
reads {suite: [Ref names]} and reports how many we reproduce, --write-goal writes this run's.
Prints a table and summary per suite and a grand total; --json writes it all machine-readably.
Exits 0 unless the script itself fails.
"""

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
import numpy.lib.recfunctions as rfn

CORE_KEYS = (
    "Modality", "Manufacturer", "ManufacturersModelName", "MagneticFieldStrength",
    "SeriesDescription", "ProtocolName", "SeriesNumber", "AcquisitionNumber", "ImageType",
    "RepetitionTime", "EchoTime", "EchoNumber", "FlipAngle", "InversionTime", "SliceThickness",
    "SpacingBetweenSlices", "SliceTiming", "PhaseEncodingDirection", "EffectiveEchoSpacing",
    "TotalReadoutTime", "ImageOrientationPatientDICOM", "AcquisitionTime")
# Keys that tell apart outputs of one series (echoes, phase/magnitude, reused series numbers).
PICK_KEYS = ("SeriesDescription", "ProtocolName", "EchoNumber", "EchoTime", "ImageType",
             "AcquisitionNumber")
AFFINE_TOL, VALUE_RTOL, KEY_RTOL, GRAD_TOL = 1e-3, 1e-5, 1e-4, 1e-3
RANK = {"exact": 0, "equivalent": 1, "wrong": 2, "absent": 3}
CLASSES = ("exact", "equivalent", "wrong", "missing", "absent")
FAR = (1, math.inf, math.inf)


def squeezed(shape):
    """Shape without trailing single volumes beyond the third axis."""
    shape = tuple(int(n) for n in shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    return shape


def fmt_shape(shape):
    return "x".join(str(n) for n in shape)


def one_line(exc):
    return " ".join(str(exc).split())


class Output:
    """One NIfTI (for a Ref, possibly absent), its sidecar and its bval/bvec paths."""

    def __init__(self, nii, root):
        self.nii, self.name = nii, str(nii.relative_to(root))
        base = nii.name[:-7] if nii.name.endswith(".nii.gz") else nii.name[:-4]
        self.base = nii.with_name(base)
        self.bval, self.bvec = nii.with_name(base + ".bval"), nii.with_name(base + ".bvec")
        try:
            self.sidecar = json.loads(nii.with_name(base + ".json").read_text())
        except (OSError, ValueError):
            self.sidecar = None
        if not isinstance(self.sidecar, dict):
            self.sidecar = None
        value = (self.sidecar or {}).get("SeriesNumber")
        try:
            self.series = int(float(value)) if value is not None else None
        except (TypeError, ValueError):
            self.series = str(value)
        self.error, self._img, self._data = None, None, None

    @property
    def img(self):
        if self._img is None and self.error is None:
            try:
                self._img = nib.load(str(self.nii), mmap=False)
            except Exception as exc:  # any unreadable or malformed file
                self.error = f"unreadable: {one_line(exc)}"
        return self._img

    def data(self):
        if self._data is None:
            self._data = as_array(self.img)
        return self._data


def as_array(img):
    """Scaled voxel values as float64; RGB(A) voxels get a last axis of channels."""
    if img.get_data_dtype().fields:
        a = rfn.structured_to_unstructured(np.asanyarray(img.dataobj)).astype(np.float64)
    else:
        a = np.asarray(img.get_fdata(dtype=np.float64, caching="unchanged"))
    return a.reshape(squeezed(a.shape))


def scaling(img):
    return str(img.get_data_dtype()), float(img.dataobj.slope), float(img.dataobj.inter)


def values_equal(a, b, strict):
    """(equal?, max abs difference over voxels finite in both, voxels NaN in just one)."""
    if strict:
        same = np.array_equal(a, b, equal_nan=True)
    else:
        same = np.allclose(a, b, rtol=VALUE_RTOL, atol=0, equal_nan=True)
    both = np.isfinite(a) & np.isfinite(b)
    diff = float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0
    return same, diff, int(np.count_nonzero(np.isnan(a) != np.isnan(b)))


def max_diff(m1, m2):
    return float(np.max(np.abs(np.asarray(m1)[:3] - np.asarray(m2)[:3])))


def affine_issues(ref, ours):
    """Problems with our best affine and with each sform/qform the Ref sets; worst difference."""
    worst = max_diff(ref.affine, ours.affine)
    issues = [f"affine max|d| {worst:.3g}"] if worst > AFFINE_TOL else []
    for kind in ("sform", "qform"):
        ref_m, ref_code = getattr(ref, "get_" + kind)(coded=True)
        our_m, our_code = getattr(ours, "get_" + kind)(coded=True)
        if not ref_code:
            continue
        if not our_code:
            issues.append(f"{kind} unset")
        elif max_diff(ref_m, our_m) > AFFINE_TOL:
            issues.append(f"{kind} max|d| {max_diff(ref_m, our_m):.3g}")
        elif our_code != ref_code:
            issues.append(f"{kind}_code {ref_code} vs {our_code}")
    return issues, worst


def canonical(ri, oi, strict):
    """values_equal and the affine difference of both images in the closest canonical order."""
    try:
        rc, oc = nib.as_closest_canonical(ri), nib.as_closest_canonical(oi)
        rca, oca = as_array(rc), as_array(oc)
    except Exception:  # e.g. a degenerate affine has no closest orientation
        return None, None
    if rca.shape != oca.shape:
        return None, None
    return values_equal(rca, oca, strict), max_diff(rc.affine, oc.affine)


def compare_images(ref, out):
    """Class, detail notes and a distance (lower is closer) of our image against a Ref."""
    if out.img is None:
        return "wrong", [out.error], FAR
    ri, oi = ref.img, out.img
    rs, os_ = scaling(ri), scaling(oi)
    strict = rs == os_
    notes = [] if rs[0] == os_[0] else [f"dtype {rs[0]} vs {os_[0]}"]
    if not strict and rs[1:] != os_[1:]:
        notes.append(f"scl {rs[1]:g}/{rs[2]:g} vs {os_[1]:g}/{os_[2]:g}")
    if ri.shape != oi.shape and squeezed(ri.shape) == squeezed(oi.shape):
        notes.append(f"shape {fmt_shape(ri.shape)} vs {fmt_shape(oi.shape)}")
    issues, worst = affine_issues(ri, oi)
    try:
        rd, od = ref.data(), out.data()
    except Exception as exc:  # truncated or otherwise unreadable voxel data
        return "wrong", [f"unreadable: {one_line(exc)}"], FAR
    values = values_equal(rd, od, strict) if rd.shape == od.shape else None
    if values and values[0] and not issues:
        return "exact", notes, (0, 0.0, 0.0)
    if not (values and values[0] and worst <= AFFINE_TOL):  # not just a sform/qform problem
        c_values, c_worst = canonical(ri, oi, strict)
        if c_values and c_values[0] and c_worst <= AFFINE_TOL:
            return "equivalent", notes + ["voxel order differs"], (0, 0.0, 0.0)
        if c_values and values is None:  # only the reoriented images have the same dims
            values, worst = c_values, c_worst
            issues = [f"affine max|d| {c_worst:.3g} (canonical)"] if c_worst > AFFINE_TOL else []
            notes.append("voxel order differs")
    if values is None:
        reasons = [f"dims {fmt_shape(ri.shape)} vs {fmt_shape(oi.shape)}"]
    elif not values[0]:
        nans = f", {values[2]} NaN differ" if values[2] else ""
        reasons = [f"values max|d| {values[1]:.4g}{nans}"]
    else:
        reasons = []
    finite = np.abs(rd[np.isfinite(rd)])
    scale = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    return "wrong", reasons + issues + notes, (
        int(values is None), worst, values[1] / scale if values else math.inf)


def same_value(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=KEY_RTOL)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def compare_keys(ref_side, our_side):
    """Core keys of the Ref that are equal / differ / missing in ours; other keys we lack."""
    ref_side, our_side = ref_side or {}, our_side or {}
    core = {"equal": [], "differ": {}, "missing": []}
    for key in (k for k in CORE_KEYS if k in ref_side):
        if key not in our_side:
            core["missing"].append(key)
        elif same_value(ref_side[key], our_side[key]):
            core["equal"].append(key)
        else:
            core["differ"][key] = [ref_side[key], our_side[key]]
    return core, sorted(k for k in ref_side if k not in CORE_KEYS and k not in our_side)


def pick_mismatch(ref, out):
    a, b = ref.sidecar or {}, out.sidecar or {}
    return sum(1 for k in PICK_KEYS if k in a and k in b and not same_value(a[k], b[k]))


def compare_gradients(ref, out):
    """'-' when neither side has bval/bvec, 'ok', or the problems; and whether it is bad."""
    problems, seen = [], False
    for kind in ("bval", "bvec"):
        rp, op = getattr(ref, kind), (getattr(out, kind) if out else None)
        has_ours = op is not None and op.exists()
        if not rp.exists():
            problems += [f"{kind} extra"] if has_ours else []
            continue
        seen = True
        try:
            r, o = np.loadtxt(rp, ndmin=2), np.loadtxt(op, ndmin=2) if has_ours else None
        except (OSError, ValueError):
            problems.append(f"{kind} unreadable")
            continue
        if o is None:
            problems.append(f"{kind} missing")
        elif kind == "bval":
            if r.size != o.size or not np.allclose(r.ravel(), o.ravel(), rtol=0, atol=GRAD_TOL):
                problems.append("bval differs")
        elif r.shape != o.shape or r.shape[0] != 3:
            problems.append(f"bvec {fmt_shape(r.shape)} vs {fmt_shape(o.shape)}")
        else:
            off = np.minimum(np.abs(r - o).max(axis=0), np.abs(r + o).max(axis=0))  # either sign
            if (off > GRAD_TOL).any():
                problems.append(f"bvec differs in {int((off > GRAD_TOL).sum())} volumes")
    bad = any(not p.endswith("extra") for p in problems)
    return ", ".join(problems) if problems else ("ok" if seen else "-"), bad


def niftis(folder):
    return [p for p in sorted(folder.rglob("*")) if p.name.endswith((".nii", ".nii.gz"))]


def load_refs(ref_dir):
    """Every Ref NIfTI, plus every Ref sidecar whose NIfTI is absent; unreadable ones as absent."""
    refs = [Output(p, ref_dir) for p in niftis(ref_dir)]
    have = {r.base for r in refs}
    for side in sorted(ref_dir.rglob("*.json")):
        if side.with_suffix("") not in have:
            refs.append(Output(side.with_suffix(".nii"), ref_dir))
            refs[-1].error = "Ref NIfTI absent"
    for ref in refs:
        if ref.img is None:
            ref.error = ref.error or "Ref unreadable"
    return refs


def check_suite(suite, ref_dir, out_dir, absent):
    refs, outs = load_refs(ref_dir), [Output(p, out_dir) for p in niftis(out_dir)]
    options = []
    for ri, ref in enumerate(refs):
        for oi, out in enumerate(outs):
            same = ref.series is not None and ref.series == out.series
            if not same and ref.series is not None and out.series is not None:
                continue
            if ref.error:  # no Ref image: pair on the series number and the sidecar only
                if not same:
                    continue
                cls, notes, dist = "absent", [ref.error], (0, 0.0, 0.0)
            else:
                cls, notes, dist = compare_images(ref, out)
                if cls == "wrong" and not same:
                    continue
            score = (RANK[cls], not same, pick_mismatch(ref, out)) + dist
            options.append((score, ri, oi, cls, notes))
    paired, used = {}, set()
    for _, ri, oi, cls, notes in sorted(options, key=lambda o: o[:3]):
        if ri not in paired and oi not in used:
            paired[ri] = (oi, cls, notes)
            used.add(oi)
    rows = []
    for ri, ref in enumerate(refs):
        oi, cls, notes = paired.get(ri, (None, "missing", []))
        out = outs[oi] if oi is not None else None
        if cls == "missing" and (ref.error or f"{suite}/{ref.name}" in absent):
            cls, notes = "absent", [ref.error or "DICOM input absent"]
        grad, grad_bad = compare_gradients(ref, out)
        core, other = compare_keys(ref.sidecar, out.sidecar if out else None)
        rows.append({
            "ref": ref.name, "ours": out.name if out else None, "class": cls,
            "detail": "; ".join(notes), "bval_bvec": grad, "bval_bvec_bad": grad_bad,
            "dtype": [str(ref.img.get_data_dtype()) if not ref.error else None,
                      str(out.img.get_data_dtype()) if out and out.img else None],
            "our_sidecar": bool(out and out.sidecar is not None), "core": core,
            "core_total": sum(map(len, core.values())), "other_missing": other,
            "reproduced": cls == "exact" and not grad_bad})
    extra = [{"ours": o.name, "series": o.series,
              "shape": fmt_shape(o.img.shape) if o.img else o.error}
             for oi, o in enumerate(outs) if oi not in used]
    return {"ref_dir": str(ref_dir), "out_dir": str(out_dir), "refs": rows, "extra": extra}


def summarize(rows, extra):
    counted = [r for r in rows if r["class"] != "absent" or r["ours"]]
    counts = Counter(r["class"] for r in rows)
    return {**{c: counts.get(c, 0) for c in CLASSES}, "refs": len(rows), "extra": len(extra),
            "core_equal": sum(len(r["core"]["equal"]) for r in counted),
            "core_total": sum(r["core_total"] for r in counted),
            "bval_bvec_bad": sum(r["bval_bvec_bad"] for r in rows),
            "reproduced": sum(r["reproduced"] for r in rows)}


def summary_line(label, s):
    pct = 100.0 * s["core_equal"] / s["core_total"] if s["core_total"] else 0.0
    return (f"{label}: {s['refs']} Refs: exact {s['exact']}, equivalent {s['equivalent']}, "
            f"wrong {s['wrong']}, missing {s['missing']}, absent {s['absent']}; "
            f"extra {s['extra']}; bval/bvec bad {s['bval_bvec_bad']}; core keys {pct:.1f}% "
            f"({s['core_equal']}/{s['core_total']})")


def key_diff(key, a, b, width=40):
    """'Key ref vs ours', lists shown from their first differing element."""
    start = 0
    if isinstance(a, list) and isinstance(b, list):
        while start < min(len(a), len(b)) and same_value(a[start], b[start]):
            start += 1
        a, b = a[start:], b[start:]
    texts = [json.dumps(v) for v in (a, b)]
    texts = [t if len(t) <= width else t[:width - 3] + "..." for t in texts]
    return f"{key}{f'[{start}:]' if start else ''} {texts[0]} vs {texts[1]}"


def print_suite(suite, result):
    head = ("Ref", "class", "bval/bvec", "core", "ours", "detail")
    rows = [(r["ref"], r["class"], r["bval_bvec"], f"{len(r['core']['equal'])}/{r['core_total']}",
             r["ours"] or "-", r["detail"]) for r in result["refs"]]
    for e in result["extra"]:
        series = "no SeriesNumber" if e["series"] is None else f"series {e['series']}"
        rows.append(("-", "extra", "-", "-", e["ours"], f"{series}, {e['shape']}"))
    widths = [max(len(row[i]) for row in rows + [head]) for i in range(len(head) - 1)]
    print(f"\n== {suite}  (Ref {result['ref_dir']}, ours {result['out_dir']})")
    for row in [head] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    diffs = {}  # per paired Ref: its core key differences, a difference shared by many once
    for r in (r for r in result["refs"] if r["ours"]):
        found = [key_diff(k, a, b) for k, (a, b) in r["core"]["differ"].items()]
        found += ["missing " + ", ".join(r["core"]["missing"])] if r["core"]["missing"] else []
        diffs[r["ref"]] = found if r["our_sidecar"] else ["our sidecar missing"]
    common = Counter(d for found in diffs.values() for d in found)
    for d, n in ((d, n) for d, n in common.items() if n > 3):
        print(f"  keys ({n} Refs): {d}")
    for ref, found in diffs.items():
        if any(common[d] <= 3 for d in found):
            print(f"  keys {ref}: " + "; ".join(d for d in found if common[d] <= 3))
    lacked = Counter(k for r in result["refs"] if r["our_sidecar"] for k in r["other_missing"])
    if lacked:
        ranked = sorted(lacked.items(), key=lambda item: (-item[1], item[0]))
        print("  non-core Ref keys we lack (in how many Refs): "
              + ", ".join(f"{k} ({n})" for k, n in ranked))
    print(summary_line(suite, result["summary"]))
    if "goal" in result:
        g, missed = result["goal"], result["goal"]["not_reproduced"]
        print(f"{suite}: goal: {len(g['reproduced'])} of {len(g['names'])} reproduced"
              + (f" (not: {', '.join(missed)})" if 0 < len(missed) <= 10 else ""))


def suite_name(ref_dir):
    ref_dir = ref_dir.resolve()
    return ref_dir.parent.name if ref_dir.name == "Ref" else ref_dir.name


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", metavar="REF_DIR OUT_DIR", type=Path)
    parser.add_argument("--json", type=Path, help="write a machine-readable report here")
    parser.add_argument("--goal", type=Path, help="{suite: [Ref names]} to report progress on")
    parser.add_argument("--write-goal", type=Path, help="write {suite: [reproduced Ref names]}")
    parser.add_argument("--absent", action="append", default=[], metavar="SUITE/REF",
                        help="a Ref whose DICOM input is known absent (repeatable)")
    args = parser.parse_args(argv)
    if len(args.dirs) % 2:
        parser.error("give REF_DIR OUT_DIR pairs")
    goal = json.loads(args.goal.read_text()) if args.goal else {}
    report, total = {"suites": {}}, Counter()
    for ref_dir, out_dir in zip(args.dirs[::2], args.dirs[1::2]):
        suite = suite_name(ref_dir)
        result = check_suite(suite, ref_dir, out_dir, set(args.absent))
        result["summary"] = summarize(result["refs"], result["extra"])
        if suite in goal:
            done = {r["ref"] for r in result["refs"] if r["reproduced"]}
            result["goal"] = {"names": goal[suite],
                              "reproduced": [n for n in goal[suite] if n in done],
                              "not_reproduced": [n for n in goal[suite] if n not in done]}
            total.update(goal_reproduced=len(result["goal"]["reproduced"]),
                         goal_total=len(goal[suite]))
        total.update(result["summary"])
        report["suites"][suite] = result
        print_suite(suite, result)
    report["total"] = dict(total)
    label = f"TOTAL ({len(report['suites'])} suites)"
    print("\n" + summary_line(label, {**{c: 0 for c in CLASSES}, **total}))
    if "goal_total" in total:
        print(f"TOTAL: goal: {total['goal_reproduced']} of {total['goal_total']} reproduced")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
    if args.write_goal:
        reproduced = {suite: [r["ref"] for r in res["refs"] if r["reproduced"]]
                      for suite, res in report["suites"].items()}
        args.write_goal.write_text(json.dumps(reproduced, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
