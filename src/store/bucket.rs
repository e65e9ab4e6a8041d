//! A blocking facade over an `object_store` bucket prefix, for the rayon pipeline: every call
//! runs on one shared tokio runtime. Keys given to and returned by [`Bucket`] are relative to the
//! location's prefix.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectStore, ObjectStoreExt, PutOptions, PutPayload,
};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::Semaphore;

use super::cache::ObjectCache;
use super::connect::{ConnectError, ConnectOptions, connect};
use super::{Location, content_type};

/// Requests and bytes moved, for the end-of-run summary and benchmarks.
#[derive(Debug, Default)]
pub struct IoStats {
    pub requests: AtomicU64,
    /// Objects listed.
    pub objects: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
}

impl IoStats {
    pub(super) fn read(&self, bytes: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_read.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// Key relative to the prefix.
    pub key: String,
    pub size: u64,
    /// The object's version as listed: its ETag, else its last-modified time (RFC 3339); a
    /// change of either means the object changed.
    pub version: Option<String>,
}

/// Size and type of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub content_type: Option<String>,
}

/// A bucket prefix with blocking calls.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub(super) store: Arc<dyn ObjectStore>,
    location: Location,
    pub(super) stats: Arc<IoStats>,
    /// Where whole objects are kept between runs (`--cache`), if anywhere.
    cache: Option<Arc<ObjectCache>>,
}

/// The runtime all store calls run on (created on first use; two worker threads are plenty for
/// network I/O).
pub(crate) fn runtime() -> &'static Handle {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("dicomprep-io")
                .enable_all()
                .build()
                .expect("the I/O runtime cannot start (out of threads?)")
        })
        .handle()
}

/// `meta` as listed, its key relative to the prefix (whose length and `/` are `strip` bytes).
fn listed(meta: &object_store::ObjectMeta, strip: usize) -> ListedObject {
    let path = meta.location.as_ref();
    ListedObject {
        key: path[strip.min(path.len())..].to_string(),
        size: meta.size,
        version: Some(
            meta.e_tag
                .clone()
                .unwrap_or_else(|| meta.last_modified.to_rfc3339()),
        ),
    }
}

impl Bucket {
    /// Connects to the bucket of `location`.
    pub fn open(
        location: &Location,
        options: &ConnectOptions,
        create: bool,
    ) -> Result<Bucket, ConnectError> {
        Ok(Bucket::with_store(
            connect(location, options, create)?,
            location.clone(),
        ))
    }

    /// A bucket over an existing store (e.g. `InMemory` in tests).
    pub fn with_store(store: Arc<dyn ObjectStore>, location: Location) -> Bucket {
        Bucket {
            store,
            location,
            stats: Arc::default(),
            cache: None,
        }
    }

    /// This bucket with whole objects kept in `cache`: [`Bucket::list`] tells the cache each
    /// object's version, and [`Bucket::get_object`] is served from it.
    pub fn with_cache(mut self, cache: Arc<ObjectCache>) -> Bucket {
        self.cache = Some(cache);
        self
    }

    /// The object cache, if there is one.
    pub fn cache(&self) -> Option<&ObjectCache> {
        self.cache.as_deref()
    }

    /// Where this bucket prefix is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Requests and bytes so far.
    pub fn stats(&self) -> &IoStats {
        &self.stats
    }

    pub(super) fn path(&self, key: &str) -> Result<StorePath, String> {
        let full = self.location.bucket_key(key);
        StorePath::parse(&full).map_err(|e| format!("invalid key {full:?}: {e}"))
    }

    /// A readable name of `key` for messages (`s3://bucket/prefix/key`).
    pub fn describe(&self, key: &str) -> String {
        self.location.join(key).to_string()
    }

