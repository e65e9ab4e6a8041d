//! The header index's SQLite schema (`dicomprep index --db FILE`), a public contract: users
//! read the file with `sqlite3`, Python or DuckDB, and `--where` conditions name its columns.
//! Columns are added, never renamed; [`SCHEMA_VERSION`] changes when a column's meaning does.
//!
//! No patient identifier (PatientName, PatientID, PatientBirthDate, AccessionNumber…) is
//! stored: the header reader does not even keep them.

/// Version stored in `meta` under `schema_version`. An index of another version is rebuilt
/// (the next refresh scans every header again).
/// Version 2 added `series_values` and the `(series_instance_uid, path)` index.
/// Version 3 presents Siemens mosaics as their tiles: `rows`, `columns` and
/// `number_of_frames` are the tiles', and `frames` has one row per tile with its position.
/// Version 4 keeps what headers say about burned-in text: `burned_in_annotation`, and the
/// ultrasound regions in `header` (`convert --burned-in` needs them from any instance); and
/// the slide-microscopy facts (`total_pixel_matrix_columns`, `total_pixel_matrix_rows`, the
/// rest in `header`).
pub const SCHEMA_VERSION: i64 = 4;

/// The statements creating every table and index (idempotent).
pub const CREATE: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS instances (
    path TEXT PRIMARY KEY,
    file_size INTEGER NOT NULL,
    mtime_ns INTEGER,
    etag TEXT,
    transfer_syntax TEXT NOT NULL,
    sop_class_uid TEXT,
    sop_instance_uid TEXT,
    study_instance_uid TEXT,
    series_instance_uid TEXT,
    modality TEXT,
    series_number INTEGER,
    series_description TEXT,
    study_date TEXT,
    study_description TEXT,
    protocol_name TEXT,
    body_part_examined TEXT,
    manufacturer TEXT,
    manufacturer_model_name TEXT,
    instance_number INTEGER,
    slice_location REAL,
    image_position_patient TEXT,
    image_orientation_patient TEXT,
    pixel_spacing_row REAL,
    pixel_spacing_column REAL,
    slice_thickness REAL,
    rows INTEGER,
    columns INTEGER,
    number_of_frames INTEGER NOT NULL,
    samples_per_pixel INTEGER,
    photometric_interpretation TEXT,
    bits_allocated INTEGER,
    bits_stored INTEGER,
    pixel_representation INTEGER,
    rescale_slope REAL,
    rescale_intercept REAL,
    window_center TEXT,
    window_width TEXT,
    image_type TEXT,
    echo_number INTEGER,
    acquisition_number INTEGER,
    temporal_position_identifier INTEGER,
    burned_in_annotation TEXT,
    total_pixel_matrix_columns INTEGER,
    total_pixel_matrix_rows INTEGER,
    header TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_series ON instances (series_instance_uid, path);
CREATE INDEX IF NOT EXISTS instances_study ON instances (study_instance_uid);
CREATE INDEX IF NOT EXISTS instances_modality ON instances (modality, slice_thickness);
CREATE INDEX IF NOT EXISTS instances_body_part ON instances (body_part_examined);
CREATE INDEX IF NOT EXISTS instances_manufacturer ON instances (manufacturer);
CREATE INDEX IF NOT EXISTS instances_study_date ON instances (study_date);
CREATE INDEX IF NOT EXISTS instances_sop_instance ON instances (sop_instance_uid);
CREATE INDEX IF NOT EXISTS instances_version ON instances (path, file_size, mtime_ns, etag);
CREATE TABLE IF NOT EXISTS series_values (
    study_instance_uid TEXT,
    series_instance_uid TEXT NOT NULL,
    sop_class_uid TEXT,
    modality TEXT,
    series_number INTEGER,
    series_description TEXT,
    study_date TEXT,
    study_description TEXT,
    protocol_name TEXT,
    body_part_examined TEXT,
    manufacturer TEXT,
    manufacturer_model_name TEXT,
    slice_thickness REAL,
    pixel_spacing_row REAL,
    pixel_spacing_column REAL
);
CREATE INDEX IF NOT EXISTS series_values_series ON series_values (series_instance_uid);
CREATE TABLE IF NOT EXISTS frames (
    path TEXT NOT NULL REFERENCES instances (path) ON DELETE CASCADE,
    frame INTEGER NOT NULL,
    image_position_patient TEXT,
    image_orientation_patient TEXT,
    stack_id TEXT,
    in_stack_position INTEGER,
    temporal_position_index INTEGER,
    dimension_index_values TEXT,
    rescale_slope REAL,
    rescale_intercept REAL,
    window_center REAL,
    window_width REAL,
    PRIMARY KEY (path, frame)
);
CREATE TABLE IF NOT EXISTS inputs (
    path TEXT PRIMARY KEY,
    file_size INTEGER,
    mtime_ns INTEGER,
    etag TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('skipped', 'failed')),
    reason TEXT NOT NULL
);
";

