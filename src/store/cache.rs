//! The object cache (`convert --cache DIR`): whole DICOM objects fetched from a bucket, kept
//! on disk under `DIR/a/7/<hash of key and version>` (two levels of hex folders, as the ISIC
//! client keeps images) so that a second conversion with other settings fetches nothing.
//! Entries are written to a temporary file and renamed (a killed run leaves no partial entry),
//! checked against the object's listed size when read, and the least recently used ones are
//! removed once the cache holds more than its capacity. Recency survives runs as each entry's
//! modification time, refreshed on every hit.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

use bytes::Bytes;
use md5::{Digest, Md5};

/// Entries by recency, bounded by total size: the pure bookkeeping of the cache.
#[derive(Debug, Default)]
pub struct Lru {
    capacity: u64,
    total: u64,
    clock: u64,
    /// Entry name → (size, last use).
    entries: HashMap<String, (u64, u64)>,
    /// Last use → entry name, oldest first.
    by_use: BTreeMap<u64, String>,
}

impl Lru {
    pub fn new(capacity: u64) -> Lru {
        Lru {
            capacity,
            ..Lru::default()
        }
    }

    /// Bytes held.
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Marks `name` as just used.
    pub fn touch(&mut self, name: &str) {
        self.clock += 1;
        if let Some((_, used)) = self.entries.get_mut(name) {
            self.by_use.remove(used);
            *used = self.clock;
            self.by_use.insert(self.clock, name.to_string());
        }
    }

    /// Adds (or replaces) `name` of `size` bytes as the most recently used entry, and returns
    /// the entries to delete to get back within capacity, oldest first (`name` itself when it
    /// alone is larger than the capacity).
    pub fn insert(&mut self, name: &str, size: u64) -> Vec<String> {
        self.remove(name);
        self.clock += 1;
        self.entries.insert(name.to_string(), (size, self.clock));
        self.by_use.insert(self.clock, name.to_string());
        self.total += size;
        let mut evicted = Vec::new();
        while self.total > self.capacity {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            if let Some((size, _)) = self.entries.remove(&oldest) {
                self.total -= size;
            }
            evicted.push(oldest);
        }
        evicted
    }

    /// Forgets `name`.
    pub fn remove(&mut self, name: &str) {
        if let Some((size, used)) = self.entries.remove(name) {
            self.by_use.remove(&used);
            self.total -= size;
        }
    }
}

/// The name of the entry of `key` at `version` (its ETag): 32 hex digits.
pub fn entry_name(key: &str, version: &str) -> String {
    let mut hasher = Md5::new();
    hasher.update(key.as_bytes());
    hasher.update([0]);
    hasher.update(version.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where entry `name` lives under `dir`: `dir/a/7/a7…`.
fn entry_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(&name[..1]).join(&name[1..2]).join(name)
}

/// The version and size an object has now, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Current {
    version: String,
    size: u64,
}

/// Hits and fetches of a run, for its summary.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub stored: AtomicU64,
}

/// An object cache folder bounded to a capacity in bytes.
#[derive(Debug)]
pub struct ObjectCache {
    dir: PathBuf,
    lru: Mutex<Lru>,
    /// Object key → its listed version and size: only these are looked up or stored.
    current: RwLock<HashMap<String, Current>>,
    stats: CacheStats,
}

impl ObjectCache {
    /// Opens (creating) the cache in `dir`, holding at most `capacity` bytes: existing entries
    /// count from their modification times (oldest evicted first), temporary files of a killed
    /// run are deleted.
    pub fn open(dir: &Path, capacity: u64) -> io::Result<ObjectCache> {
        fs::create_dir_all(dir)?;
        let mut found = Vec::new();
        for first in read_dirs(dir)? {
            for second in read_dirs(&first)? {
                for entry in fs::read_dir(&second)? {
                    let entry = entry?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let meta = entry.metadata()?;
                    if name.ends_with(".part") {
                        fs::remove_file(entry.path())?;
                    } else if meta.is_file() {
                        let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                        found.push((used, name, meta.len()));
                    }
                }
            }
        }
        found.sort();
        let mut lru = Lru::new(capacity);
        for (_, name, size) in found {
            for evicted in lru.insert(&name, size) {
                remove_entry(dir, &evicted);
            }
        }
        Ok(ObjectCache {
            dir: dir.to_path_buf(),
            lru: Mutex::new(lru),
            current: RwLock::default(),
            stats: CacheStats::default(),
        })
    }

