//! Objects too large to hold in memory (a slide's pyramid, its level files): uploaded from a
//! file, in parts when large, and downloaded into a file as they stream in.

use std::io::{Read, Write};
use std::sync::atomic::Ordering;

use futures::StreamExt;
use object_store::{Attribute, Attributes, ObjectStoreExt, PutMultipartOptions, WriteMultipart};

use super::bucket::{Bucket, runtime};
use super::content_type;

impl Bucket {
    /// Stores the file at `path` under `key` with the content type of its extension, waiting
    /// for the result: one PUT up to [`PART`] bytes, else a multipart upload of parts of that
    /// size read from the file one at a time (never the whole file in memory). Atomic either
    /// way: the key is absent or complete.
    pub fn put_file(&self, key: &str, path: &std::path::Path) -> Result<(), String> {
        let failed = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
        let size = std::fs::metadata(path).map_err(failed)?.len();
        if size <= PART as u64 {
            return self.put(key, std::fs::read(path).map_err(failed)?);
        }
        let target = self.path(key)?;
        let mut file = std::fs::File::open(path).map_err(failed)?;
        let mut attributes = Attributes::new();
        if self.typed() {
            attributes.insert(Attribute::ContentType, content_type(target.as_ref()).into());
        }
        let options = PutMultipartOptions {
            attributes,
            ..PutMultipartOptions::default()
        };
        runtime().block_on(async {
            let upload = self
                .store
                .put_multipart_opts(&target, options)
                .await
                .map_err(|e| e.to_string())?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
            let mut buffer = vec![0u8; PART];
            loop {
                let read = read_up_to(&mut file, &mut buffer).map_err(failed)?;
                if read == 0 {
                    break;
                }
                writer
                    .wait_for_capacity(2)
                    .await
                    .map_err(|e| e.to_string())?;
                writer.write(&buffer[..read]);
                self.stats.requests.fetch_add(1, Ordering::Relaxed);
            }
            writer.finish().await.map_err(|e| e.to_string())?;
            self.stats.bytes_written.fetch_add(size, Ordering::Relaxed);
            Ok(())
        })
    }

    /// Streams the object `key` into `file` (never held whole in memory); the bytes written.
    pub fn download(&self, key: &str, file: &mut std::fs::File) -> Result<u64, String> {
        let path = self.path(key)?;
        let failed = |e: String| format!("cannot read {}: {e}", self.describe(key));
        runtime().block_on(async {
            let result = self
                .store
                .get(&path)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let mut stream = result.into_stream();
            let mut total = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| failed(e.to_string()))?;
                file.write_all(&chunk).map_err(|e| failed(e.to_string()))?;
                total += chunk.len() as u64;
            }
            self.stats.read(total as usize);
            Ok(total)
        })
    }
}

/// Part size of multipart uploads (S3 wants at least 5 MiB; two parts in flight).
const PART: usize = 16 << 20;

/// Reads into `buffer` until it is full or the file ends; the bytes read.
fn read_up_to(file: &mut std::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::bucket::tests::memory_bucket;

    #[test]
    fn files_are_put_whole_or_in_parts() {
        let bucket = memory_bucket("out");
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<(&str, Vec<u8>)> = [("small.tif", 1000), ("large.tif", 2 * PART + 12345)]
            .into_iter()
            .map(|(name, size)| (name, (0..size).map(|i| (i % 251) as u8).collect()))
            .collect();
        for (name, bytes) in &files {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            bucket.put_file(name, &path).unwrap();
        }
        // One PUT, then three parts (each counted as a request).
        assert_eq!(bucket.stats().requests.load(Ordering::Relaxed), 4);
        for (name, bytes) in &files {
            let stored = bucket.get(name).unwrap().unwrap();
            assert!(stored.to_vec() == *bytes, "{name}");
        }
        assert!(
            bucket
                .put_file("gone", &dir.path().join("missing"))
                .is_err()
        );
    }
}
