//! `dicomprep register darwin` and `dicomprep register bisque`.

use super::{open_bucket, parent_folder, parse_location, read_manifest};
use crate::cli::register::{EndpointArg, RegisterBisqueArgs, RegisterDarwinArgs, ResumeArgs};
use crate::error::Error;
use crate::payload::{self, PayloadOptions};
use crate::register::darwin::{self as darwin_register, DarwinTarget, Endpoint};
use crate::register::{self, RegisterError, bisque as bisque_register, darwin_annotations};
use crate::store::Location;

pub(super) fn register_darwin(args: &RegisterDarwinArgs) -> Result<bool, Error> {
    let mut payload: serde_json::Value =
        register::read_json(&args.payload)?.ok_or_else(|| Error::Input {
            path: args.payload.clone(),
            reason: "no such file".into(),
        })?;
    darwin_register::set_slugs(
        &mut payload,
        args.dataset_slug.as_deref(),
        args.storage_slug.as_deref(),
    );
    let target = DarwinTarget {
        api_url: args.api_url.clone(),
        team: args.team.clone(),
        endpoint: match args.endpoint {
            EndpointArg::Auto => Endpoint::detect(&payload),
            EndpointArg::Readonly => Endpoint::Readonly,
            EndpointArg::Readwrite => Endpoint::Readwrite,
        },
        batch_size: usize::from(args.batch_size),
        retry: args.store.retry.retry_policy(),
        log: args.store.debug.observer(),
    };
    let mut notify = |message: &str| eprintln!("{message}");
    if args.dry_run {
        let (exists, place) = key_check(args)?;
        let checked = darwin_register::check_keys(&payload, &*exists, &mut notify)?;
        if !args.quiet.quiet {
            eprintln!(
                "dry run: all {checked} referenced keys exist in {place}; nothing was sent to {}",
                target.url()
            );
        }
        return Ok(true);
    }
    let api_key = secret(darwin_register::API_KEY_VAR, "V7 Darwin API key")?;
    let mut result = load_result(&args.resume)?;
    let outcome = darwin_register::register_darwin(
        &payload,
        &target,
        &api_key,
        &mut result,
        args.resume.result.as_deref(),
        &mut notify,
    )?;
    if !args.quiet.quiet {
        eprintln!(
            "{} items registered in {} requests to {}; {} registered earlier (result file); {} blocked",
            outcome.registered,
            outcome.batches,
            target.url(),
            outcome.already,
            outcome.blocked.len()
        );
    }
    if let Some(manifest_path) = &args.annotations {
        let manifest = read_manifest(manifest_path)?;
        let folder = parent_folder(manifest_path);
        let read = |key: &str| std::fs::read(folder.join(key)).map_err(|e| e.to_string());
        let items = darwin_annotations::items_to_import(&manifest, &payload, &read)?;
        let dataset = payload["dataset_slug"].as_str().unwrap_or_default();
        let imported = darwin_annotations::import_annotations(
            &items,
            dataset,
            &target,
            &api_key,
            &mut result,
            args.resume.result.as_deref(),
            &mut notify,
        )?;
        if !args.quiet.quiet {
            eprintln!(
                "labels of {} items imported ({} annotation classes created); {} imported earlier (result file)",
                imported.imported, imported.classes_created, imported.already
            );
        }
    }
    Ok(outcome.blocked.is_empty())
}

/// How a dry run checks that a key exists (HEAD in `--bucket`, or a file under
/// `--keys-root`), and a name of that place for messages.
type KeyCheck = Box<dyn Fn(&str) -> Result<bool, String>>;

fn key_check(args: &RegisterDarwinArgs) -> Result<(KeyCheck, String), Error> {
    if let Some(url) = &args.bucket {
        let mut location = parse_location(url, "--bucket")?;
        location.prefix.clear();
        let bucket = open_bucket(&args.store, &location, false)?;
        let place = location.to_string();
        let check = move |key: &str| {
            let key = payload::keys::bucket_key_of_darwin_key(&location, key)?;
            bucket.head(key).map(|info| info.is_some())
        };
        return Ok((Box::new(check), place));
    }
    let root = args
        .keys_root
        .clone()
        .unwrap_or_else(|| parent_folder(&args.payload));
    let place = root.display().to_string();
    let check = move |key: &str| match std::fs::metadata(root.join(key)) {
        Ok(meta) => Ok(meta.is_file()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err.to_string()),
    };
    Ok((Box::new(check), place))
}

pub(super) fn register_bisque(args: &RegisterBisqueArgs) -> Result<bool, Error> {
    let manifest = read_manifest(&args.manifest)?;
    let options = PayloadOptions {
        bisque_dataset: args.dataset.clone(),
        ..PayloadOptions::default()
    };
    let plan = payload::bisque::build_bisque_plan(&manifest, &options);
    let root = manifest
        .destination
        .as_ref()
        .and_then(Location::local_path)
        .unwrap_or_else(|| parent_folder(&args.manifest));
    let target = bisque_register::BisqueTarget {
        base_url: args.url.clone(),
        user: args.user.clone(),
        retry: args.retry.retry_policy(),
        log: args.debug.observer(),
    };
    let password = secret(bisque_register::PASSWORD_VAR, "BisQue password")?;
    let mut result = load_result(&args.resume)?;
    let outcome = bisque_register::register_bisque(
        &plan,
        &root,
        &target,
        &password,
        &mut result,
        args.resume.result.as_deref(),
        &mut |message| eprintln!("{message}"),
    )?;
    if !args.quiet.quiet {
        eprintln!(
            "{} images uploaded, {} uploaded earlier (result file); dataset {}",
            outcome.uploaded,
            outcome.already,
            outcome
                .dataset_uri
                .or(result.dataset_uri)
                .unwrap_or_default()
        );
    }
    Ok(true)
}

/// A secret from the environment (never echoed).
fn secret(var: &'static str, what: &'static str) -> Result<String, RegisterError> {
    std::env::var(var)
        .ok()
        .filter(|value| !value.is_empty())
        .ok_or(RegisterError::MissingSecret { var, what })
}

fn load_result<T: serde::de::DeserializeOwned + Default>(args: &ResumeArgs) -> Result<T, Error> {
    Ok(match &args.result {
        Some(path) => register::read_json(path)?.unwrap_or_default(),
        None => T::default(),
    })
}
