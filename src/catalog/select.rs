//! Selection (`--where`) and free queries (`dicomprep query`) over the index.
//!
//! A condition is an SQL expression over the columns of `instances` (subqueries may read
//! `frames` and `inputs`). When it names only series-level columns
//! ([`SERIES_COLUMNS`]) it selects whole series: every instance of a series one of whose
//! instances matches. Otherwise it selects the instances that match.

use std::collections::HashSet;

use rusqlite::types::ValueRef;

use super::{Catalog, CatalogError};
use crate::contract::index_schema::{FRAME_COLUMNS, INSTANCE_COLUMNS, SERIES_COLUMNS};
use crate::scan::ScanReport;

/// A `--where` condition and how it selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub condition: String,
    /// Whole series (the condition names only series-level columns) or single instances.
    pub by_series: bool,
}

impl Selection {
    pub fn new(condition: &str) -> Selection {
        let series_only = identifiers(condition).iter().all(|name| {
            let known =
                INSTANCE_COLUMNS.contains(&name.as_str()) || FRAME_COLUMNS.contains(&name.as_str());
            !known || SERIES_COLUMNS.contains(&name.as_str())
        });
        Selection {
            condition: condition.to_string(),
            by_series: series_only,
        }
    }

    /// The statement listing the paths of the selected instances. A series-level condition
    /// is tested on `series_values` (aliased `instances`, so `instances.modality` still
    /// names a column), whose rows are the distinct series-level tuples of each series: the
    /// series with a matching tuple are those with a matching instance. Instances without a
    /// SeriesInstanceUID are tested one by one, found through the series index (else SQLite
    /// may walk an index the condition names, e.g. every CT instance, to find none).
    fn sql(&self) -> String {
        let c = &self.condition;
        if self.by_series {
            format!(
                "SELECT path FROM instances WHERE series_instance_uid IN \
                 (SELECT series_instance_uid FROM series_values AS instances WHERE ({c}\n)) \
                 UNION ALL SELECT path FROM instances INDEXED BY instances_series \
                 WHERE series_instance_uid IS NULL AND ({c}\n)"
            )
        } else {
            format!("SELECT path FROM instances WHERE ({c}\n)")
        }
    }
}

/// Identifiers in an SQL text (lower-cased), string literals left out.
fn identifiers(sql: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                // A literal; '' inside it is an escaped quote, read as two literals.
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                }
            }
            '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                let name: String = chars.by_ref().take_while(|&d| d != close).collect();
                names.push(name.to_lowercase());
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = c.to_string();
                while let Some(&d) = chars.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' {
                        name.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                names.push(name.to_lowercase());
            }
            c if c.is_ascii_digit() => {
                while chars
                    .peek()
                    .is_some_and(|d| d.is_ascii_alphanumeric() || *d == '.')
                {
                    chars.next();
                }
            }
            _ => {}
        }
    }
    names
}

/// The message of a rejected condition or query: SQLite's reason and the columns there are.
fn rejected(what: &str, err: &rusqlite::Error) -> CatalogError {
    let reason = match err {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    };
    CatalogError::BadQuery {
        reason: format!(
            "{what}: {reason}\ncolumns of instances: {}\ncolumns of frames: {}",
            INSTANCE_COLUMNS.join(", "),
            FRAME_COLUMNS.join(", ")
        ),
    }
}

