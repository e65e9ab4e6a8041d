//! The files of one slide, as its tiles ask for them. A level's frames are read one by one
//! where they can be: from a folder at the places the file's fragments lie
//! ([`crate::scan::frame_index`]), from a bucket the same way once the object is streamed into
//! a temporary file, from a DICOMweb service a batch at a time (frame-level WADO-RS), a
//! bounded number of batches kept; so a level is never held whole in memory, compressed or
//! not. Other files (associated images, files whose frames cannot be located) are read whole,
//! once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rayon::prelude::*;

use super::super::context::Context;
use crate::order::slide::Slide;
use crate::render::decode::DicomImage;
use crate::scan::InstanceHeader;
use crate::scan::dicomweb::Dicomweb;
use crate::scan::frame_index::{IndexError, ReadAt, Span, index_frames};
use crate::scan::source::Source;

/// Transfer syntaxes whose frames cannot be read in place: deflated data sets, big endian.
const NOT_IN_PLACE: &[&str] = &["1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2"];

/// Frames asked for per request.
const BATCH: u32 = 64;
/// Batches kept (older ones are asked for again when needed: reading goes row by row, so
/// they seldom are).
const KEPT_BATCHES: usize = 48;

type Batch = Arc<OnceLock<Result<Vec<Arc<DicomImage>>, String>>>;

/// Batches by (instance, number), and the order they came in.
#[derive(Default)]
struct Kept {
    held: HashMap<(usize, u32), Batch>,
    order: VecDeque<(usize, u32)>,
}

/// A level file whose frames are read where they lie: the folder's file, or a bucket object
/// downloaded into a temporary file (removed with it).
struct FileFrames {
    file: File,
    frames: Vec<Vec<Span>>,
    _downloaded: Option<tempfile::NamedTempFile>,
}

/// A slide's files.
pub(super) struct SlideFiles<'c> {
    context: &'c Context<'c>,
    /// The instances of the levels (read frame by frame where they can be).
    levels: HashSet<usize>,
    whole: Mutex<HashMap<usize, Arc<DicomImage>>>,
    /// Level files of a folder: their frames' places (`None`: read whole).
    located: Mutex<HashMap<usize, Option<Arc<FileFrames>>>>,
    /// The DICOMweb service level frames are retrieved from.
    service: Option<&'c Dicomweb>,
    batches: Mutex<Kept>,
}

