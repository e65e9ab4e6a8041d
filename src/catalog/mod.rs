//! The header index (`dicomprep index`): every instance's header kept in an SQLite file,
//! refreshed incrementally ([`refresh`]), queried ([`select`]), and read back by `order` and
//! `convert --index` instead of listing and scanning SRC.
//!
//! Named `catalog` because [`crate::order::group`] is the series grouping of the pipeline. The schema
//! is the public contract [`crate::contract::index_schema`].

pub mod refresh;
mod rows;
pub mod select;
mod series;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, Transaction, params};

use crate::contract::FileIssue;
use crate::contract::index_schema::{CREATE, INSTANCE_COLUMNS, SCHEMA_VERSION};
use crate::scan::{InstanceHeader, ScanReport};

pub use refresh::{Listed, RefreshPlan, RefreshSummary, refresh};
pub use rows::{Rows, instance_records};
pub use select::{QueryResult, Selection};

/// Why the index cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// SQLite failed (the file is not a database, is locked, the disk is full…).
    #[error("{path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    /// The index was built from another source.
    #[error(
        "{path} is the index of {indexed}, not of {wanted} (use another --db, or delete it to rebuild)"
    )]
    OtherSource {
        path: String,
        indexed: String,
        wanted: String,
    },
    /// A stored record cannot be read back.
    #[error("{path}: the record of {instance} is unreadable: {reason}")]
    Record {
        path: String,
        instance: String,
        reason: String,
    },
    /// A `--where` condition or a query that SQLite rejects: a usage error (exit code 2).
    #[error("{reason}")]
    BadQuery { reason: String },
}

/// Identity of one listed object as stored: size plus modification time (local files) or
/// ETag (objects). A change of any part means the object changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub size: u64,
    pub mtime_ns: Option<i64>,
    pub etag: Option<String>,
}

/// Which existing rows a write replaces.
#[derive(Debug, Clone, Copy)]
pub enum Replaced<'a> {
    /// Any row of an input the write holds (the safe default).
    All,
    /// Only these inputs' rows: the caller knows the others are not in the index.
    These(&'a [String]),
}

/// The version stored in columns `at..at + 3` of `row`: file_size, mtime_ns, etag.
fn stored_version(row: &rusqlite::Row, at: usize) -> rusqlite::Result<Version> {
    Ok(Version {
        size: row.get::<_, Option<i64>>(at)?.unwrap_or(-1) as u64,
        mtime_ns: row.get(at + 1)?,
        etag: row.get(at + 2)?,
    })
}

/// An open header index.
pub struct Catalog {
    conn: Connection,
    /// Where it is, for messages (`:memory:` for a scratch index).
    name: String,
}

