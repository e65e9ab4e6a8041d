//! `dicomprep plan`, `convert --plan DEST --shard K` and `dicomprep merge`: the glue around
//! [`crate::shard`].

use std::time::Instant;

use super::convert::{
    manifest_error, open_sink, print_cache, print_published, print_summary, render_progress,
    run_report, with_cache,
};
use super::index::{checked_selection, open_index, selected_scan};
use super::{open_source, print_issues};
use crate::cli::convert::{ConvertArgs, ShardChoice};
use crate::cli::shard::{MergeArgs, PlanArgs};
use crate::contract::keys::MANIFEST_KEY;
use crate::contract::run_report::RunReport;
use crate::convert::publish::{Publication, publish};
use crate::convert::sink::{Listing, Sink};
use crate::convert::{
    ConvertOptions, ManifestTarget, attach_labels, convert_to, place_labels, write_manifest,
};
use crate::error::Error;
use crate::payload::PayloadKind;
use crate::scan::ScanReport;
use crate::scan::source::Source;
use crate::shard::build::{Indexed, PlanRequest, scanned_inputs, write_plan};
use crate::shard::plan::{
    Plan, ShardDone, decode_inputs, inputs_key, plan_key, shard_done_key, shard_manifest_key,
    shard_report_key,
};
use crate::shard::{engine, merge::merge as merge_shards, output_folders};
use crate::store::Location;

pub(super) fn plan(args: &PlanArgs) -> Result<bool, Error> {
    let started = Instant::now();
    let common = &args.common;
    let selection = checked_selection(&args.select)?;
    let sink = open_sink(
        &common.store,
        common.concurrency,
        &args.dest,
        Listing::NOTHING,
    )?;
    let mut request = PlanRequest {
        source: args.src.clone(),
        shards: args.shards as usize,
        settings: args.render.options(false).settings(),
        payloads: args
            .outputs
            .payload
            .iter()
            .map(|k| k.cli_name().into())
            .collect(),
        payload_destination: args.outputs.payload_destination.clone(),
        html: !args.outputs.no_html,
        skipped: Vec::new(),
        failed: Vec::new(),
    };
    let planned = match &args.select.index {
        // From the index: streamed, never loaded whole.
        Some(path) => {
            let catalog = open_index(path, &args.src)?;
            let inputs = catalog.inputs()?;
            (request.skipped, request.failed) = (inputs.skipped, inputs.failed);
            let selected = match &selection {
                Some(selection) => Some(catalog.select(selection)?),
                None => None,
            };
            let instances = Indexed {
                catalog: &catalog,
                selected,
            };
            write_plan(&instances, request, sink.as_ref())?
        }
        None => {
            let source = open_source(&common.store, common.concurrency, &args.src)?;
            let (scan, listing) = selected_scan(common, &args.select, &args.src, &source)?;
            (request.skipped, request.failed) = (scan.skipped, scan.failed);
            let inputs = scanned_inputs(scan.instances, &listing);
            write_plan(&inputs, request, sink.as_ref())?
        }
    };
    let plan = &planned.plan;
    if !common.quiet.quiet {
        let largest = planned.shard_slices.iter().max().copied().unwrap_or(0);
        let mean = plan.slices as f64 / plan.shards as f64;
        eprintln!(
            "{} series ({} slices) in {} shards in {:.2} s; largest shard {largest} slices ({:.3}x the mean); {} skipped, {} failed inputs",
            plan.series,
            plan.slices,
            plan.shards,
            started.elapsed().as_secs_f64(),
            largest as f64 / mean.max(1e-9),
            plan.skipped.len(),
            plan.failed.len()
        );
        eprintln!(
            "plan: {}; next run `dicomprep convert --plan {} --shard K` for K in 0..{} (or --shard auto in each array task), then `dicomprep merge {}`",
            sink.describe(&plan_key()),
            args.dest,
            plan.shards,
            args.dest
        );
    }
    Ok(true)
}