    /// Hits and stores so far.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Records the listed `version` (ETag) and `size` of `key`: only objects whose version is
    /// known are served or kept.
    pub fn remember(&self, key: &str, version: &str, size: u64) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        current.insert(
            key.to_string(),
            Current {
                version: version.to_string(),
                size,
            },
        );
    }

    fn current(&self, key: &str) -> Option<Current> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current.get(key).cloned()
    }

    fn lru(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached bytes of `key` at its current version, if they are there and have its size
    /// (an entry of another size is deleted).
    pub fn get(&self, key: &str) -> Option<Bytes> {
        let current = self.current(key)?;
        let name = entry_name(key, &current.version);
        if !self.lru().contains(&name) {
            return None;
        }
        let path = entry_path(&self.dir, &name);
        match fs::read(&path) {
            Ok(bytes) if bytes.len() as u64 == current.size => {
                self.lru().touch(&name);
                // Recency for the next run; a cache on a read-only disk still serves.
                let _ = fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|file| file.set_modified(SystemTime::now()));
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                Some(Bytes::from(bytes))
            }
            _ => {
                self.lru().remove(&name);
                remove_entry(&self.dir, &name);
                None
            }
        }
    }

    /// Bytes `range` of the cached `key` at its current version (a header scan of a cached
    /// object costs no request), if the entry is there with the listed size.
    pub fn read_range(&self, key: &str, range: std::ops::Range<u64>) -> Option<Bytes> {
        use std::io::{Read, Seek, SeekFrom};
        let current = self.current(key)?;
        let name = entry_name(key, &current.version);
        if !self.lru().contains(&name) || range.end > current.size || range.start > range.end {
            return None;
        }
        let mut file = fs::File::open(entry_path(&self.dir, &name)).ok()?;
        if file.metadata().ok()?.len() != current.size {
            return None;
        }
        file.seek(SeekFrom::Start(range.start)).ok()?;
        let mut bytes = vec![0; (range.end - range.start) as usize];
        file.read_exact(&mut bytes).ok()?;
        Some(Bytes::from(bytes))
    }

    /// Keeps `bytes` as `key` at its current version when they have its listed size; evicts
    /// the least recently used entries beyond the capacity. A failed write only costs a
    /// later fetch.
    pub fn put(&self, key: &str, bytes: &[u8]) {
        let Some(current) = self.current(key) else {
            return;
        };
        if bytes.len() as u64 != current.size {
            return;
        }
        let name = entry_name(key, &current.version);
        let path = entry_path(&self.dir, &name);
        let part = path.with_extension(format!("{}.part", std::process::id()));
        let written = path
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::write(&part, bytes))
            .and_then(|()| fs::rename(&part, &path));
        if written.is_err() {
            let _ = fs::remove_file(&part);
            return;
        }
        self.stats.stored.fetch_add(1, Ordering::Relaxed);
        let evicted = self.lru().insert(&name, current.size);
        for name in evicted {
            remove_entry(&self.dir, &name);
        }
    }
}

/// The subfolders of `dir`.
fn read_dirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    Ok(dirs)
}

fn remove_entry(dir: &Path, name: &str) {
    let _ = fs::remove_file(entry_path(dir, name));
}

