//! The files of one slide, as its tiles ask for them: from folders and buckets each file whole
//! (opened once); from a DICOMweb service each level's frames a batch at a time (frame-level
//! WADO-RS: never a whole level instance), a bounded number of batches kept, and associated
//! images whole.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rayon::prelude::*;

use super::super::context::Context;
use crate::order::slide::Slide;
use crate::render::decode::DicomImage;
use crate::scan::dicomweb::Dicomweb;
use crate::scan::source::Source;

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

/// A slide's files.
pub(super) struct SlideFiles<'c> {
    context: &'c Context<'c>,
    whole: Mutex<HashMap<usize, Arc<DicomImage>>>,
    /// The DICOMweb service level frames are retrieved from, and the instances read so.
    frames: Option<(&'c Dicomweb, HashSet<usize>)>,
    batches: Mutex<Kept>,
}

impl<'c> SlideFiles<'c> {
    pub(super) fn new(context: &'c Context<'c>, slide: &Slide) -> SlideFiles<'c> {
        let frames = match context.source {
            Source::Dicomweb(service) => Some((
                &**service,
                slide
                    .levels
                    .iter()
                    .flat_map(|l| l.instances.iter().copied())
                    .collect(),
            )),
            _ => None,
        };
        SlideFiles {
            context,
            whole: Mutex::default(),
            frames,
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
        match &self.frames {
            Some((service, levels)) if levels.contains(&instance) => {
                let batch = self.batch(service, instance, frame / BATCH)?;
                let image = batch
                    .get((frame % BATCH) as usize)
                    .cloned()
                    .ok_or_else(|| self.named(instance, format!("no frame {}", frame + 1)))?;
                Ok((image, 0))
            }
            _ => Ok((self.whole(instance)?, frame)),
        }
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
                DicomImage::from_frame(header, &syntax, frame.bytes)
                    .map(Arc::new)
                    .map_err(|e| self.named(instance, format!("frame {number}: {e}")))
            })
            .collect()
    }

    fn named(&self, instance: usize, reason: String) -> String {
        format!("{}: {reason}", self.context.instances[instance].path)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
