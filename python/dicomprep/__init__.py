"""dicomprep from Python: parallel header scans, the documented slice order, volumes with their
geometry, and conversion, in Rust (the GIL is released while it works).

- :func:`scan` reads the headers of a folder, bucket or DICOMweb service (never the pixels).
- :func:`order` groups them into series, volumes and ordered slices (the ``order`` command).
- :func:`read_volume` reads a volume into a NumPy array with its affine.
- :func:`convert` runs the ``convert`` command and returns its manifest.
- :class:`Index` queries an index written by ``dicomprep index``.

Keyword options are the command's flags: ``where="modality = 'CT'"`` is ``--where``,
``no_mp4=True`` is ``--no-mp4``. Errors are :class:`Error` and its subclasses, with the CLI's
messages.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple, Union

import numpy as np

from . import _native
from ._native import (
    Error,
    InputError,
    OutputError,
    SourceError,
    UsageError,
    VolumeError,
)

__version__: str = _native.__version__

__all__ = [
    "Error",
    "Frame",
    "Index",
    "InputError",
    "Order",
    "OutputError",
    "Records",
    "Series",
    "SourceError",
    "UsageError",
    "Volume",
    "VolumeError",
    "VolumeRef",
    "convert",
    "order",
    "read_volume",
    "scan",
]

PathLike = Union[str, "os.PathLike[str]"]


def _flags(options: Dict[str, Any]) -> List[str]:
    """The command-line flags of keyword options: ``foo_bar=1`` is ``--foo-bar 1``, ``True``
    a bare flag, ``False``/``None`` nothing, a list the flag once per item."""
    flags: List[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            flags.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                flags += [flag, os.fspath(item) if isinstance(item, os.PathLike) else str(item)]
        else:
            flags += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return flags


def _argv(command: str, positional: List[PathLike], options: Dict[str, Any], progress: bool) -> List[str]:
    argv = ["dicomprep", command, *[os.fspath(p) for p in positional], *_flags(options)]
    if not progress:
        argv.append("--quiet")
    return argv


class Records(List[Dict[str, Any]]):
    """Rows as dicts (a list), with their column names; ``to_pandas()`` and ``to_arrow()``
    when pandas or pyarrow is installed."""

    def __init__(self, columns: List[str], rows: List[List[Any]]):
        super().__init__(dict(zip(columns, row)) for row in rows)
        self.columns: List[str] = columns
        #: Inputs that are not images (``scan``): ``{"path", "reason"}``.
        self.skipped: List[Dict[str, str]] = []
        #: Inputs that should be images but cannot be read (``scan``).
        self.failed: List[Dict[str, str]] = []

    def to_pandas(self) -> Any:
        """A pandas DataFrame with one column per field."""
        import pandas

        return pandas.DataFrame(list(self), columns=self.columns)

    def to_arrow(self) -> Any:
        """A pyarrow Table with one column per field."""
        import pyarrow

        return pyarrow.table({c: [row[c] for row in self] for c in self.columns})


def scan(src: PathLike, *, progress: bool = False, **options: Any) -> Records:
    """The header records of every DICOM instance under ``src`` (a folder or file, ``s3://``,
    ``gs://``, ``az://`` or a DICOMweb URL), read in parallel without the pixels.

    Each record has the columns of the index's ``instances`` table (``path``,
    ``sop_instance_uid``, ``series_instance_uid``, ``rows``, ``image_position_patient`` …;
    ``header`` is the whole record as JSON). ``skipped`` and ``failed`` list the other inputs
    with reasons. ``options`` are ``dicomprep scan``'s flags (e.g. ``anonymous=True``).
    """
    found = json.loads(_native.scan(_argv("scan", [src], options, progress)))
    records = Records(found["columns"], found["rows"])
    records.skipped = found["skipped"]
    records.failed = found["failed"]
    return records


class Frame(NamedTuple):
    """Where one slice of a volume comes from."""

    path: str
    #: The frame in a multi-frame file (0-based), or the tile of a mosaic; 0 otherwise.
    frame: int
    sop_instance_uid: Optional[str]


@dataclass
class Volume:
    """A volume read into memory.

    ``array`` is (z, y, x), or (t, z, y, x) for a time series: slices in the order of
    :func:`order`, rows and columns as DICOM stores them (as pydicom's ``pixel_array``),
    colour with 3 samples last. Values are modality values as float32 (stored × slope +
    intercept), or with ``rescale=False`` the stored values with ``slope`` and ``intercept``.
    ``affine`` maps (column, row, slice) indices to RAS+ millimetres (NIfTI's world, as
    dicomprep's NIfTI writer and nibabel use); ``spacing`` is (slice, row, column) in mm.
    """

    array: np.ndarray
    affine: np.ndarray
    spacing: Tuple[float, float, float]
    frames: List[Frame]
    slope: float
    intercept: float
    series_instance_uid: str
    volume_id: Optional[str]
    _order: "Order" = field(repr=False)

    def to_nifti(self, path: PathLike, gzip: Optional[bool] = None) -> str:
        """Writes the volume as dicomprep's NIfTI writer does (dcm2niix's conventions: rows
        bottom-up, 3D acquisitions reoriented, stored values with scl_slope/scl_inter);
        gzip-compressed when ``path`` ends in ``.gz`` unless ``gzip`` says otherwise.
        Returns the path."""
        path = os.fspath(path)
        compress = path.endswith(".gz") if gzip is None else gzip
        self._order._scanned.write_nifti(self.series_instance_uid, self.volume_id, path, compress)
        return path


@dataclass
class VolumeRef:
    """One volume of an order result: a run of slices with the same size, orientation, echo
    and time point (the ``order`` contract's fields)."""

    id: str
    split_reason: Optional[str]
    rows: Optional[int]
    columns: Optional[int]
    slices: List[Dict[str, Any]]
    normal: Optional[List[float]]
    diagnostics: Optional[Dict[str, Any]]
    series: "Series" = field(repr=False)

    def read(self, rescale: bool = True, progress: bool = False) -> Volume:
        """Reads this volume (see :class:`Volume`); a progress bar when ``progress``."""
        return self.series._order._read(self.series.series_instance_uid, self.id, rescale, progress)


@dataclass
class Series:
    """One series of an order result and its volumes."""

    study_instance_uid: str
    series_instance_uid: str
    series_number: Optional[int]
    modality: Optional[str]
    series_description: Optional[str]
    volumes: List[VolumeRef]
    _order: "Order" = field(repr=False)

    def read(self, rescale: bool = True, progress: bool = False) -> Volume:
        """Reads the series as one volume: 3D, or 4D (t, z, y, x) when its volumes are the
        time points of one acquisition, as the NIfTI writer stacks them."""
        return self._order._read(self.series_instance_uid, None, rescale, progress)


class Order:
    """The result of :func:`order`: series → volumes → slices, the ``order`` JSON contract."""

    def __init__(self, scanned: Any):
        self._scanned = scanned
        report = json.loads(scanned.report())
        self._report: Dict[str, Any] = report
        self.source: str = report["source"]
        self.rule: str = report["rule"]
        self.skipped: List[Dict[str, str]] = report["skipped"]
        self.failed: List[Dict[str, str]] = report["failed"]
        self.series: List[Series] = []
        for s in report["series"]:
            series = Series(
                study_instance_uid=s["study_instance_uid"],
                series_instance_uid=s["series_instance_uid"],
                series_number=s.get("series_number"),
                modality=s.get("modality"),
                series_description=s.get("series_description"),
                volumes=[],
                _order=self,
            )
            for v in s["volumes"]:
                series.volumes.append(
                    VolumeRef(
                        id=v["id"],
                        split_reason=v.get("split_reason"),
                        rows=v.get("rows"),
                        columns=v.get("columns"),
                        slices=v["slices"],
                        normal=v.get("normal"),
                        diagnostics=v.get("diagnostics"),
                        series=series,
                    )
                )
            self.series.append(series)

    def to_json(self) -> str:
        """The report as ``dicomprep order --compact`` prints it."""
        return self._scanned.report()

    def to_dict(self) -> Dict[str, Any]:
        """The report as plain Python values."""
        return json.loads(self._scanned.report())

    def volumes(self) -> Iterator[VolumeRef]:
        """Every volume of every series."""
        for series in self.series:
            yield from series.volumes

    def _read(self, series_uid: str, volume: Optional[str], rescale: bool, progress: bool = False) -> Volume:
        array, described = self._scanned.read_volume(series_uid, volume, rescale, _allocate, progress)
        info = json.loads(described)
        if array.shape[0] == 1:
            array = array[0]
        return Volume(
            array=array,
            affine=np.array(info["affine"], dtype=np.float64),
            spacing=tuple(info["spacing"]),
            frames=[Frame(f["path"], f["frame"], f["sop_instance_uid"]) for f in info["frames"]],
            slope=info["slope"],
            intercept=info["intercept"],
            series_instance_uid=series_uid,
            volume_id=volume,
            _order=self,
        )


def _allocate(shape: List[int], dtype: str) -> Tuple[np.ndarray, int]:
    """A new C-contiguous array for the native reader to fill, and its address."""
    array = np.empty(shape, dtype=np.dtype(dtype))
    return array, array.ctypes.data


def order(
    src: PathLike,
    rule: str = "darwin",
    explain: bool = False,
    *,
    progress: bool = False,
    **options: Any,
) -> Order:
    """Scans ``src`` and orders it as ``dicomprep order`` does: series → volumes → slices,
    by ``rule`` (``darwin``, ``spatial`` or ``instance``), with ordering diagnostics when
    ``explain``. ``options`` are the command's flags (``index=``, ``where=`` …)."""
    options = dict(options, rule=rule, explain=explain)
    return Order(_native.order(_argv("order", [src], options, progress)))


def read_volume(
    source: Union[PathLike, VolumeRef, Series],
    series_uid: Optional[str] = None,
    *,
    volume: Optional[str] = None,
    rescale: bool = True,
    rule: str = "darwin",
    progress: bool = False,
    **options: Any,
) -> Volume:
    """Reads a volume into a NumPy array with its geometry (see :class:`Volume`).

    ``source`` is a volume or series of an :func:`order` result, or a source (folder, bucket,
    DICOMweb URL) with ``series_uid`` (SeriesInstanceUID; optional when the source holds one
    series) and optionally ``volume`` (a volume id of the order report; by default the series
    as one volume, 4D for a time series). Mosaics and enhanced multi-frame files read like any
    volume.
    """
    if isinstance(source, (VolumeRef, Series)):
        return source.read(rescale, progress)
    ordered = order(source, rule, progress=progress, **options)
    if series_uid is None:
        if len(ordered.series) != 1:
            found = ", ".join(s.series_instance_uid for s in ordered.series) or "none"
            raise UsageError(
                f"{os.fspath(source)} holds {len(ordered.series)} series ({found}): pass series_uid="
            )
        series_uid = ordered.series[0].series_instance_uid
    return ordered._read(series_uid, volume, rescale, progress)


def convert(src: PathLike, dest: PathLike, *, progress: bool = False, **options: Any) -> Dict[str, Any]:
    """Runs ``dicomprep convert SRC --dest DEST`` with ``options`` as its flags (e.g.
    ``outputs="nifti"``, ``payload="darwin-readonly"``, ``no_mp4=True``) and returns the
    manifest written (DEST/manifest.json) as a dict."""
    options = dict(options, dest=dest)
    return json.loads(_native.convert(_argv("convert", [src], options, progress)))


class Index:
    """An index written by ``dicomprep index --db PATH`` (SQLite; see the index schema)."""

    def __init__(self, path: PathLike):
        self.path = os.fspath(path)

    def query(self, sql: str) -> Records:
        """The rows of one SQL statement (``to_pandas()`` gives a DataFrame)."""
        found = json.loads(_native.query(self.path, sql))
        return Records(found["columns"], found["rows"])