impl<'c> SlideFiles<'c> {
    pub(super) fn new(context: &'c Context<'c>, slide: &Slide) -> SlideFiles<'c> {
        SlideFiles {
            context,
            levels: slide
                .levels
                .iter()
                .flat_map(|l| l.instances.iter().copied())
                .collect(),
            whole: Mutex::default(),
            located: Mutex::default(),
            service: match context.source {
                Source::Dicomweb(service) => Some(&**service),
                _ => None,
            },
            batches: Mutex::default(),
        }
    }

    /// Opens every member before anything is written, so that an unreadable or truncated
    /// instance fails the slide with nothing of it written (of an instance read frame by
    /// frame, its first batch).
    pub(super) fn open_all(&self, members: &[usize]) -> Result<(), String> {
        members
            .par_iter()
            .try_for_each(|&instance| self.holding(instance, 0).map(|_| ()))
    }

    /// The image holding frame `frame` (0-based) of `instance`, and the frame's number in it.
    pub(super) fn holding(
        &self,
        instance: usize,
        frame: u32,
    ) -> Result<(Arc<DicomImage>, u32), String> {
        if !self.levels.contains(&instance) {
            return Ok((self.whole(instance)?, frame));
        }
        if let Some(service) = self.service {
            let batch = self.batch(service, instance, frame / BATCH)?;
            let image = batch
                .get((frame % BATCH) as usize)
                .cloned()
                .ok_or_else(|| self.named(instance, format!("no frame {}", frame + 1)))?;
            return Ok((image, 0));
        }
        match self.located(instance)? {
            Some(located) => Ok((Arc::new(self.read_frame(instance, &located, frame)?), 0)),
            None => Ok((self.whole(instance)?, frame)),
        }
    }

    /// Where the frames of level file `instance` lie, found once; `None` when it is to be
    /// read whole (not a local file, a deflated or big-endian or gzip-compressed one, or
    /// fragments that do not map to frames); an error when the file is damaged.
    fn located(&self, instance: usize) -> Result<Option<Arc<FileFrames>>, String> {
        if let Some(found) = lock(&self.located).get(&instance) {
            return Ok(found.clone());
        }
        let header = &self.context.instances[instance];
        let in_place = header.pixel_data_offset > 0
            && !NOT_IN_PLACE.contains(&header.transfer_syntax.as_str());
        let found = match self.context.source {
            Source::Local { .. } if in_place => {
                let path = self.context.source.local_path(&header.path);
                let file = path.map(File::open).transpose();
                let file = file.map_err(|e| self.named(instance, format!("cannot read: {e}")))?;
                match file {
                    Some(file) => {
                        locate(file, None, header).map_err(|e| self.named(instance, e))?
                    }
                    None => None,
                }
            }
            Source::Bucket(bucket) if in_place => {
                // Streamed to a temporary file, then read tile by tile from it.
                let mut staged = tempfile::NamedTempFile::with_prefix(".dicomprep-slide-")
                    .map_err(|e| self.named(instance, format!("cannot stage: {e}")))?;
                bucket
                    .download(&header.path, staged.as_file_mut())
                    .map_err(|e| self.named(instance, e))?;
                let file = staged
                    .reopen()
                    .map_err(|e| self.named(instance, format!("cannot stage: {e}")))?;
                locate(file, Some(staged), header).map_err(|e| self.named(instance, e))?
            }
            _ => None,
        };
        let found = found.map(Arc::new);
        lock(&self.located).insert(instance, found.clone());
        Ok(found)
    }

    /// Frame `frame` of a level file whose frames were located, read and made an image.
    fn read_frame(
        &self,
        instance: usize,
        located: &FileFrames,
        frame: u32,
    ) -> Result<DicomImage, String> {
        let header = &self.context.instances[instance];
        let spans = located
            .frames
            .get(frame as usize)
            .ok_or_else(|| self.named(instance, format!("no frame {}", frame + 1)))?;
        let mut bytes = Vec::with_capacity(spans.iter().map(|s| s.1 as usize).sum());
        for &(at, length) in spans {
            let start = bytes.len();
            bytes.resize(start + length as usize, 0);
            located
                .file
                .read_exact_at(&mut bytes[start..], at)
                .map_err(|e| self.named(instance, format!("frame {}: {e}", frame + 1)))?;
        }
        self.context
            .bytes_read
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        DicomImage::from_frame(header, frame, &header.transfer_syntax, bytes)
            .map_err(|e| self.named(instance, format!("frame {}: {e}", frame + 1)))
    }

    /// The whole file of `instance`, opened once.
    pub(super) fn whole(&self, instance: usize) -> Result<Arc<DicomImage>, String> {
        if let Some(file) = lock(&self.whole).get(&instance) {
            return Ok(file.clone());
        }
        let header = &self.context.instances[instance];
        let file = Arc::new(
            self.context
                .open_image(header)
                .map_err(|e| format!("{}: {e}", header.path))?,
        );
        Ok(lock(&self.whole).entry(instance).or_insert(file).clone())
    }

    /// Batch `number` of `instance`'s frames, retrieved once (while kept).
    fn batch(
        &self,
        service: &Dicomweb,
        instance: usize,
        number: u32,
    ) -> Result<Vec<Arc<DicomImage>>, String> {
        let cell = {
            let mut guard = lock(&self.batches);
            let Kept { held, order } = &mut *guard;
            let key = (instance, number);
            if !held.contains_key(&key) {
                order.push_back(key);
                while order.len() > KEPT_BATCHES {
                    if let Some(old) = order.pop_front() {
                        held.remove(&old);
                    }
                }
            }
            held.entry(key).or_default().clone()
        };
        cell.get_or_init(|| self.retrieve(service, instance, number))
            .clone()
    }

    fn retrieve(
        &self,
        service: &Dicomweb,
        instance: usize,
        number: u32,
    ) -> Result<Vec<Arc<DicomImage>>, String> {
        let header = &self.context.instances[instance];
        let first = number * BATCH;
        let last = (first + BATCH).min(header.number_of_frames);
        let wanted: Vec<u32> = (first + 1..=last).collect();
        let frames = service
            .retrieve_frames(&header.path, &wanted)
            .map_err(|e| self.named(instance, format!("frames {}-{last}: {e}", first + 1)))?;
        frames
            .into_iter()
            .zip(&wanted)
            .map(|(frame, number)| {
                self.context
                    .bytes_read
                    .fetch_add(frame.bytes.len() as u64, Ordering::Relaxed);
                let syntax = frame
                    .transfer_syntax
                    .or_else(|| Some(header.transfer_syntax.clone()).filter(|s| !s.is_empty()))
                    .ok_or_else(|| {
                        self.named(
                            instance,
                            format!("the server did not say how frame {number} is coded"),
                        )
                    })?;
                DicomImage::from_frame(header, number - 1, &syntax, frame.bytes)
                    .map(Arc::new)
                    .map_err(|e| self.named(instance, format!("frame {number}: {e}")))
            })
            .collect()
    }

    /// `reason` prefixed with the path of `instance`.
    pub(super) fn named(&self, instance: usize, reason: String) -> String {
        format!("{}: {reason}", self.context.instances[instance].path)
    }
}

/// The frames' places in `file` (`None`: read it whole); `downloaded` is the temporary file
/// it is, kept as long as it is read.
fn locate(
    file: File,
    downloaded: Option<tempfile::NamedTempFile>,
    header: &InstanceHeader,
) -> Result<Option<FileFrames>, String> {
    let length = file
        .metadata()
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    let mut magic = [0u8; 2];
    if file.read_exact_at(&mut magic, 0).is_ok() && magic == [0x1F, 0x8B] {
        return Ok(None); // gzip-compressed: offsets are in the inflated stream
    }
    let bits = u64::from(header.bits_allocated.unwrap_or(8));
    let samples = u64::from(header.samples_per_pixel.unwrap_or(1));
    let pixels = u64::from(header.rows.unwrap_or(0)) * u64::from(header.columns.unwrap_or(0));
    let frame_bytes = bits.is_multiple_of(8).then(|| pixels * samples * bits / 8);
    match index_frames(
        &file,
        length,
        header.pixel_data_offset,
        header.number_of_frames,
        frame_bytes,
    ) {
        Ok(frames) => Ok(Some(FileFrames {
            file,
            frames,
            _downloaded: downloaded,
        })),
        Err(IndexError::Unmapped(_)) => Ok(None),
        Err(IndexError::Damaged(reason)) => Err(reason),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