    /// Every object under the prefix, sorted by key, with up to `concurrency` listings in
    /// flight. A listing is a chain of pages, each request waiting for the one before, so the
    /// prefix's sub-folders are listed side by side: one delimiter listing finds them (going
    /// down while a level holds a single folder, as `<study>/<series>/` does), then each is
    /// listed whole. Every key is still listed once.
    /// The object cache, if any, learns each object's listed version.
    pub fn list(&self, concurrency: usize) -> Result<Vec<ListedObject>, String> {
        let objects = if concurrency <= 1 {
            self.list_folders(&[String::new()], 1)?
        } else {
            let (mut objects, folders) = self.sub_folders()?;
            objects.extend(self.list_folders(&folders, concurrency)?);
            objects.sort_by(|a, b| a.key.cmp(&b.key));
            objects
        };
        if let Some(cache) = &self.cache {
            for object in &objects {
                if let Some(version) = &object.version {
                    cache.remember(&object.key, version, object.size);
                }
            }
        }
        Ok(objects)
    }

    /// The objects above the prefix's first level holding several sub-folders (at most
    /// [`MAX_FOLDER_DEPTH`] down), and those sub-folders, relative to the prefix.
    fn sub_folders(&self) -> Result<(Vec<ListedObject>, Vec<String>), String> {
        const MAX_FOLDER_DEPTH: usize = 4;
        let strip = self.strip();
        let mut objects = Vec::new();
        let mut folder = String::new();
        for depth in 0.. {
            let full = self.location.bucket_key(&folder);
            let path = (!full.is_empty())
                .then(|| StorePath::parse(&full))
                .transpose()
                .map_err(|e| format!("invalid folder {full:?}: {e}"))?;
            let level = runtime()
                .block_on(self.store.list_with_delimiter(path.as_ref()))
                .map_err(|e| format!("cannot list {}: {e}", self.describe(&folder)))?;
            let entries = level.objects.len() + level.common_prefixes.len();
            let pages = entries.div_ceil(1000).max(1) as u64;
            self.stats.requests.fetch_add(pages, Ordering::Relaxed);
            self.stats
                .objects
                .fetch_add(level.objects.len() as u64, Ordering::Relaxed);
            objects.extend(level.objects.iter().map(|meta| listed(meta, strip)));
            let mut folders: Vec<String> = level
                .common_prefixes
                .iter()
                .map(|p| p.as_ref()[strip.min(p.as_ref().len())..].to_string())
                .collect();
            match folders.as_slice() {
                [only] if depth < MAX_FOLDER_DEPTH => folder = only.clone(),
                _ => {
                    folders.sort();
                    return Ok((objects, folders));
                }
            }
        }
        unreachable!("the loop returns")
    }

    /// How many bytes of a listed path are the prefix and its `/`.
    fn strip(&self) -> usize {
        if self.location.prefix.is_empty() {
            0
        } else {
            self.location.prefix.len() + 1
        }
    }