/// Columns of `instances`, in table order. Multi-valued fields are JSON arrays as text
/// (`image_position_patient`, `image_orientation_patient`, `window_center`, `window_width`;
/// read them with `json_extract(image_position_patient, '$[2]')`), except `image_type`, kept
/// as DICOM writes it (`ORIGINAL\PRIMARY\AXIAL`). `header` is the instance's record exactly as
/// `dicomprep scan` prints it (JSON), from which `order` and `convert` rebuild it.
pub const INSTANCE_COLUMNS: &[&str] = &[
    "path",
    "file_size",
    "mtime_ns",
    "etag",
    "transfer_syntax",
    "sop_class_uid",
    "sop_instance_uid",
    "study_instance_uid",
    "series_instance_uid",
    "modality",
    "series_number",
    "series_description",
    "study_date",
    "study_description",
    "protocol_name",
    "body_part_examined",
    "manufacturer",
    "manufacturer_model_name",
    "instance_number",
    "slice_location",
    "image_position_patient",
    "image_orientation_patient",
    "pixel_spacing_row",
    "pixel_spacing_column",
    "slice_thickness",
    "rows",
    "columns",
    "number_of_frames",
    "samples_per_pixel",
    "photometric_interpretation",
    "bits_allocated",
    "bits_stored",
    "pixel_representation",
    "rescale_slope",
    "rescale_intercept",
    "window_center",
    "window_width",
    "image_type",
    "echo_number",
    "acquisition_number",
    "temporal_position_identifier",
    "burned_in_annotation",
    "total_pixel_matrix_columns",
    "total_pixel_matrix_rows",
    "header",
];

/// Columns of `instances` that describe a whole series (the same for all its instances in
/// practice). A `--where` condition naming only these selects whole series: every instance of
/// a series one of whose instances matches. Naming any other column (or a `frames` column)
/// selects single instances.
///
/// Table `series_values` holds these columns (same types), one row per distinct tuple of
/// them among a series' instances (usually one per series; instances without a
/// SeriesInstanceUID have none), kept exact on every write: series-level selections read it
/// instead of every instance.
pub const SERIES_COLUMNS: &[&str] = &[
    "study_instance_uid",
    "series_instance_uid",
    "sop_class_uid",
    "modality",
    "series_number",
    "series_description",
    "study_date",
    "study_description",
    "protocol_name",
    "body_part_examined",
    "manufacturer",
    "manufacturer_model_name",
    "slice_thickness",
    "pixel_spacing_row",
    "pixel_spacing_column",
];

/// Columns of `frames` (one row per frame of an enhanced multi-frame object, or per tile of a
/// Siemens mosaic with its `image_position_patient`; `frame` from 0).
pub const FRAME_COLUMNS: &[&str] = &[
    "path",
    "frame",
    "image_position_patient",
    "image_orientation_patient",
    "stack_id",
    "in_stack_position",
    "temporal_position_index",
    "dimension_index_values",
    "rescale_slope",
    "rescale_intercept",
    "window_center",
    "window_width",
];

/// Columns of `inputs` (every skipped or failed input; `outcome` is `skipped` or `failed`).
pub const INPUT_COLUMNS: &[&str] = &["path", "file_size", "mtime_ns", "etag", "outcome", "reason"];
