"""read_volume against pydicom (values, geometry) and nibabel (the NIfTI file), and to_nifti
against the CLI's NIfTI writer."""

import math

import nibabel
import numpy as np
import pydicom
import pytest

import dicomprep

CT = "dicom2nifti/failing/gantrytilting/001"
MR = "dicom2nifti/siemens/anatomical/001"
MOSAIC = "dcm2niix-qa/dcm_qa_mosaic/In"
ENHANCED = "dicom2nifti/philips_enhanced/anatomical/001"
# Three enhanced files of one DWI series, a direction each: one 4D stack.
ENHANCED_DWI = "dcm2niix-qa/dcm_qa_xa30/In/10_DWI_dir80_PA"


def pydicom_slice(src, frame: dicomprep.Frame, shape, rescale=True):
    """The slice `frame` names, read by pydicom: a frame, or a tile cut from a mosaic."""
    ds = pydicom.dcmread(src / frame.path)
    pixels = ds.pixel_array
    if pixels.ndim == 3:
        pixels = pixels[frame.frame]
    rows, columns = shape
    if pixels.shape != (rows, columns):
        grid = pixels.shape[1] // columns
        y, x = divmod(frame.frame, grid)
        pixels = pixels[y * rows:(y + 1) * rows, x * columns:(x + 1) * columns]
    if not rescale:
        return pixels
    return pixels * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))


@pytest.mark.parametrize("folder", [CT, MR])
def test_a_series_reads_as_pydicom_stacks_it_in_the_order(data, folder):
    src = data / folder
    ordered = dicomprep.order(src)
    volume = ordered.series[0].volumes[0].read()
    assert volume.array.dtype == np.float32
    assert volume.array.shape == (len(ordered.series[0].volumes[0].slices), *volume.array.shape[1:])
    # The slices are the order's, in its order.
    assert [f.path for f in volume.frames] == [s["path"] for s in ordered.series[0].volumes[0].slices]
    for k, frame in enumerate(volume.frames):
        expected = pydicom_slice(src, frame, volume.array.shape[1:])
        np.testing.assert_array_equal(volume.array[k], expected.astype(np.float32))
        assert frame.sop_instance_uid == pydicom.dcmread(src / frame.path).SOPInstanceUID


def test_stored_values_come_with_slope_and_intercept(data):
    src = data / CT
    volume = dicomprep.read_volume(src, rescale=False)
    assert volume.array.dtype == pydicom.dcmread(src / volume.frames[0].path).pixel_array.dtype
    assert (volume.slope, volume.intercept) == (1.0, -1024.0)
    for k, frame in enumerate(volume.frames):
        raw = pydicom_slice(src, frame, volume.array.shape[1:], rescale=False)
        np.testing.assert_array_equal(volume.array[k], raw)
    rescaled = dicomprep.read_volume(src)
    np.testing.assert_array_equal(volume.array * volume.slope + volume.intercept, rescaled.array)


def test_the_affine_puts_every_voxel_where_its_dicom_position_says(data):
    src = data / MR
    volume = dicomprep.read_volume(src)
    z, rows, columns = volume.array.shape
    for k, frame in enumerate(volume.frames):
        ds = pydicom.dcmread(src / frame.path, stop_before_pixels=True)
        position = np.array([float(v) for v in ds.ImagePositionPatient])
        cosines = np.array([float(v) for v in ds.ImageOrientationPatient])
        row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
        for r, c in [(0, 0), (rows - 1, 0), (0, columns - 1), (17, 101)]:
            lps = position + c * column_spacing * cosines[:3] + r * row_spacing * cosines[3:]
            ras = lps * [-1, -1, 1]
            world = volume.affine @ [c, r, k, 1]
            np.testing.assert_allclose(world[:3], ras, atol=1e-3)
    assert volume.spacing == pytest.approx((volume.spacing[0], row_spacing, column_spacing))
    assert volume.spacing[0] == pytest.approx(np.linalg.norm(volume.affine[:3, 2]))


def test_a_mosaic_time_series_reads_as_4d_tiles(data, cli_json):
    src = data / MOSAIC
    volume = dicomprep.read_volume(src)
    ordered = cli_json("order", src, "-q")
    files = {sl["path"] for s in ordered["series"] for v in s["volumes"] for sl in v["slices"]}
    t, z, rows, columns = volume.array.shape
    assert t == len({f.path for f in volume.frames}) == len(files) > 1
    assert z > 1 and len(volume.frames) == t * z
    for index in [0, z // 2, t * z - 1]:
        frame = volume.frames[index]
        expected = pydicom_slice(src, frame, (rows, columns))
        np.testing.assert_array_equal(volume.array.reshape(t * z, rows, columns)[index], expected)


@pytest.mark.parametrize("folder", [ENHANCED, ENHANCED_DWI])
def test_enhanced_multi_frame_files_read_frame_by_frame(data, folder):
    src = data / folder
    ordered = dicomprep.order(src)
    volume = ordered.series[0].read(rescale=False)
    assert all(f.path.endswith(".dcm") for f in volume.frames)
    slices = volume.array.reshape(-1, *volume.array.shape[-2:])
    assert len(slices) == len(volume.frames)
    if folder == ENHANCED_DWI:
        assert volume.array.shape == (3, 39, 72, 72)
    for k, frame in enumerate(volume.frames):
        raw = pydicom_slice(src, frame, slices.shape[-2:], rescale=False)
        np.testing.assert_array_equal(slices[k], raw)


@pytest.mark.parametrize("folder", [CT, MR, MOSAIC, ENHANCED])
def test_to_nifti_writes_what_the_nifti_writer_writes(data, cli, tmp_path, folder):
    src = data / folder
    cli("convert", src, "--dest", tmp_path / "out", "--outputs", "nifti", "--nifti-gzip", "no", "-q", "--no-html")
    written = sorted((tmp_path / "out").rglob("*.nii"))
    ordered = dicomprep.order(src)
    ours = []
    for i, series in enumerate(ordered.series):
        try:
            volume = series.read()
        except dicomprep.VolumeError:
            # A series of several stacks: each volume on its own.
            for j, ref in enumerate(series.volumes):
                ours.append(ref.read().to_nifti(tmp_path / f"{i}-{j}.nii"))
            continue
        ours.append(volume.to_nifti(tmp_path / f"{i}.nii"))
    cli_bytes = sorted(p.read_bytes() for p in written)
    assert cli_bytes and sorted(open(p, "rb").read() for p in ours) == cli_bytes


def test_nibabel_finds_each_voxel_of_the_nifti_file_at_the_arrays_world_position(data, tmp_path):
    src = data / MR
    volume = dicomprep.read_volume(src)
    image = nibabel.load(volume.to_nifti(tmp_path / "v.nii.gz"))
    voxels = np.asarray(image.dataobj, dtype=np.float32)
    to_array = np.linalg.inv(volume.affine)
    rng = np.random.default_rng(1)
    for i, j, k in rng.integers(0, voxels.shape, size=(50, 3)):
        world = image.affine @ [i, j, k, 1]
        c, r, z = np.rint((to_array @ world)[:3]).astype(int)
        assert volume.array[z, r, c] == voxels[i, j, k]


def test_a_source_of_several_series_needs_a_series_uid(data):
    with pytest.raises(dicomprep.UsageError, match="series_uid"):
        dicomprep.read_volume(data / "dicom2nifti/siemens")
    uid = dicomprep.order(data / "dicom2nifti/siemens").series[0].series_instance_uid
    assert dicomprep.read_volume(data / "dicom2nifti/siemens", uid).series_instance_uid == uid
