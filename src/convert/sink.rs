//! Where outputs go: a local folder, or a bucket prefix through an upload queue.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::store::{Bucket, FailedUpload, Location, Uploader};

/// A destination for keyed outputs. Writes are all-or-nothing: a key is either absent or
/// complete, never partial.
pub trait Sink: Sync {
    /// Size in bytes of the complete output under `key`, if there is one.
    fn size(&self, key: &str) -> Option<u64>;
    /// Stores `bytes` under `key`, replacing what was there. A sink may queue the write: its
    /// failure is then reported by [`Sink::flush`].
    fn put(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()>;
    /// Waits for queued writes; returns those that failed.
    fn flush(&self) -> Vec<FailedUpload>;
    /// Stores `bytes` under `key` after every queued write is stored, and returns once it is
    /// (the manifest, the report and the pages name outputs that must exist first).
    fn put_durable(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()>;
    /// A file to write a large output into as it is made, never held in memory (a folder's:
    /// beside its final place; a bucket's: in the temporary folder); [`Sink::put_staged`]
    /// stores it. Dropped unstored, it is removed.
    fn stage(&self, key: &str) -> std::io::Result<NamedTempFile>;
    /// Stores the staged file `staged` under `key`: renamed into place, or uploaded (in parts
    /// when large), waiting for the result.
    fn put_staged(&self, key: &str, staged: NamedTempFile) -> std::io::Result<()>;
    /// Removes the outputs `keys` (of a unit of work that failed after writing them), once
    /// any queued write of them is done.
    fn remove(&self, keys: &[String]) -> std::io::Result<()>;
    /// The complete output under `key`, if there is one.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Human-readable location of `key`, for messages.
    fn describe(&self, key: &str) -> String;
    /// Where the sink writes.
    fn location(&self) -> Location;
}

/// A local folder: each output is written to a temporary file beside its final name and renamed,
/// so a killed run never leaves a partial file under a final name. Nothing is fsynced, as cp,
/// rsync and dcm2niix do not: syncing the manifest alone (1-2 ms a run) would not make the
/// outputs it names durable, and syncing every output costs milliseconds per file. After a
/// crash a re-run finds what is missing.
#[derive(Debug, Clone)]
pub struct LocalSink {
    root: PathBuf,
}

impl LocalSink {
    /// A sink writing under `root` (created when missing).
    pub fn new(root: &Path) -> std::io::Result<Self> {
        fs::create_dir_all(root)?;
        Ok(LocalSink {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

impl Sink for LocalSink {
    fn size(&self, key: &str) -> Option<u64> {
        fs::metadata(self.path(key))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    fn put(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        self.write(key, &bytes)
    }

    fn flush(&self) -> Vec<FailedUpload> {
        Vec::new()
    }

    fn put_durable(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        self.write(key, &bytes)
    }

    fn stage(&self, key: &str) -> std::io::Result<NamedTempFile> {
        let path = self.path(key);
        let parent = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".part")
            .tempfile_in(parent)
    }

    fn put_staged(&self, key: &str, staged: NamedTempFile) -> std::io::Result<()> {
        staged
            .persist(self.path(key))
            .map(|_| ())
            .map_err(|e| e.error)
    }

    fn remove(&self, keys: &[String]) -> std::io::Result<()> {
        for key in keys {
            match fs::remove_file(self.path(key)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        fs::read(self.path(key)).ok()
    }

    fn describe(&self, key: &str) -> String {
        self.path(key).display().to_string()
    }

    fn location(&self) -> Location {
        Location::local(self.root.clone())
    }
}

/// Which existing keys a bucket sink lists when it opens (what a re-run keeps is looked up
/// there instead of one request per output).
#[derive(Debug, Clone, Copy)]
pub enum Listing<'a> {
    /// Every key under the prefix (`convert`, `merge`).
    Everything,
    /// Only the keys under these sub-folders of the prefix (a shard: the folders of its own
    /// series); nothing when empty.
    Folders(&'a [String]),
}

impl Listing<'_> {
    /// No listing at all (`plan`, reading a plan).
    pub const NOTHING: Listing<'static> = Listing::Folders(&[]);
}

/// A bucket prefix. The existing keys are listed once at the start (one request per thousand
/// keys instead of one per output), all of them or those of some folders; outputs go through
/// an upload queue with bounded concurrency; a PUT is atomic, so no key is ever partial.
#[derive(Debug)]
pub struct BucketSink {
    bucket: Bucket,
    existing: HashMap<String, u64>,
    uploads: Uploader,
}

impl BucketSink {
    /// A sink writing under `bucket`'s prefix with at most `concurrency` uploads in flight,
    /// knowing every existing key.
    pub fn new(bucket: Bucket, concurrency: usize) -> Result<Self, String> {
        BucketSink::listing(bucket, concurrency, Listing::Everything)
    }

    /// As [`BucketSink::new`], knowing the existing keys `listing` names (`concurrency`
    /// listings in flight); a key outside them counts as absent.
    pub fn listing(bucket: Bucket, concurrency: usize, listing: Listing) -> Result<Self, String> {
        let listed = match listing {
            Listing::Everything => bucket.list(concurrency)?,
            Listing::Folders([]) => Vec::new(),
            Listing::Folders(folders) => bucket.list_folders(folders, concurrency)?,
        };
        let existing = listed
            .into_iter()
            .map(|object| (object.key, object.size))
            .collect();
        let uploads = bucket.uploader(concurrency);
        Ok(BucketSink {
            bucket,
            existing,
            uploads,
        })
    }
}

impl Sink for BucketSink {
    fn size(&self, key: &str) -> Option<u64> {
        self.existing.get(key).copied()
    }

    fn put(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        self.uploads.put(key, bytes);
        Ok(())
    }

    fn flush(&self) -> Vec<FailedUpload> {
        self.uploads.finish()
    }

    fn put_durable(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        self.bucket.put(key, bytes).map_err(std::io::Error::other)
    }

    fn stage(&self, _key: &str) -> std::io::Result<NamedTempFile> {
        NamedTempFile::with_prefix(".dicomprep-")
    }

    fn put_staged(&self, key: &str, staged: NamedTempFile) -> std::io::Result<()> {
        self.bucket
            .put_file(key, staged.path())
            .map_err(std::io::Error::other)
    }

    fn remove(&self, keys: &[String]) -> std::io::Result<()> {
        self.uploads.wait();
        for key in keys {
            self.bucket.delete(key).map_err(std::io::Error::other)?;
        }
        Ok(())
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.bucket.get(key).ok().flatten().map(|b| b.to_vec())
    }

    fn describe(&self, key: &str) -> String {
        self.bucket.describe(key)
    }

    fn location(&self) -> Location {
        self.bucket.location().clone()
    }
}

impl LocalSink {
    fn write(&self, key: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary = path.with_file_name(format!(
            ".{name}.{}.{:?}.part",
            std::process::id(),
            std::thread::current().id()
        ));
        let result = (|| {
            let mut file = fs::File::create(&temporary)?;
            preallocate(&file, bytes.len());
            file.write_all(bytes)?;
            fs::rename(&temporary, &path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        result
    }
}

/// Files from this size on get their blocks before they are written.
const PREALLOCATE_FROM: usize = 128 * 1024;

/// Gives a new file its blocks in one extent before `len` bytes are written into it: ext4
/// otherwise reserves a delayed block page by page as the write copies in, which made writing a
/// NIfTI stack's output dearer than reading its input (a 3 MB file: ~30% less system time
/// written into preallocated blocks; below ~100 KB the extra call costs more than it saves).
/// Best effort: a file system without `fallocate` is written as before.
#[cfg(target_os = "linux")]
fn preallocate(file: &fs::File, len: usize) {
    use std::os::fd::AsRawFd;
    if len >= PREALLOCATE_FROM
        && let Ok(len) = libc::off_t::try_from(len)
    {
        // SAFETY: a plain system call on a descriptor `file` keeps open; a failure (a file
        // system that cannot preallocate) leaves the file as it was.
        unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    }
}

#[cfg(not(target_os = "linux"))]
fn preallocate(_file: &fs::File, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_atomic_and_sized() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LocalSink::new(&dir.path().join("out")).unwrap();
        assert_eq!(sink.size("a/b.png"), None);
        sink.put("a/b.png", b"12345".to_vec()).unwrap();
        assert_eq!(sink.size("a/b.png"), Some(5));
        let names: Vec<_> = fs::read_dir(dir.path().join("out/a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["b.png"], "no temporary file left");
    }
}
