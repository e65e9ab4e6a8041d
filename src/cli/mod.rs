//! Command-line flags (clap) and the glue that runs each command ([`run`]). Each subcommand
//! takes only the flags that act on it; option groups several commands share are in [`common`].

pub mod common;
pub mod convert;
pub mod index;
pub mod output;
pub mod payload;
pub mod progress;
pub mod register;
pub mod run;
pub mod scan;
pub mod shard;

use clap::{Parser, Subcommand};

use self::convert::ConvertArgs;
use self::index::{IndexArgs, QueryArgs};
use self::payload::PayloadArgs;
use self::register::RegisterArgs;
use self::scan::{OrderArgs, ScanArgs};
use self::shard::{MergeArgs, PlanArgs};

/// Exit code when the run finished but some inputs failed (listed on stderr and in reports).
pub const EXIT_SOME_FAILED: u8 = 3;
/// Exit code when the run could not be done at all (unreadable source, unwritable output).
pub const EXIT_ERROR: u8 = 1;

/// Turn folders of DICOM into what annotation platforms can read.
///
/// Exit codes: 0 = every input was converted or skipped with a reason; 1 = the run could not be
/// done (e.g. the source is missing); 2 = invalid command line; 3 = the run finished but some
/// inputs failed (each is named on stderr and listed under "failed" in the report).
#[derive(Debug, Parser)]
#[command(
    name = "dicomprep",
    version,
    propagate_version = true,
    after_help = "User guide: docs/src/SUMMARY.md in the source tree (`mdbook build docs` makes it a site in target/book/): one page per topic, and Troubleshooting for every exit code and common error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the header of every DICOM file under SRC (never the pixels) and write one JSON
    /// record per instance (JSON Lines).
    Scan(ScanArgs),
    /// Group the DICOM files under SRC into series and volumes and print the slice order.
    Order(OrderArgs),
    /// Render every volume under SRC to 8-bit images (PNG), LQ frames (JPEG) and thumbnails
    /// under DEST, with DEST/manifest.json describing every item.
    Convert(Box<ConvertArgs>),
    /// Split the conversion of SRC into DEST into N shards for an array job (Slurm, Kubernetes
    /// Indexed Job, AWS Batch, Cloud Run): writes the plan under DEST/shards/. Then run
    /// `convert --plan DEST --shard K` for every K (or `--shard auto` in each array task) and
    /// `merge DEST`.
    Plan(Box<PlanArgs>),
    /// Once every shard of DEST's plan has finished: write DEST/manifest.json, report.json,
    /// index.html and the payloads, the same as one `convert` of SRC into DEST writes.
    Merge(MergeArgs),
    /// Keep the headers of every DICOM file under SRC in an SQLite index (--db FILE): created
    /// on the first run, refreshed on the next ones (only new and changed files are read).
    Index(IndexArgs),
    /// Run one SQL statement on an index written by `dicomprep index` and print the rows.
    Query(QueryArgs),
    /// Build a registration payload for an annotation platform from DEST/manifest.json (pure:
    /// nothing is sent; see `register` for that).
    Payload(PayloadArgs),
    /// Register converted outputs on an annotation platform over HTTP.
    Register(RegisterArgs),
}