impl Catalog {
    /// Opens (creating when missing) the index at `path` for `source`, a description of SRC.
    /// An index of an older schema version is emptied and rebuilt by the next refresh.
    pub fn open(path: &Path, source: &str) -> Result<Catalog, CatalogError> {
        let name = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| CatalogError::Sqlite {
            path: name.clone(),
            source,
        })?;
        let mut catalog = Catalog { conn, name };
        catalog.init(Some(source))?;
        Ok(catalog)
    }

    /// Opens an existing index for reading only (`--index`, `query`).
    pub fn open_read_only(path: &Path) -> Result<Catalog, CatalogError> {
        let name = path.display().to_string();
        if !path.is_file() {
            return Err(CatalogError::Sqlite {
                path: name,
                source: rusqlite::Error::InvalidPath(PathBuf::from(path)),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|source| CatalogError::Sqlite {
                path: name.clone(),
                source,
            })?;
        let catalog = Catalog { conn, name };
        // A file that is not an index (or not SQLite at all) fails here, not mid-run.
        catalog.meta("schema_version")?;
        Ok(catalog)
    }

    /// A scratch index in memory: `--where` without `--index` filters a fresh scan through it.
    pub fn in_memory() -> Result<Catalog, CatalogError> {
        let name = ":memory:".to_string();
        let conn = Connection::open_in_memory().map_err(|source| CatalogError::Sqlite {
            path: name.clone(),
            source,
        })?;
        let mut catalog = Catalog { conn, name };
        catalog.init(None)?;
        Ok(catalog)
    }

    fn sqlite(&self) -> impl Fn(rusqlite::Error) -> CatalogError + '_ {
        |source| CatalogError::Sqlite {
            path: self.name.clone(),
            source,
        }
    }

    /// Creates the schema, checks its version and the source it indexes.
    fn init(&mut self, source: Option<&str>) -> Result<(), CatalogError> {
        let name = self.name.clone();
        let err = move |source| CatalogError::Sqlite {
            path: name.clone(),
            source,
        };
        // WAL: readers (`query`, `convert --index`) never block a refresh; NORMAL sync is
        // durable at every checkpoint and never corrupts the file on a crash. A 64 MiB page
        // cache holds the indexes' pages while a batch inserts keys in random order, and a
        // checkpoint every 32 MiB of WAL (not 4) copies a page modified by several batches once.
        self.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
                 PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 8192;",
            )
            .map_err(&err)?;
        let version: Option<i64> = self.meta("schema_version")?.and_then(|v| v.parse().ok());
        if version.is_some_and(|v| v != SCHEMA_VERSION) {
            self.conn
                .execute_batch(
                    "DROP TABLE IF EXISTS frames; DROP TABLE IF EXISTS instances;
                     DROP TABLE IF EXISTS series_values; DROP TABLE IF EXISTS inputs;
                     DROP TABLE IF EXISTS meta;",
                )
                .map_err(&err)?;
        }
        self.conn.execute_batch(CREATE).map_err(&err)?;
        let indexed = self.meta("source")?;
        if let (Some(indexed), Some(wanted)) = (&indexed, source)
            && indexed != wanted
        {
            return Err(CatalogError::OtherSource {
                path: self.name.clone(),
                indexed: indexed.clone(),
                wanted: wanted.to_string(),
            });
        }
        // An index that already says all this is not written to (no transaction, no sync).
        if version == Some(SCHEMA_VERSION) && (source.is_none() || indexed.is_some()) {
            return Ok(());
        }
        let tx = self.conn.transaction().map_err(&err)?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
            params![SCHEMA_VERSION.to_string()],
        )
        .map_err(&err)?;
        if let Some(source) = source {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('source', ?1)",
                params![source],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }

    /// A value of the `meta` table (`None` when absent, or when the table does not exist yet).
    pub fn meta(&self, key: &str) -> Result<Option<String>, CatalogError> {
        let exists: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
                [],
                |row| row.get(0),
            )
            .map_err(self.sqlite())?;
        if !exists {
            return Ok(None);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT value FROM meta WHERE key = ?1")
            .map_err(self.sqlite())?;
        let mut rows = stmt.query(params![key]).map_err(self.sqlite())?;
        match rows.next().map_err(self.sqlite())? {
            Some(row) => Ok(Some(row.get(0).map_err(self.sqlite())?)),
            None => Ok(None),
        }
    }

    /// Every indexed input (instances and skipped or failed inputs) with its stored version.
    pub fn versions(&self) -> Result<HashMap<String, Version>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, file_size, mtime_ns, etag FROM instances
                 UNION ALL SELECT path, file_size, mtime_ns, etag FROM inputs",
            )
            .map_err(self.sqlite())?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, stored_version(row, 1)?))
            })
            .map_err(self.sqlite())?;
        rows.collect::<Result<_, _>>().map_err(self.sqlite())
    }

    /// Writes what a scan made of some inputs, replacing their rows, in one transaction.
    /// `versions` gives each input's listed identity (absent: not recorded).
    pub fn write(
        &mut self,
        report: &ScanReport,
        versions: &HashMap<String, Version>,
    ) -> Result<(), CatalogError> {
        self.insert(&Rows::new(report, versions), Replaced::All)
    }

    /// Inserts `rows` in one transaction, first deleting the rows `replaced` names.
    pub fn insert(&mut self, rows: &Rows, replaced: Replaced<'_>) -> Result<(), CatalogError> {
        let name = self.name.clone();
        let err = move |source| CatalogError::Sqlite {
            path: name.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(&err)?;
        insert_rows(&tx, rows, replaced).map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Deletes the rows of inputs that are gone, in one transaction.
    pub fn remove(&mut self, paths: &[String]) -> Result<(), CatalogError> {
        let name = self.name.clone();
        let err = move |source| CatalogError::Sqlite {
            path: name.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(&err)?;
        let touched = delete_rows(&tx, paths.iter().map(String::as_str)).map_err(&err)?;
        series::refresh_series_values(&tx, &touched).map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Instances held, and the inputs that were skipped or failed (sorted by path): what the
    /// summary of `index` needs, without reading any header back.
    pub fn summary(&self) -> Result<(usize, ScanReport), CatalogError> {
        let count: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM instances", [], |row| row.get(0))
            .map_err(self.sqlite())?;
        Ok((count as usize, self.inputs()?))
    }

    /// The whole index as a scan report: what `order` and `convert --index` use instead of
    /// listing and scanning SRC. Everything is sorted by path.
    pub fn load(&self) -> Result<ScanReport, CatalogError> {
        let mut report = ScanReport::default();
        self.for_each_instance(|header, _| {
            report.instances.push(header);
            Ok(())
        })?;
        self.load_inputs(&mut report)?;
        Ok(report)
    }

    /// Every instance record with its stored version, in path order, one at a time (memory
    /// holds one record).
    pub fn for_each_instance(
        &self,
        mut visit: impl FnMut(InstanceHeader, Version) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, header, file_size, mtime_ns, etag FROM instances ORDER BY path")
            .map_err(self.sqlite())?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    stored_version(row, 2)?,
                ))
            })
            .map_err(self.sqlite())?;
        for row in rows {
            let (path, header, version) = row.map_err(self.sqlite())?;
            let header: InstanceHeader =
                serde_json::from_str(&header).map_err(|e| CatalogError::Record {
                    path: self.name.clone(),
                    instance: path,
                    reason: e.to_string(),
                })?;
            visit(header, version)?;
        }
        Ok(())
    }

    /// The skipped and failed inputs, sorted by path.
    pub fn inputs(&self) -> Result<ScanReport, CatalogError> {
        let mut report = ScanReport::default();
        self.load_inputs(&mut report)?;
        Ok(report)
    }

    /// Adds the skipped and failed inputs to `report`, sorted by path.
    fn load_inputs(&self, report: &mut ScanReport) -> Result<(), CatalogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, outcome, reason FROM inputs ORDER BY path")
            .map_err(self.sqlite())?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(self.sqlite())?;
        for row in rows {
            let (path, outcome, reason) = row.map_err(self.sqlite())?;
            let issue = FileIssue { path, reason };
            match outcome.as_str() {
                "skipped" => report.skipped.push(issue),
                _ => report.failed.push(issue),
            }
        }
        Ok(())
    }
}

