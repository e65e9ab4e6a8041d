"""scan and order against the CLI's JSON and pydicom."""

import json

import pydicom
import pytest

import dicomprep

SERIES = ["dicom2nifti/siemens/anatomical/001", "dicom2nifti/failing/gantrytilting/001"]


@pytest.mark.parametrize("folder", SERIES + ["dcm2niix-qa/dcm_qa_mosaic/In", "pydicom"])
def test_scan_records_are_the_clis_records_as_index_rows(data, cli, folder):
    src = data / folder
    records = dicomprep.scan(src)
    expected = [json.loads(line) for line in cli("scan", src, "-q", check=False).stdout.splitlines()]
    assert len(records) == len(expected) > 0
    by_path = {r["path"]: r for r in records}
    for record in expected:
        row = by_path[record["path"]]
        # The index's `header` column is the whole record; the other columns are its fields.
        assert json.loads(row["header"]) == record
        for column in ["sop_instance_uid", "series_instance_uid", "rows", "columns",
                       "instance_number", "modality", "transfer_syntax", "number_of_frames"]:
            assert row[column] == record.get(column), column
    assert records.columns[:2] == ["path", "file_size"]


def test_scan_values_match_pydicom(data):
    src = data / SERIES[1]
    for record in dicomprep.scan(src):
        ds = pydicom.dcmread(src / record["path"], stop_before_pixels=True)
        assert record["sop_instance_uid"] == ds.SOPInstanceUID
        assert record["series_instance_uid"] == ds.SeriesInstanceUID
        assert (record["rows"], record["columns"]) == (ds.Rows, ds.Columns)
        assert record["instance_number"] == int(ds.InstanceNumber)
        assert record["rescale_intercept"] == float(ds.RescaleIntercept)
        position = json.loads(record["image_position_patient"])
        assert position == pytest.approx([float(v) for v in ds.ImagePositionPatient])


def test_scan_accounts_for_every_input(data):
    records = dicomprep.scan(data / "pydicom")
    files = [p for p in (data / "pydicom").rglob("*") if p.is_file()]
    assert len(records) + len(records.skipped) + len(records.failed) == len(files)
    assert "MR_truncated.dcm" in [f["path"] for f in records.failed]
    assert all(issue["reason"] for issue in records.failed + records.skipped)


@pytest.mark.parametrize("explain", [False, True])
@pytest.mark.parametrize("folder", SERIES + ["dcm2niix-qa/dcm_qa_mosaic/In", "dcm_qa_enh/In"])
def test_order_is_the_order_command(data, cli_json, folder, explain):
    src = data / folder
    ordered = dicomprep.order(src, explain=explain)
    args = ["order", src, "-q"] + (["--explain"] if explain else [])
    expected = cli_json(*args)
    assert ordered.to_dict() == expected
    assert json.loads(ordered.to_json()) == expected
    assert [s.series_instance_uid for s in ordered.series] == [
        s["series_instance_uid"] for s in expected["series"]
    ]
    slices = [sl["path"] for v in ordered.volumes() for sl in v.slices]
    assert slices == [sl["path"] for s in expected["series"] for v in s["volumes"] for sl in v["slices"]]


def test_order_takes_the_clis_options(data, cli_json):
    src = data / "dcm2niix-qa/dcm_qa_mosaic/In"
    for rule in ["spatial", "instance"]:
        assert dicomprep.order(src, rule).to_dict() == cli_json("order", src, "-q", "--rule", rule)
