"""Reads one CT series into one float32 numpy volume (z, y, x) with TOOL and prints
"seconds peak_rss_mb shape checksum": the read timed in-process, after the imports.

    python read_volume.py dicomprep|pydicom|simpleitk FOLDER

- dicomprep: dicomprep.read_volume(FOLDER)
- pydicom:   read every file, sort by position along the slice normal, stack pixel_array
             rescaled (the usual loader)
- simpleitk: ImageSeriesReader over GetGDCMSeriesFileNames, float32 output, GetArrayFromImage
"""

import os
import resource
import sys
import time

import numpy as np


def with_dicomprep(folder):
    import dicomprep

    return dicomprep.read_volume(folder).array


def with_pydicom(folder):
    import pydicom

    files = [pydicom.dcmread(os.path.join(folder, name)) for name in sorted(os.listdir(folder))]
    cosines = np.array([float(v) for v in files[0].ImageOrientationPatient])
    normal = np.cross(cosines[:3], cosines[3:])
    files.sort(key=lambda ds: float(np.dot(normal, [float(v) for v in ds.ImagePositionPatient])))
    volume = np.empty((len(files), files[0].Rows, files[0].Columns), dtype=np.float32)
    for k, ds in enumerate(files):
        volume[k] = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return volume


def with_simpleitk(folder):
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(folder))
    reader.SetOutputPixelType(sitk.sitkFloat32)
    return sitk.GetArrayFromImage(reader.Execute())


def main():
    tool, folder = sys.argv[1], sys.argv[2]
    read = {"dicomprep": with_dicomprep, "pydicom": with_pydicom, "simpleitk": with_simpleitk}[tool]
    if tool == "simpleitk":
        import SimpleITK  # noqa: F401  (imported before timing, like the others' modules)
    started = time.perf_counter()
    volume = read(folder)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    checksum = float(np.abs(volume).sum(dtype=np.float64))
    print(f"{seconds:.3f} {peak:.0f} {'x'.join(map(str, volume.shape))} {checksum:.6e}")


if __name__ == "__main__":
    main()