/// Deletes the rows of `paths`; returns the series of the deleted instances.
fn delete_rows<'a>(
    tx: &Transaction<'_>,
    paths: impl IntoIterator<Item = &'a str>,
) -> rusqlite::Result<BTreeSet<String>> {
    let mut frames = tx.prepare_cached("DELETE FROM frames WHERE path = ?1")?;
    let mut instances =
        tx.prepare_cached("DELETE FROM instances WHERE path = ?1 RETURNING series_instance_uid")?;
    let mut inputs = tx.prepare_cached("DELETE FROM inputs WHERE path = ?1")?;
    let mut touched = BTreeSet::new();
    for path in paths {
        frames.execute(params![path])?;
        let mut deleted = instances.query(params![path])?;
        while let Some(row) = deleted.next()? {
            touched.extend(row.get::<_, Option<String>>(0)?);
        }
        inputs.execute(params![path])?;
    }
    Ok(touched)
}

/// Inserts `rows`, after deleting the rows of `replaced`.
fn insert_rows(tx: &Transaction<'_>, rows: &Rows, replaced: Replaced<'_>) -> rusqlite::Result<()> {
    let mut touched = match replaced {
        Replaced::All => delete_rows(tx, rows.paths())?,
        Replaced::These(paths) => delete_rows(tx, paths.iter().map(String::as_str))?,
    };
    touched.extend(rows.series().map(str::to_owned));
    let placeholders = (1..=INSTANCE_COLUMNS.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut instance = tx.prepare_cached(&format!(
        "INSERT INTO instances ({}) VALUES ({placeholders})",
        INSTANCE_COLUMNS.join(", ")
    ))?;
    let mut frame = tx.prepare_cached(
        "INSERT INTO frames (path, frame, image_position_patient, image_orientation_patient,
             stack_id, in_stack_position, temporal_position_index, dimension_index_values,
             rescale_slope, rescale_intercept, window_center, window_width)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    let mut input = tx.prepare_cached(
        "INSERT INTO inputs (path, file_size, mtime_ns, etag, outcome, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for row in &rows.instances {
        instance.execute(rusqlite::params_from_iter(&row.values))?;
        for (n, values) in row.frames.iter().enumerate() {
            let leading = [&row.values[0], &Value::Integer(n as i64)];
            frame.execute(rusqlite::params_from_iter(
                leading.into_iter().chain(values),
            ))?;
        }
    }
    for row in &rows.inputs {
        let version = row.version.as_ref();
        input.execute(params![
            row.issue.path,
            version.map(|v| v.size as i64),
            version.and_then(|v| v.mtime_ns),
            version.and_then(|v| v.etag.clone()),
            row.outcome,
            row.issue.reason,
        ])?;
    }
    series::refresh_series_values(tx, &touched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_instance(catalog: &mut Catalog, path: &str) {
        let report = ScanReport {
            instances: vec![InstanceHeader {
                path: path.into(),
                series_instance_uid: Some("1.2.3".into()),
                modality: Some("CT".into()),
                ..InstanceHeader::default()
            }],
            ..ScanReport::default()
        };
        catalog.write(&report, &HashMap::new()).unwrap();
    }

    #[test]
    fn headers_read_back_exactly() {
        let mut catalog = Catalog::in_memory().unwrap();
        // Many arbitrary doubles: without serde_json's float_roundtrip some read back 1 ULP off.
        let mut bits = 0x9e37_79b9_7f4a_7c15_u64;
        let instances: Vec<InstanceHeader> = (0..1000)
            .map(|n| {
                bits = bits
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let value = f64::from_bits(bits >> 2); // positive and finite
                InstanceHeader {
                    path: format!("{n:04}.dcm"),
                    slice_location: Some(value),
                    image_position_patient: Some([-value, value / 3.0, 0.1 + 0.2]),
                    ..InstanceHeader::default()
                }
            })
            .collect();
        let report = ScanReport {
            instances: instances.clone(),
            ..ScanReport::default()
        };
        catalog.write(&report, &HashMap::new()).unwrap();
        assert_eq!(catalog.load().unwrap().instances, instances);
    }

    #[test]
    fn an_index_of_schema_version_1_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("idx.sqlite");
        let mut catalog = Catalog::open(&db, "src").unwrap();
        one_instance(&mut catalog, "old.dcm");
        // What version 1 wrote: no series_values, an index on series_instance_uid alone.
        catalog
            .conn
            .execute_batch(
                "UPDATE meta SET value = '1' WHERE key = 'schema_version';
                 DROP TABLE series_values; DROP INDEX instances_series;
                 CREATE INDEX instances_series ON instances (series_instance_uid);",
            )
            .unwrap();
        drop(catalog);

        let mut catalog = Catalog::open(&db, "src").unwrap();
        assert_eq!(
            catalog.meta("schema_version").unwrap(),
            Some(SCHEMA_VERSION.to_string())
        );
        assert!(
            catalog.versions().unwrap().is_empty(),
            "rows of version 1 kept"
        );
        one_instance(&mut catalog, "new.dcm");
        let selected = catalog.select(&Selection::new("modality = 'CT'")).unwrap();
        assert_eq!(selected, ["new.dcm".to_string()].into());
        let indexed: String = catalog
            .conn
            .query_row(
                "SELECT group_concat(name, ',') FROM pragma_index_info('instances_series')",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(indexed, "series_instance_uid,path");
    }

    #[test]
    fn an_index_of_schema_version_3_is_scanned_again() {
        // Its headers lack the burned-in facts: no row of it can be trusted to have them.
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("idx.sqlite");
        let mut catalog = Catalog::open(&db, "src").unwrap();
        one_instance(&mut catalog, "old.dcm");
        catalog
            .conn
            .execute_batch(
                "UPDATE meta SET value = '3' WHERE key = 'schema_version';
                 ALTER TABLE instances DROP COLUMN burned_in_annotation;",
            )
            .unwrap();
        drop(catalog);

        let mut catalog = Catalog::open(&db, "src").unwrap();
        assert_eq!(
            catalog.meta("schema_version").unwrap(),
            Some(SCHEMA_VERSION.to_string())
        );
        assert!(
            catalog.versions().unwrap().is_empty(),
            "rows of version 3 kept"
        );
        one_instance(&mut catalog, "new.dcm");
        let selected = catalog
            .select(&Selection::new("burned_in_annotation IS NULL"))
            .unwrap();
        assert_eq!(selected, ["new.dcm".to_string()].into());
    }
}