/// Parses a size such as `500M`, `20G`, `1.5T` or `4096` (bytes; powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let shift = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("unknown unit {unit:?} (use K, M, G or T)")),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 500M or 20G"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text:?} is not a size such as 500M or 20G"));
    }
    Ok((value * (1u64 << shift) as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entries_go_first() {
        let mut lru = Lru::new(100);
        assert!(lru.insert("a", 40).is_empty());
        assert!(lru.insert("b", 40).is_empty());
        lru.touch("a");
        assert_eq!(lru.insert("c", 40), ["b"]);
        assert_eq!(lru.total(), 80);
        assert!(lru.contains("a") && lru.contains("c") && !lru.contains("b"));
        assert_eq!(lru.insert("d", 70), ["a", "c"]);
        assert_eq!(lru.total(), 70);
    }

    #[test]
    fn an_entry_larger_than_the_capacity_is_not_kept_and_replacing_counts_once() {
        let mut lru = Lru::new(100);
        lru.insert("a", 30);
        assert_eq!(lru.insert("huge", 101), ["a", "huge"]);
        assert_eq!(lru.total(), 0);
        lru.insert("a", 30);
        lru.insert("a", 50);
        assert_eq!(lru.total(), 50);
        lru.remove("a");
        assert_eq!(lru.total(), 0);
    }

    #[test]
    fn entries_are_named_by_key_and_version_in_two_hex_levels() {
        let name = entry_name("s1/a.dcm", "\"etag1\"");
        assert_eq!(name.len(), 32);
        assert!(name.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(name, entry_name("s1/a.dcm", "\"etag2\""));
        assert_ne!(name, entry_name("s1/b.dcm", "\"etag1\""));
        let path = entry_path(Path::new("/c"), &name);
        assert_eq!(
            path,
            Path::new("/c")
                .join(&name[..1])
                .join(&name[1..2])
                .join(&name)
        );
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("20GiB"), Ok(20 << 30));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("-1G").is_err());
    }

    #[test]
    fn stores_serves_verifies_and_evicts_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ObjectCache::open(dir.path(), 10).unwrap();
        cache.put("unlisted.dcm", b"1234");
        assert!(cache.get("unlisted.dcm").is_none(), "only listed objects");
        cache.remember("a.dcm", "e1", 4);
        cache.put("a.dcm", b"123"); // not the listed size
        assert!(cache.get("a.dcm").is_none());
        cache.put("a.dcm", b"1234");
        assert_eq!(cache.get("a.dcm").unwrap().as_ref(), b"1234");
        assert_eq!(cache.read_range("a.dcm", 1..3).unwrap().as_ref(), b"23");
        assert!(cache.read_range("a.dcm", 2..9).is_none(), "past the end");
        cache.remember("a.dcm", "e2", 4); // changed in the bucket
        assert!(cache.get("a.dcm").is_none());
        cache.remember("b.dcm", "e1", 8);
        cache.put("b.dcm", b"abcdefgh"); // 4 + 8 > 10: a.dcm@e1 goes
        let on_disk =
            |key: &str, version: &str| entry_path(dir.path(), &entry_name(key, version)).is_file();
        assert!(!on_disk("a.dcm", "e1") && on_disk("b.dcm", "e1"));
        // A truncated entry is detected by size and dropped.
        fs::write(entry_path(dir.path(), &entry_name("b.dcm", "e1")), b"abc").unwrap();
        assert!(cache.get("b.dcm").is_none());
        assert!(!on_disk("b.dcm", "e1"));
        assert_eq!(cache.stats().hits.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn reopening_keeps_entries_and_drops_leftover_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ObjectCache::open(dir.path(), 1 << 20).unwrap();
        cache.remember("k.dcm", "v", 3);
        cache.put("k.dcm", b"xyz");
        let name = entry_name("k.dcm", "v");
        let part = entry_path(dir.path(), &name).with_extension("99.part");
        fs::write(&part, b"x").unwrap();
        let again = ObjectCache::open(dir.path(), 1 << 20).unwrap();
        assert!(!part.exists());
        again.remember("k.dcm", "v", 3);
        assert_eq!(again.get("k.dcm").unwrap().as_ref(), b"xyz");
        // A smaller capacity evicts on opening.
        let small = ObjectCache::open(dir.path(), 2).unwrap();
        small.remember("k.dcm", "v", 3);
        assert!(small.get("k.dcm").is_none());
    }
}
