//! `dicomprep payload`: build one payload from a manifest and write it.

use std::path::Path;

use super::{parent_folder, parse_location, read_manifest};
use crate::cli::output;
use crate::cli::payload::PayloadArgs;
use crate::contract::manifest::Manifest;
use crate::error::Error;
use crate::payload;
use crate::store::Location;

pub(super) fn payload(args: &PayloadArgs) -> Result<bool, Error> {
    let common = args.target.manifest_args();
    let manifest = read_manifest(&common.manifest)?;
    let (kind, mut options) = args.target.kind_and_options();
    options.destination = match &common.destination {
        Some(url) => Some(parse_location(url, "--destination")?),
        None => manifest_folder(&manifest, &common.manifest),
    };
    options.source = common
        .source
        .as_deref()
        .map(|url| parse_location(url, "--source"))
        .transpose()?;
    let files = payload::build(kind, &manifest, &options).map_err(|source| Error::Payload {
        path: common.manifest.clone(),
        source,
    })?;
    output::write_to(common.output.as_deref(), |out| {
        files.iter().try_for_each(|(_, bytes)| out.write_all(bytes))
    })?;
    Ok(true)
}

/// Without a destination in the manifest, the manifest's own folder (convert writes it at the
/// root of the destination).
fn manifest_folder(manifest: &Manifest, path: &Path) -> Option<Location> {
    manifest
        .destination
        .is_none()
        .then(|| Location::local(parent_folder(path)))
}
