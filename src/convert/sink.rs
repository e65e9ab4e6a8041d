//! Where outputs go. Local folders now; object stores implement the same trait later.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A destination for keyed outputs. Writes are all-or-nothing: a key is either absent or
/// complete, never partial.
pub trait Sink: Sync {
    /// Size in bytes of the complete output under `key`, if there is one.
    fn size(&self, key: &str) -> Option<u64>;
    /// Stores `bytes` under `key`, replacing what was there.
    fn put(&self, key: &str, bytes: &[u8]) -> std::io::Result<()>;
    /// Stores `bytes` under `key` durably (flushed to stable storage before it becomes visible).
    fn put_durable(&self, key: &str, bytes: &[u8]) -> std::io::Result<()>;
    /// The complete output under `key`, if there is one.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Human-readable location of `key`, for messages.
    fn describe(&self, key: &str) -> String;
}

/// A local folder: each output is written to a temporary file beside its final name and renamed,
/// so a killed run never leaves a partial file under a final name. Outputs are not fsynced (that
/// would cost milliseconds per file); only the manifest, written last, is.
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

    fn put(&self, key: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.write(key, bytes, false)
    }

    fn put_durable(&self, key: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.write(key, bytes, true)
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        fs::read(self.path(key)).ok()
    }

    fn describe(&self, key: &str) -> String {
        self.path(key).display().to_string()
    }
}

impl LocalSink {
    fn write(&self, key: &str, bytes: &[u8], durable: bool) -> std::io::Result<()> {
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
            file.write_all(bytes)?;
            if durable {
                file.sync_all()?;
            }
            fs::rename(&temporary, &path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_atomic_and_sized() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LocalSink::new(&dir.path().join("out")).unwrap();
        assert_eq!(sink.size("a/b.png"), None);
        sink.put("a/b.png", b"12345").unwrap();
        assert_eq!(sink.size("a/b.png"), Some(5));
        let names: Vec<_> = fs::read_dir(dir.path().join("out/a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["b.png"], "no temporary file left");
    }
}
