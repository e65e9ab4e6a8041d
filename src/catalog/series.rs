//! Table `series_values`: the distinct tuples of series-level columns ([`SERIES_COLUMNS`])
//! of each series, recomputed from `instances` for every series a write touches, in the
//! same transaction, so a series-level selection reads a few thousand rows, not every
//! instance, and still selects exactly the series one of whose instances matches.

use std::collections::BTreeSet;

use rusqlite::{Transaction, params};

use crate::contract::index_schema::SERIES_COLUMNS;

/// Recomputes the `series_values` rows of `series` (SeriesInstanceUIDs) from `instances`.
pub fn refresh_series_values(
    tx: &Transaction<'_>,
    series: &BTreeSet<String>,
) -> rusqlite::Result<()> {
    let columns = SERIES_COLUMNS.join(", ");
    let mut delete =
        tx.prepare_cached("DELETE FROM series_values WHERE series_instance_uid = ?1")?;
    let mut insert = tx.prepare_cached(&format!(
        "INSERT INTO series_values ({columns}) \
         SELECT DISTINCT {columns} FROM instances WHERE series_instance_uid = ?1"
    ))?;
    for uid in series {
        delete.execute(params![uid])?;
        insert.execute(params![uid])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::catalog::Catalog;
    use crate::contract::index_schema::SERIES_COLUMNS;

    #[test]
    fn series_values_has_exactly_the_series_columns() {
        let catalog = Catalog::in_memory().unwrap();
        let result = catalog
            .query("SELECT name FROM pragma_table_info('series_values') ORDER BY name")
            .unwrap();
        let mut expected = SERIES_COLUMNS.to_vec();
        expected.sort_unstable();
        let columns: Vec<serde_json::Value> = expected.into_iter().map(Into::into).collect();
        assert_eq!(
            result.rows,
            columns.into_iter().map(|c| vec![c]).collect::<Vec<_>>()
        );
    }
}