    /// Every object under the sub-folders `folders` of the prefix (`""`: the whole prefix),
    /// `concurrency` listings in flight, sorted by key; keys stay relative to the prefix.
    pub fn list_folders(
        &self,
        folders: &[String],
        concurrency: usize,
    ) -> Result<Vec<ListedObject>, String> {
        let strip = self.strip();
        let mut listings = Vec::with_capacity(folders.len());
        for folder in folders {
            let full = self.location.bucket_key(folder);
            let path = (!full.is_empty())
                .then(|| StorePath::parse(&full))
                .transpose()
                .map_err(|e| format!("invalid folder {full:?}: {e}"))?;
            let store = self.store.clone();
            let at = self.describe(folder);
            listings.push(async move {
                store
                    .list(path.as_ref())
                    .map_ok(|meta| listed(&meta, strip))
                    .try_collect::<Vec<ListedObject>>()
                    .await
                    .map_err(|e| format!("cannot list {at}: {e}"))
            });
        }
        let listed: Vec<Vec<ListedObject>> = runtime().block_on(
            futures::stream::iter(listings)
                .buffer_unordered(concurrency.max(1))
                .try_collect(),
        )?;
        // The clouds list 1,000 keys (Azure: 5,000) per request.
        let pages: u64 = listed
            .iter()
            .map(|objects| objects.len().div_ceil(1000).max(1) as u64)
            .sum();
        self.stats.requests.fetch_add(pages, Ordering::Relaxed);
        let mut objects: Vec<ListedObject> = listed.into_iter().flatten().collect();
        self.stats
            .objects
            .fetch_add(objects.len() as u64, Ordering::Relaxed);
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    /// Bytes `range` of `key` (from the object cache when it holds the listed version).
    pub fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, String> {
        if let Some(bytes) = self.cache().and_then(|c| c.read_range(key, range.clone())) {
            return Ok(bytes);
        }
        let path = self.path(key)?;
        let bytes = runtime()
            .block_on(self.store.get_range(&path, range))
            .map_err(|e| format!("cannot read {}: {e}", self.describe(key)))?;
        self.stats.read(bytes.len());
        Ok(bytes)
    }

    /// The whole object, or `None` when there is none.
    pub fn get(&self, key: &str) -> Result<Option<Bytes>, String> {
        let path = self.path(key)?;
        let result = runtime().block_on(async {
            match self.store.get(&path).await {
                Ok(result) => result.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        let bytes = result.map_err(|e| format!("cannot read {}: {e}", self.describe(key)))?;
        if let Some(bytes) = &bytes {
            self.stats.read(bytes.len());
        }
        Ok(bytes)
    }

    /// Deletes `key` (absent already is fine).
    pub fn delete(&self, key: &str) -> Result<(), String> {
        let path = self.path(key)?;
        let result = runtime().block_on(self.store.delete(&path));
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(format!("cannot delete {}: {e}", self.describe(key))),
        }
    }

    /// The whole object, from the object cache when it holds the listed version (and kept
    /// there when fetched), or `None` when there is none.
    pub fn get_object(&self, key: &str) -> Result<Option<Bytes>, String> {
        let Some(cache) = &self.cache else {
            return self.get(key);
        };
        if let Some(bytes) = cache.get(key) {
            return Ok(Some(bytes));
        }
        let bytes = self.get(key)?;
        if let Some(bytes) = &bytes {
            cache.put(key, bytes);
        }
        Ok(bytes)
    }

    /// Size and content type of `key`, or `None` when there is none.
    pub fn head(&self, key: &str) -> Result<Option<ObjectInfo>, String> {
        let path = self.path(key)?;
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let result = runtime().block_on(self.store.get_opts(&path, options));
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(result) => Ok(Some(ObjectInfo {
                size: result.meta.size,
                content_type: result
                    .attributes
                    .get(&Attribute::ContentType)
                    .map(|v| v.to_string()),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", self.describe(key))),
        }
    }

    /// Stores `bytes` under `key` with the content type of its extension, waiting for the
    /// result. A PUT is atomic: the key is absent or complete.
    pub fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        let path = self.path(key)?;
        runtime().block_on(put_object(
            self.store.clone(),
            path,
            bytes,
            self.typed(),
            self.stats.clone(),
        ))
    }

    /// Whether objects carry a Content-Type (every store but local folders).
    pub(super) fn typed(&self) -> bool {
        !self.location.is_local()
    }

    /// An upload queue with at most `concurrency` PUTs in flight.
    pub fn uploader(&self, concurrency: usize) -> Uploader {
        Uploader {
            bucket: self.clone(),
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            concurrency: concurrency.max(1) as u32,
            failures: Arc::default(),
        }
    }
}

/// PUTs one object; `typed` sets its Content-Type (local folders keep none).
async fn put_object(
    store: Arc<dyn ObjectStore>,
    path: StorePath,
    bytes: Vec<u8>,
    typed: bool,
    stats: Arc<IoStats>,
) -> Result<(), String> {
    let size = bytes.len() as u64;
    let mut attributes = Attributes::new();
    if typed {
        attributes.insert(Attribute::ContentType, content_type(path.as_ref()).into());
    }
    let options = PutOptions {
        attributes,
        ..PutOptions::default()
    };
    store
        .put_opts(&path, PutPayload::from(bytes), options)
        .await
        .map_err(|e| e.to_string())?;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    stats.bytes_written.fetch_add(size, Ordering::Relaxed);
    Ok(())
}

/// A key whose upload failed after all retries, and the last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedUpload {
    pub key: String,
    pub error: String,
}

/// Uploads in the background with bounded concurrency: [`Uploader::put`] returns once the PUT
/// has a slot (so at most `concurrency` outputs wait in memory), [`Uploader::finish`] waits for
/// all of them.
#[derive(Debug)]
pub struct Uploader {
    bucket: Bucket,
    slots: Arc<Semaphore>,
    concurrency: u32,
    failures: Arc<Mutex<Vec<FailedUpload>>>,
}

impl Uploader {
    /// Queues `bytes` for `key` (blocks while all slots are busy).
    pub fn put(&self, key: &str, bytes: Vec<u8>) {
        let path = match self.bucket.path(key) {
            Ok(path) => path,
            Err(error) => {
                self.fail(key, error);
                return;
            }
        };
        let permit = match runtime().block_on(self.slots.clone().acquire_owned()) {
            Ok(permit) => permit,
            Err(e) => {
                self.fail(key, e.to_string());
                return;
            }
        };
        let store = self.bucket.store.clone();
        let typed = self.bucket.typed();
        let stats = self.bucket.stats.clone();
        let failures = self.failures.clone();
        let key = key.to_string();
        runtime().spawn(async move {
            if let Err(error) = put_object(store, path, bytes, typed, stats).await {
                lock(&failures).push(FailedUpload { key, error });
            }
            drop(permit);
        });
    }

    fn fail(&self, key: &str, error: String) {
        lock(&self.failures).push(FailedUpload {
            key: key.to_string(),
            error,
        });
    }

    /// Waits until every upload queued so far is done (their failures stay for `finish`).
    pub fn wait(&self) {
        let all = runtime().block_on(self.slots.acquire_many(self.concurrency));
        drop(all);
    }

    /// Waits until every queued upload is done; returns (and forgets) the failed ones.
    pub fn finish(&self) -> Vec<FailedUpload> {
        self.wait();
        std::mem::take(&mut *lock(&self.failures))
    }
}

/// Locks a mutex, recovering the data if a thread panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use object_store::memory::InMemory;

    /// A bucket of an in-memory store, under `prefix`.
    pub(crate) fn memory_bucket(prefix: &str) -> Bucket {
        Bucket::with_store(
            Arc::new(InMemory::new()),
            Location::parse(&format!("memory://test/{prefix}")).unwrap(),
        )
    }

    #[test]
    fn put_list_get_and_head_under_a_prefix() {
        let bucket = memory_bucket("out");
        bucket.put("a/b.png", b"png".to_vec()).unwrap();
        let uploader = bucket.uploader(2);
        for i in 0..5 {
            uploader.put(&format!("a/{i}.jpg"), vec![0; i]);
        }
        assert!(uploader.finish().is_empty());
        let listed = bucket.list(4).unwrap();
        assert_eq!(listed.len(), 6);
        assert_eq!(listed[0].key, "a/0.jpg");
        assert_eq!(listed[5].key, "a/b.png");
        assert_eq!(bucket.get("a/b.png").unwrap().unwrap().as_ref(), b"png");
        assert_eq!(bucket.get("a/none.png").unwrap(), None);
        let info = bucket.head("a/4.jpg").unwrap().unwrap();
        assert_eq!(info.size, 4);
        assert_eq!(info.content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(bucket.get_range("a/b.png", 1..3).unwrap().as_ref(), b"ng");
        assert_eq!(bucket.describe("a/b.png"), "memory://test/out/a/b.png");
    }

    #[test]
    fn invalid_keys_are_reported_not_uploaded() {
        let bucket = memory_bucket("");
        let uploader = bucket.uploader(1);
        uploader.put("a//../b", vec![1]);
        let failed = uploader.finish();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].key, "a//../b");
        assert!(bucket.list(4).unwrap().is_empty());
    }
}