impl Command {
    /// The worker threads asked for with `--threads`, by the commands that take it.
    pub fn threads(&self) -> Option<usize> {
        match self {
            Command::Scan(args) => args.common.threads,
            Command::Order(args) => args.common.threads,
            Command::Convert(args) => args.common.threads,
            Command::Plan(args) => args.common.threads,
            Command::Merge(args) => args.threads,
            Command::Index(args) => args.common.threads,
            Command::Payload(_) | Command::Register(_) | Command::Query(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::common::RuleArg;
    use crate::cli::scan::Format;
    use crate::payload::{EncordFormat, EncordVolumes, PathFrom, PayloadKind, UrlStyle};
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    /// Flags of the shared option groups, by group.
    const STORE: [&str; 6] = [
        "anonymous",
        "debug-requests",
        "concurrency",
        "retries",
        "retry-timeout",
        "request-timeout",
    ];
    const RETRY: [&str; 3] = ["retries", "retry-timeout", "request-timeout"];
    const SCAN: [&str; 4] = ["threads", "io-threads", "verbose", "quiet"];

    /// The long names of the shared flags a (sub)subcommand accepts, sorted.
    fn shared_flags(path: &[&str]) -> Vec<String> {
        let shared: Vec<&str> = STORE.iter().chain(&SCAN).copied().collect();
        let mut command = Cli::command();
        for name in path {
            command = command
                .find_subcommand(name)
                .unwrap_or_else(|| panic!("no subcommand {name}"))
                .clone();
        }
        let mut flags: Vec<String> = command
            .get_arguments()
            .filter_map(|arg| arg.get_long())
            .filter(|long| shared.contains(long))
            .map(str::to_string)
            .collect();
        flags.sort();
        flags
    }

    fn sorted(groups: &[&[&str]]) -> Vec<String> {
        let mut flags: Vec<String> = groups.concat().iter().map(|f| f.to_string()).collect();
        flags.sort();
        flags.dedup();
        flags
    }

    #[test]
    fn each_command_takes_only_the_shared_flags_that_act_on_it() {
        let full = sorted(&[&STORE, &SCAN]);
        assert_eq!(shared_flags(&["scan"]), full);
        assert_eq!(shared_flags(&["order"]), full);
        assert_eq!(shared_flags(&["convert"]), full);
        assert_eq!(shared_flags(&["index"]), full);
        assert_eq!(shared_flags(&["plan"]), full);
        // merge reads no source headers: no --io-threads.
        let merge: Vec<String> = full
            .iter()
            .filter(|f| *f != "io-threads")
            .cloned()
            .collect();
        assert_eq!(shared_flags(&["merge"]), merge);
        assert_eq!(shared_flags(&["query"]), Vec::<String>::new());
        for target in ["darwin-readonly", "darwin-readwrite", "encord", "bisque"] {
            assert_eq!(shared_flags(&["payload", target]), Vec::<String>::new());
        }
        let darwin = sorted(&[&["anonymous", "debug-requests", "quiet"], &RETRY]);
        assert_eq!(shared_flags(&["register", "darwin"]), darwin);
        assert_eq!(
            shared_flags(&["register", "bisque"]),
            sorted(&[&["debug-requests", "quiet"], &RETRY])
        );
        assert!(Cli::try_parse_from(["dicomprep", "-q", "order", "in"]).is_err());
        let encord = ["dicomprep", "payload", "encord", "-m", "m.json"];
        assert!(Cli::try_parse_from(encord).is_ok());
        for flag in [
            &["--threads", "1"][..],
            &["--io-threads", "1"],
            &["--anonymous", "yes"],
            &["--concurrency", "8"],
            &["--retries", "1"],
            &["-v"],
            &["-q"],
        ] {
            let args = [&encord[..], flag].concat();
            assert!(Cli::try_parse_from(&args).is_err(), "{flag:?}");
        }
    }

    #[test]
    fn a_shard_takes_its_settings_from_the_plan() {
        let shard = ["dicomprep", "convert", "--plan", "out", "--shard"];
        let parsed = Cli::try_parse_from([&shard[..], &["auto"]].concat()).unwrap();
        let Command::Convert(args) = parsed.command else {
            panic!("not convert")
        };
        assert_eq!(args.shard, Some(crate::cli::convert::ShardChoice::Auto));
        assert!(
            Cli::try_parse_from([&shard[..], &["3", "--overwrite", "-j", "1"]].concat()).is_ok()
        );
        // The object cache changes no output: a shard takes it.
        let cached = [&shard[..], &["3", "--cache", "c", "--cache-size", "1G"]].concat();
        assert!(Cli::try_parse_from(cached).is_ok());
        for refused in [
            &["--as", "video"][..],
            &["--window", "lung"],
            &["--fps", "5"],
            &["--payload", "encord"],
            &["--where", "modality = 'CT'"],
            &["--dest", "elsewhere"],
            &["in"],
        ] {
            let args = [&shard[..], &["0"], refused].concat();
            let error = Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{refused:?}"
            );
        }
        assert!(Cli::try_parse_from([&shard[..], &["x"]].concat()).is_err());
        assert!(Cli::try_parse_from(["dicomprep", "convert", "--shard", "1"]).is_err());
        assert!(Cli::try_parse_from(["dicomprep", "convert", "--dest", "out"]).is_err());
    }

    #[test]
    fn shared_flags_are_accepted_after_the_subcommand() {
        let cli = Cli::parse_from([
            "dicomprep",
            "convert",
            "in",
            "--dest",
            "out",
            "--concurrency",
            "8",
            "-q",
            "-v",
            "-j",
            "2",
            "--io-threads",
            "3",
            "--retries",
            "4",
            "--anonymous",
            "yes",
        ]);
        assert_eq!(cli.command.threads(), Some(2));
        let Command::Convert(args) = cli.command else {
            panic!("not convert")
        };
        let common = &args.common;
        assert!(common.quiet.quiet && common.verbose);
        assert_eq!(common.concurrency, 8);
        assert_eq!(common.io_threads, Some(3));
        assert_eq!(common.store.retry.retries, 4);
    }

    #[test]
    fn order_defaults_to_darwin_json() {
        let cli = Cli::parse_from(["dicomprep", "order", "in"]);
        let Command::Order(args) = cli.command else {
            panic!("not order")
        };
        assert_eq!(args.rule, RuleArg::Darwin);
        assert_eq!(args.format, Format::Json);
        assert!(!args.explain);
    }

    #[test]
    fn payload_flags_map_onto_options() {
        let cli = Cli::parse_from([
            "dicomprep",
            "payload",
            "darwin-readwrite",
            "--manifest",
            "m.json",
            "--dataset-slug",
            "d",
            "--path-from",
            "series",
            "--ignore-dicom-layout",
            "--extract-views",
        ]);
        let Command::Payload(args) = cli.command else {
            panic!("not payload")
        };
        let (kind, options) = args.target.kind_and_options();
        assert_eq!(kind, PayloadKind::DarwinReadwrite);
        assert_eq!(options.dataset_slug, "d");
        assert_eq!(options.storage_slug, "");
        assert_eq!(options.path_from, PathFrom::Series);
        assert!(options.ignore_dicom_layout && options.extract_views && !options.slots);
        let cli = Cli::parse_from([
            "dicomprep",
            "payload",
            "encord",
            "-m",
            "m.json",
            "--format",
            "csv",
            "--integration-url-style",
            "protocol",
            "--volumes",
            "image-group",
        ]);
        let Command::Payload(args) = cli.command else {
            panic!("not payload")
        };
        let (kind, options) = args.target.kind_and_options();
        assert_eq!(kind, PayloadKind::Encord);
        assert_eq!(options.encord_format, EncordFormat::Csv);
        assert_eq!(options.url_style, UrlStyle::Protocol);
        assert_eq!(options.encord_volumes, EncordVolumes::ImageGroup);
    }

    #[test]
    fn register_darwin_batches_are_capped_at_10() {
        let parse = |n: &str| {
            Cli::try_parse_from([
                "dicomprep",
                "register",
                "darwin",
                "--payload",
                "p",
                "--team",
                "t",
                "--batch-size",
                n,
            ])
        };
        assert!(parse("10").is_ok());
        assert!(parse("11").is_err());
        assert!(parse("0").is_err());
    }
}
