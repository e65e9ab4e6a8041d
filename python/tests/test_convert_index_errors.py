"""convert, Index and the exceptions."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dicomprep


def test_convert_returns_the_manifest_it_wrote(data, tmp_path):
    dest = tmp_path / "bucket"
    manifest = dicomprep.convert(data / "dicom2nifti/siemens/anatomical/001", dest, no_mp4=True)
    assert manifest == json.loads((dest / "manifest.json").read_text())
    assert manifest["items"] and not manifest["failed"]
    nifti = dicomprep.convert(data / "dicom2nifti/siemens/anatomical/001", tmp_path / "n", outputs="nifti")
    assert all(item["nifti"]["image"].endswith(".nii.gz") for item in nifti["items"])


def test_index_queries_return_rows_and_frames(data, cli, tmp_path):
    src = data / "dicom2nifti/siemens"
    db = tmp_path / "index.db"
    cli("index", src, "--db", db, "-q")
    rows = dicomprep.Index(db).query("SELECT path, rows FROM instances ORDER BY path")
    scanned = sorted((r["path"], r["rows"]) for r in dicomprep.scan(src))
    assert [(r["path"], r["rows"]) for r in rows] == scanned
    assert rows.columns == ["path", "rows"]
    frame = rows.to_pandas()
    assert list(frame.columns) == ["path", "rows"] and len(frame) == len(scanned)
    table = dicomprep.scan(src).to_arrow()
    assert table.num_rows == len(scanned) and "sop_instance_uid" in table.column_names


def test_errors_are_exceptions_with_the_clis_messages(data, tmp_path):
    with pytest.raises(dicomprep.SourceError, match="nowhere"):
        dicomprep.scan(tmp_path / "nowhere")
    with pytest.raises(dicomprep.UsageError, match="no-such-flag"):
        dicomprep.scan(data / "pydicom", no_such_flag=True)
    with pytest.raises(dicomprep.UsageError):
        dicomprep.order(data / "pydicom", rule="alphabetical")
    with pytest.raises(dicomprep.VolumeError, match="no series"):
        dicomprep.read_volume(data / "dicom2nifti/siemens/anatomical/001", "1.2.3")
    with pytest.raises(dicomprep.SourceError):
        dicomprep.Index(tmp_path / "missing.db").query("SELECT 1")
    assert issubclass(dicomprep.VolumeError, dicomprep.Error)


def test_bad_sql_is_a_usage_error(data, cli, tmp_path):
    db = tmp_path / "index.db"
    cli("index", data / "dicom2nifti/siemens", "--db", db, "-q")
    with pytest.raises(dicomprep.UsageError):
        dicomprep.Index(db).query("SELECT nothing FROM nowhere")


def test_a_volume_that_cannot_be_one_volume_says_why(data):
    src = data / "dicom2nifti/failing/slicecount"
    ordered = dicomprep.order(src)
    reasons = []
    for ref in ordered.volumes():
        try:
            ref.read()
        except dicomprep.VolumeError as error:
            reasons.append(str(error))
    assert all(reasons), reasons


def test_the_wheel_carries_its_type_stubs():
    package = Path(dicomprep.__file__).parent
    assert (package / "py.typed").is_file() and (package / "_native.pyi").is_file()


def test_the_wheels_command_is_the_cli(data):
    done = subprocess.run([sys.executable, "-m", "dicomprep._cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"dicomprep {dicomprep.__version__}"
    done = subprocess.run([sys.executable, "-m", "dicomprep._cli", "order", str(data / "nowhere")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "cannot read source" in done.stderr
    done = subprocess.run([sys.executable, "-m", "dicomprep._cli", "order", "--bogus"],
                          capture_output=True, text=True)
    assert done.returncode == 2


def test_progress_is_off_unless_asked(data, capfd):
    src = data / "dicom2nifti/siemens/anatomical/001"
    quiet = dicomprep.scan(src)
    assert capfd.readouterr().err == ""
    # With progress=True the bars draw on a terminal (none here); the results are the same.
    assert dicomprep.scan(src, progress=True) == quiet
    loud = dicomprep.read_volume(src, progress=True)
    np.testing.assert_array_equal(loud.array, dicomprep.read_volume(src).array)


def test_the_gil_is_released_while_rust_works(data):
    # A Python thread counts while another reads volumes: were the GIL held during a read, the
    # counter would stall for the whole read; released, it never stalls for more than a
    # fraction of one.
    import threading
    import time

    series = dicomprep.order(data / "dcm2niix-qa/dcm_qa_mosaic/In").series[0]
    durations = []
    longest_stall = [0.0]
    done = threading.Event()

    def count():
        last = time.perf_counter()
        while not done.is_set():
            now = time.perf_counter()
            longest_stall[0] = max(longest_stall[0], now - last)
            last = now

    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.05)
    for _ in range(5):
        started = time.perf_counter()
        series.read()
        durations.append(time.perf_counter() - started)
    done.set()
    counter.join()
    assert longest_stall[0] < min(durations) / 2, (longest_stall[0], durations)
