//! What follows the manifest, for a single `convert` and a `merge` of shards alike: the run
//! report, the report pages and the registration payloads, each written whole after every
//! queued output, in that order (the pages link only keys the manifest names).

use super::sink::Sink;
use super::write_pages;
use crate::contract::keys::{self, REPORT_KEY};
use crate::contract::manifest::Manifest;
use crate::contract::run_report::RunReport;
use crate::error::Error;
use crate::order::Rule;
use crate::payload::{self, PayloadKind, PayloadOptions};
use crate::scan::ScanReport;
use crate::scan::source::Source;
use crate::store::Location;

/// What to write after `manifest`.
pub struct Publication<'a> {
    pub manifest: &'a Manifest,
    pub report: &'a RunReport,
    /// The scan, source and rule the pages explain; no page without.
    pub page: Option<(&'a ScanReport, &'a Source, Rule)>,
    pub payloads: &'a [PayloadKind],
    /// Where the outputs will be served from, when not from the sink.
    pub payload_destination: Option<Location>,
}

/// Where the pages and payloads were written.
#[derive(Debug, Default)]
pub struct Published {
    pub report: String,
    pub page: Option<String>,
    pub payloads: Vec<String>,
}

/// Writes the run report, the pages and the payloads of `publication` into `sink`.
pub fn publish(sink: &dyn Sink, publication: &Publication<'_>) -> Result<Published, Error> {
    let output = |key: &str| {
        let at = sink.describe(key);
        move |source| Error::Output {
            path: at.into(),
            source,
        }
    };
    let json = serde_json::to_vec_pretty(publication.report).map_err(std::io::Error::other);
    json.and_then(|json| sink.put_durable(REPORT_KEY, json))
        .map_err(output(REPORT_KEY))?;
    let mut published = Published {
        report: sink.describe(REPORT_KEY),
        ..Published::default()
    };
    if let Some((scan, source, rule)) = publication.page {
        let keys = write_pages(sink, publication.manifest, scan, source, rule)
            .map_err(|(key, source)| output(&key)(source))?;
        published.page = keys.first().map(|key| sink.describe(key));
    }
    let options = PayloadOptions {
        destination: publication.payload_destination.clone(),
        ..PayloadOptions::default()
    };
    for &kind in publication.payloads {
        let files = payload::build(kind, publication.manifest, &options).map_err(|source| {
            Error::Payload {
                path: sink.describe(keys::MANIFEST_KEY).into(),
                source,
            }
        })?;
        for (name, bytes) in files {
            sink.put_durable(&name, bytes).map_err(output(&name))?;
            published.payloads.push(sink.describe(&name));
        }
    }
    Ok(published)
}