/// The plan under `sink`.
fn read_plan(sink: &dyn Sink) -> Result<Plan, Error> {
    let key = plan_key();
    let bytes = sink.get(&key).ok_or_else(|| Error::Input {
        path: sink.describe(&key).into(),
        reason: "no plan here; write one with `dicomprep plan SRC --dest DEST --shards N`".into(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Input {
        path: sink.describe(&key).into(),
        reason: format!("not a plan: {e}"),
    })
}

/// The shard `choice` names under a plan of `shards` shards.
fn shard_number(choice: ShardChoice, shards: usize) -> Result<usize, Error> {
    let number = match choice {
        ShardChoice::Number(k) if k < shards => Ok(k),
        ShardChoice::Number(k) => Err(format!(
            "shard {k} does not exist: the plan has {shards} shards (0-{})",
            shards.saturating_sub(1)
        )),
        ShardChoice::Auto => engine::detect(|name| std::env::var(name).ok())
            .and_then(|task| engine::check(&task, shards)),
    };
    number.map_err(|reason| Error::Input {
        path: "--shard".into(),
        reason,
    })
}

pub(super) fn convert_shard(
    args: &ConvertArgs,
    dest: &Location,
    choice: ShardChoice,
) -> Result<bool, Error> {
    let started = Instant::now();
    let common = &args.common;
    let plan_sink = open_sink(&common.store, common.concurrency, dest, Listing::NOTHING)?;
    let plan = read_plan(plan_sink.as_ref())?;
    let shard = shard_number(choice, plan.shards)?;
    let key = inputs_key(shard);
    let unusable = |reason: String| Error::Input {
        path: plan_sink.describe(&key).into(),
        reason,
    };
    let bytes = plan_sink
        .get(&key)
        .ok_or_else(|| unusable("missing; write the plan again with `dicomprep plan`".into()))?;
    let (header, inputs) = decode_inputs(&bytes).map_err(unusable)?;
    if header.plan_id != plan.plan_id || header.shard != shard {
        return Err(unusable(format!(
            "belongs to plan {} shard {}, not to plan {} shard {shard}; write the plan again",
            header.plan_id, header.shard, plan.plan_id
        )));
    }
    let mut options =
        ConvertOptions::from_settings(&plan.settings).map_err(|reason| Error::Input {
            path: plan_sink.describe(&plan_key()).into(),
            reason,
        })?;
    options.overwrite = args.overwrite;
    // What a re-run keeps is under the folders of this shard's series: only those are listed.
    let folders = output_folders(&header);
    let sink = open_sink(
        &common.store,
        common.concurrency,
        dest,
        Listing::Folders(&folders),
    )?;
    let source = with_cache(
        open_source(&common.store, common.concurrency, &plan.source)?,
        args.cache.as_deref(),
        args.cache_size,
        common.quiet.quiet,
    )?;
    if let Source::Bucket(bucket) = &source
        && let Some(cache) = bucket.cache()
    {
        // No listing of SRC: the plan tells the object cache which versions are current.
        for input in &inputs {
            if let Some(listed) = &input.listed {
                cache.remember(&input.header.path, &listed.etag, listed.size);
            }
        }
    }
    let scan = ScanReport {
        instances: inputs.into_iter().map(|input| input.header).collect(),
        ..ScanReport::default()
    };
    let progress = render_progress(common, &scan.instances);
    let manifest_key = shard_manifest_key(shard);
    let report = convert_to(
        &source,
        &scan,
        sink.as_ref(),
        &options,
        ManifestTarget::Shard { key: &manifest_key },
        &progress,
    )
    .map_err(manifest_error(sink.as_ref(), &manifest_key))?;
    progress.finish();
    let done = ShardDone {
        plan_id: plan.plan_id.clone(),
        shard,
        settings: plan.settings.clone(),
        failed: report.manifest.failed.len(),
        failed_writes: report.failed_writes.clone(),
    };
    put_json(
        sink.as_ref(),
        &shard_report_key(shard),
        &run_report(&report, started),
    )?;
    put_json(sink.as_ref(), &shard_done_key(shard), &done)?;
    print_issues(common.verbose, &[], &report.manifest.failed);
    if !common.quiet.quiet {
        eprint!("shard {shard} of {}: ", plan.shards);
        print_summary(&report, started);
        print_cache(&source);
    }
    Ok(report.manifest.failed.is_empty())
}

/// Writes `value` as JSON under `key`, after every queued write.
fn put_json(sink: &dyn Sink, key: &str, value: &impl serde::Serialize) -> Result<(), Error> {
    let json = serde_json::to_vec_pretty(value).map_err(std::io::Error::other);
    json.and_then(|json| sink.put_durable(key, json))
        .map_err(|source| Error::Output {
            path: sink.describe(key).into(),
            source,
        })
}

pub(super) fn merge(args: &MergeArgs) -> Result<bool, Error> {
    let started = Instant::now();
    let sink = open_sink(
        &args.store,
        args.concurrency,
        &args.dest,
        Listing::Everything,
    )?;
    let plan = read_plan(sink.as_ref())?;
    let mut merged = merge_shards(sink.as_ref(), &plan).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| {
                format!(
                    "  {p}\n    re-run it: dicomprep convert --plan {} --shard {}",
                    args.dest, p.shard
                )
            })
            .collect();
        Error::Input {
            path: sink.describe(&plan_key()).into(),
            reason: format!(
                "{} of {} shards cannot be merged; nothing was written:\n{}",
                problems.len(),
                plan.shards,
                lines.join("\n")
            ),
        }
    })?;
    let payloads = plan
        .payloads
        .iter()
        .map(|name| name.parse::<PayloadKind>())
        .collect::<Result<Vec<_>, String>>()
        .map_err(|reason| Error::Input {
            path: sink.describe(&plan_key()).into(),
            reason,
        })?;
    let options = ConvertOptions::from_settings(&plan.settings).map_err(|reason| Error::Input {
        path: sink.describe(&plan_key()).into(),
        reason,
    })?;
    let source = open_source(&args.store, args.concurrency, &plan.source)?;
    if let Some(placed) = place_labels(&merged.scan, &source, sink.as_ref(), &options) {
        let (files, bytes) = attach_labels(
            &mut merged.manifest,
            &mut merged.issues,
            placed,
            sink.as_ref(),
        );
        merged.totals.outputs_written += files;
        merged.totals.bytes_written += bytes;
    }
    merged.totals.bytes_written += write_manifest(sink.as_ref(), MANIFEST_KEY, &merged.manifest)
        .map_err(manifest_error(sink.as_ref(), MANIFEST_KEY))?;
    merged.totals.seconds += started.elapsed().as_secs_f64();
    let report = RunReport::new(&merged.manifest, &merged.issues, merged.totals.clone());
    let published = publish(
        sink.as_ref(),
        &Publication {
            manifest: &merged.manifest,
            report: &report,
            page: plan.html.then_some((&merged.scan, &source, options.rule)),
            payloads: &payloads,
            payload_destination: plan.payload_destination.clone(),
        },
    )?;
    let manifest = &merged.manifest;
    print_issues(args.verbose, &manifest.skipped, &manifest.failed);
    if !args.quiet.quiet {
        let frames: usize = manifest.items.iter().map(|i| i.frames.len()).sum();
        eprintln!(
            "merged {} shards in {:.2} s: {} items ({frames} frames), {} skipped, {} failed",
            plan.shards,
            started.elapsed().as_secs_f64(),
            manifest.items.len(),
            manifest.skipped.len(),
            manifest.failed.len()
        );
        print_published(sink.as_ref(), &published);
    }
    Ok(manifest.failed.is_empty())
}