impl Catalog {
    /// Paths of the instances `selection` selects.
    pub fn select(&self, selection: &Selection) -> Result<HashSet<String>, CatalogError> {
        let what = format!("invalid --where condition {:?}", selection.condition);
        let mut stmt = self
            .conn
            .prepare(&selection.sql())
            .map_err(|e| rejected(&what, &e))?;
        let rows = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(|e| rejected(&what, &e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| rejected(&what, &e))
    }

    /// Runs one SQL statement and returns its rows.
    pub fn query(&self, sql: &str) -> Result<QueryResult, CatalogError> {
        let what = "invalid query";
        let mut stmt = self.conn.prepare(sql).map_err(|e| rejected(what, &e))?;
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let mut rows = stmt.query([]).map_err(|e| rejected(what, &e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| rejected(what, &e))? {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                let value = row.get_ref(i).map_err(|e| rejected(what, &e))?;
                values.push(match value {
                    ValueRef::Null => serde_json::Value::Null,
                    ValueRef::Integer(n) => n.into(),
                    ValueRef::Real(f) => f.into(),
                    ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
                    ValueRef::Blob(b) => format!("<{} bytes>", b.len()).into(),
                });
            }
            out.push(values);
        }
        Ok(QueryResult { columns, rows: out })
    }
}

/// Keeps the instances whose paths are in `selected`. Inputs that were skipped or failed are
/// kept (what they are cannot be known). Everything is sorted by path, so a selection from the
/// index and one from a fresh scan give the same report.
pub fn apply(mut report: ScanReport, selected: &HashSet<String>) -> ScanReport {
    report.instances.retain(|h| selected.contains(&h.path));
    sort(&mut report);
    report
}

/// Sorts a report's instances and issues by path.
pub fn sort(report: &mut ScanReport) {
    report.instances.sort_by(|a, b| a.path.cmp(&b.path));
    report.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    report.failed.sort_by(|a, b| a.path.cmp(&b.path));
}

/// Rows of a query, values as JSON values.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl QueryResult {
    /// Aligned columns under a header line, and a row count.
    pub fn to_table(&self) -> String {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(plain).collect())
            .collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.columns[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |values: &[String]| {
            let padded: Vec<String> = values
                .iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:<w$}"))
                .collect();
            padded.join("  ").trim_end().to_string() + "\n"
        };
        let mut out = line(&self.columns);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out += &line(&rule);
        for row in &cells {
            out += &line(row);
        }
        let n = self.rows.len();
        out += &format!("({n} row{})\n", if n == 1 { "" } else { "s" });
        out
    }

    /// CSV with a header line (RFC 4180 quoting).
    pub fn to_csv(&self) -> String {
        let field = |s: String| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s
            }
        };
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().cloned().map(field).collect();
        out += &(header.join(",") + "\n");
        for row in &self.rows {
            let values: Vec<String> = row.iter().map(|v| field(plain(v))).collect();
            out += &(values.join(",") + "\n");
        }
        out
    }

    /// A JSON array with one object per row.
    pub fn to_json(&self) -> String {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                let object: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .cloned()
                    .zip(row.iter().cloned())
                    .collect();
                serde_json::Value::Object(object)
            })
            .collect();
        serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n"
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::scan::InstanceHeader;

    /// The series-level selection of schema version 1, which read only `instances`.
    fn instances_only(catalog: &Catalog, condition: &str) -> HashSet<String> {
        let sql = format!(
            "SELECT path FROM instances WHERE series_instance_uid IN \
             (SELECT series_instance_uid FROM instances WHERE ({condition}\n)) \
             OR (series_instance_uid IS NULL AND ({condition}\n))"
        );
        let mut stmt = catalog.conn.prepare(&sql).unwrap();
        let rows = stmt.query_map([], |row| row.get::<_, String>(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    fn header(
        path: &str,
        series: Option<&str>,
        description: &str,
        thickness: f64,
    ) -> InstanceHeader {
        InstanceHeader {
            path: path.into(),
            series_instance_uid: series.map(String::from),
            modality: Some(
                if description.contains("FLAIR") {
                    "MR"
                } else {
                    "CT"
                }
                .into(),
            ),
            series_description: Some(description.into()),
            slice_thickness: Some(thickness),
            ..InstanceHeader::default()
        }
    }

    fn write(catalog: &mut Catalog, headers: Vec<InstanceHeader>) {
        let report = ScanReport {
            instances: headers,
            ..ScanReport::default()
        };
        catalog.write(&report, &HashMap::new()).unwrap();
    }

    #[test]
    fn series_values_select_what_the_instances_only_sql_selects() {
        let mut catalog = Catalog::in_memory().unwrap();
        // Series 1.1 changes thickness and description mid-series; 1.3 has one value.
        write(
            &mut catalog,
            vec![
                header("a/1", Some("1.1"), "CHEST", 1.0),
                header("a/2", Some("1.1"), "CHEST", 1.0),
                header("a/3", Some("1.1"), "CHEST 5mm", 5.0),
                header("b/1", Some("1.2"), "AX FLAIR", 3.0),
                header("b/2", Some("1.2"), "AX FLAIR", 3.0),
                header("c/1", Some("1.3"), "ABDOMEN", 2.5),
                header("d/1", None, "CHEST", 1.0),
                header("d/2", None, "LEG", 1.0),
            ],
        );
        let conditions = [
            "modality = 'CT' AND slice_thickness <= 1.5",
            "slice_thickness > 4",
            "series_description LIKE '%FLAIR%'",
            "instances.series_description = 'CHEST'",
            "series_instance_uid IN (SELECT series_instance_uid FROM instances \
             GROUP BY 1 HAVING COUNT(*) = 2)",
        ];
        let check = |catalog: &Catalog| {
            for condition in conditions {
                let selection = Selection::new(condition);
                assert!(selection.by_series, "{condition}");
                let selected = catalog.select(&selection).unwrap();
                assert_eq!(selected, instances_only(catalog, condition), "{condition}");
            }
        };
        check(&catalog);
        let thin = catalog
            .select(&Selection::new("slice_thickness <= 1.5"))
            .unwrap();
        let expected = ["a/1", "a/2", "a/3", "d/1", "d/2"].map(String::from);
        assert_eq!(thin, HashSet::from(expected));

        // Rewriting and removing instances keeps the series' tuples exact.
        catalog.remove(&["a/1".into(), "a/2".into()]).unwrap();
        write(&mut catalog, vec![header("c/1", Some("1.3"), "CHEST", 1.0)]);
        check(&catalog);
        let thin = catalog
            .select(&Selection::new("slice_thickness <= 1.5"))
            .unwrap();
        assert_eq!(thin, HashSet::from(["c/1", "d/1", "d/2"].map(String::from)));
        let tuples = catalog
            .query("SELECT series_instance_uid, COUNT(*) FROM series_values GROUP BY 1")
            .unwrap();
        assert_eq!(
            tuples.rows,
            [("1.1", 1), ("1.2", 1), ("1.3", 1)]
                .map(|(uid, n): (&str, i64)| vec![serde_json::Value::from(uid), n.into()])
        );
    }

    #[test]
    fn series_columns_select_whole_series_others_instances() {
        assert!(Selection::new("modality = 'CT' AND slice_thickness <= 1.5").by_series);
        assert!(Selection::new("series_description LIKE '%rows%'").by_series);
        assert!(!Selection::new("modality = 'CT' AND instance_number < 3").by_series);
        assert!(!Selection::new("\"ROWS\" = 512").by_series);
    }

    #[test]
    fn identifiers_skip_literals_and_numbers() {
        assert_eq!(
            identifiers("a1 = 'x y' AND b >= 1.5e3 OR [c d]"),
            ["a1", "and", "b", "or", "c d"]
        );
    }
}
