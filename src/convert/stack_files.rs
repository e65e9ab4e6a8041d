//! The files a NIfTI stack reads whole: those of its first two time points (their headers give
//! the sidecar its per-slice values once the volume is built) and its multi-frame files (read
//! once for all their frames). Each is read when a slice first needs it, so that its frames are
//! placed while its bytes are in the cache. A multi-frame file whose header nothing reads later
//! is let go once its last frame is decoded: a stack of many such files (an enhanced DWI series
//! of one file per direction) holds a few at a time, not all of them. The NIfTI writer and the
//! Python package's reader ([`super::stack_reader`]) read their stacks through it.

use std::collections::{BTreeSet, HashMap};
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::opened::OpenedFile;
use super::stack_reader::is_multi_frame;
use crate::nifti::stack::Stack;
use crate::scan::InstanceHeader;

/// Reads the file of an instance (by its index in the scan).
pub(super) type Open<'o> = Box<dyn Fn(usize) -> Result<OpenedFile, String> + Send + Sync + 'o>;

pub(super) struct StackFiles<'o> {
    /// Files read once and kept to the end of the stack.
    kept: HashMap<usize, OnceLock<Result<OpenedFile, String>>>,
    /// Files let go after their last frame.
    passing: HashMap<usize, Passing>,
    open: Open<'o>,
}

/// How many of `stack`'s slices each multi-frame file holds (the frames to decode before it
/// is let go).
pub(super) fn multi_frame_counts(
    stack: &Stack,
    instances: &[InstanceHeader],
) -> HashMap<usize, usize> {
    let mut frames = HashMap::new();
    for s in stack.time_points.iter().flatten() {
        if is_multi_frame(&instances[s.instance]) {
            *frames.entry(s.instance).or_default() += 1;
        }
    }
    frames
}

/// A file let go after its last frame: the file while in memory, and its frames still to
/// decode.
struct Passing {
    file: Mutex<Option<Arc<OpenedFile>>>,
    pending: AtomicUsize,
}

/// A file of the stack: borrowed when kept to the end, shared while passing.
pub(super) enum StackFile<'s> {
    Kept(&'s OpenedFile),
    Passing(Arc<OpenedFile>),
}

impl Deref for StackFile<'_> {
    type Target = OpenedFile;

    fn deref(&self) -> &OpenedFile {
        match self {
            StackFile::Kept(file) => file,
            StackFile::Passing(file) => file,
        }
    }
}

impl<'o> StackFiles<'o> {
    /// `kept`: the files read once and kept; `frames`: the files let go after decoding this
    /// many of their frames (a file in both is kept).
    pub(super) fn new(
        kept: BTreeSet<usize>,
        frames: HashMap<usize, usize>,
        open: Open<'o>,
    ) -> Self {
        let passing = frames
            .into_iter()
            .filter(|(instance, _)| !kept.contains(instance))
            .map(|(instance, n)| {
                let passing = Passing {
                    file: Mutex::new(None),
                    pending: AtomicUsize::new(n),
                };
                (instance, passing)
            })
            .collect();
        StackFiles {
            kept: kept.into_iter().map(|i| (i, OnceLock::new())).collect(),
            passing,
            open,
        }
    }

    /// Reads the file of `instance` once more, for a caller that keeps it (not one of the
    /// stack's own).
    pub(super) fn read(&self, instance: usize) -> Result<OpenedFile, String> {
        (self.open)(instance)
    }

    /// Whether the stack reads `instance` whole.
    pub(super) fn contains(&self, instance: usize) -> bool {
        self.kept.contains_key(&instance) || self.passing.contains_key(&instance)
    }

    /// A file kept to the end (read now if it was not yet); `None` for the others.
    pub(super) fn kept(&self, instance: usize) -> Option<Result<&OpenedFile, String>> {
        let file = self
            .kept
            .get(&instance)?
            .get_or_init(|| (self.open)(instance));
        Some(file.as_ref().map_err(Clone::clone))
    }

    /// File `instance` (read now if it is not in memory); `None` for a file the stack does not
    /// read whole.
    pub(super) fn get(&self, instance: usize) -> Option<Result<StackFile<'_>, String>> {
        if let Some(file) = self.kept(instance) {
            return Some(file.map(StackFile::Kept));
        }
        let passing = self.passing.get(&instance)?;
        // Held while the file is read: a slice of the same file waits for it, not reads it too.
        let mut slot = passing.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = slot.as_ref() {
            return Some(Ok(StackFile::Passing(Arc::clone(file))));
        }
        Some((self.open)(instance).map(|file| {
            let file = Arc::new(file);
            *slot = Some(Arc::clone(&file));
            StackFile::Passing(file)
        }))
    }

    /// One frame of `instance` decoded: after its last, a passing file is let go (its bytes
    /// are freed when the frames that share them are placed).
    pub(super) fn decoded(&self, instance: usize) {
        if let Some(passing) = self.passing.get(&instance)
            && passing.pending.fetch_sub(1, Ordering::AcqRel) == 1
        {
            *passing.file.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Whether a passing file is in memory (for tests).
    #[cfg(test)]
    fn holds(&self, instance: usize) -> bool {
        self.passing
            .get(&instance)
            .is_some_and(|passing| passing.file.lock().unwrap().is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::source::SourceFile;
    use crate::scan::{ScanOutcome, scan_file};

    /// Two real files: one kept, an enhanced DWI file let go after two of its frames (the
    /// stack's share of them); each read once.
    #[test]
    fn kept_files_stay_passing_files_go_after_their_last_frame() {
        let paths = [
            "pydicom/MR_small.dcm",
            "dcm2niix-qa/dcm_qa_xa30/In/10_DWI_dir80_PA/0001_1.3.12.2.1107.5.2.43.67093.2022071112112064607905327.dcm",
        ]
        .map(|relative| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("test-data")
                .join(relative)
        });
        let headers: Vec<_> = paths
            .iter()
            .map(|path| {
                let file = SourceFile {
                    path: path.clone(),
                    relative: "file".into(),
                };
                match scan_file(&file, &mut Vec::new(), &mut Vec::new()) {
                    ScanOutcome::Instance(header) => *header,
                    _ => panic!("{} scans", path.display()),
                }
            })
            .collect();
        let reads = AtomicUsize::new(0);
        let open = |i: usize| {
            reads.fetch_add(1, Ordering::SeqCst);
            let bytes = bytes::Bytes::from(std::fs::read(&paths[i]).unwrap());
            OpenedFile::open(bytes, &headers[i])
        };
        let files = StackFiles::new(BTreeSet::from([0]), HashMap::from([(1, 2)]), Box::new(open));
        assert!(files.contains(0) && files.contains(1) && !files.contains(2));
        assert!(files.get(2).is_none() && files.kept(1).is_none());

        let kept = files.kept(0).unwrap().unwrap();
        assert!(kept.dataset().is_ok());
        assert!(matches!(files.get(0), Some(Ok(StackFile::Kept(_)))));

        let first = files.get(1).unwrap().unwrap();
        let frame = first.frame(&headers[1], 0, false).unwrap();
        files.decoded(1);
        assert!(files.holds(1), "one frame of two decoded");
        let again = files.get(1).unwrap().unwrap();
        assert_eq!(again.frame(&headers[1], 0, false).unwrap(), frame);
        files.decoded(1);
        assert!(!files.holds(1), "let go after its last frame");
        assert_eq!(reads.load(Ordering::SeqCst), 2, "each file read once");
    }
}
