//! Whole-slide images (planned by [`crate::order::slide`]): per slide, under
//! `<study>/<series>/slide/`, the tiled pyramid (`slide.tif`), Deep Zoom tiles and their
//! `slide.dzi`, the whole slide as one picture (`slide.png`, `slide.jpg`, `thumbnail.jpg`) and
//! its associated images; one manifest item of kind `slide`. A slide is one unit of work;
//! memory holds its files and a few rows of decoded tiles, never a decoded level.

mod deep_zoom;
mod files;
mod pictures;
mod pyramid;
mod reader;

use std::io::BufWriter;
use std::sync::Mutex;

use rayon::prelude::*;

use super::context::{Context, VolumeOutcome};
use crate::contract::FileIssue;
use crate::contract::keys;
use crate::contract::manifest::{AssociatedEntry, FrameEntry, Item, ItemKind, SlideEntry};
use crate::encode::jpeg::{Huffman, JpegRows};
use crate::encode::png::{PngRows, encode_png};
use crate::encode::thumbnail::encode_thumbnail;
use crate::encode::tiff::TiffPyramid;
use crate::naming::{NameFields, Target};
use crate::order::slide::{Associated, Slide, SlidePlan};
use crate::render::image::Channels;
use crate::render::thumbnail::thumbnail_size;
use deep_zoom::DeepZoom;
use files::SlideFiles;
use reader::{LevelReader, decode_tile, image_mapping, slide_mapping};

impl Context<'_> {
    /// Converts every slide of `plan` (in parallel); instances that form no slide fail with
    /// the reason.
    pub(super) fn slides(&self, plan: &SlidePlan) -> Vec<VolumeOutcome> {
        let mut outcomes: Vec<VolumeOutcome> =
            plan.slides.par_iter().map(|s| self.slide(s)).collect();
        let frames = plan
            .failed
            .iter()
            .map(|(i, _)| u64::from(self.instances[*i].number_of_frames))
            .sum();
        self.progress.advance(frames);
        outcomes.push(VolumeOutcome {
            failed: plan
                .failed
                .iter()
                .map(|(i, reason)| FileIssue {
                    path: self.instances[*i].path.clone(),
                    reason: format!("slide: {reason}"),
                })
                .collect(),
            ..VolumeOutcome::default()
        });
        outcomes
    }

    fn slide(&self, slide: &Slide) -> VolumeOutcome {
        let outcome = self.slide_outputs(slide);
        // The progress bar counts a slide's frames (its tiles) once it is done.
        let frames = slide
            .members
            .iter()
            .map(|&i| u64::from(self.instances[i].number_of_frames))
            .sum();
        self.progress.advance(frames);
        outcome
    }

    fn slide_outputs(&self, slide: &Slide) -> VolumeOutcome {
        let prefix = keys::slide_prefix(
            &slide.study_instance_uid,
            &slide.series_instance_uid,
            &slide.id,
        );
        if let Some((item, kept)) = self.kept_slide(&prefix) {
            return VolumeOutcome {
                items: vec![item],
                reused: kept,
                ..VolumeOutcome::default()
            };
        }
        let keys = Mutex::new(Vec::new());
        match self.write_slide(slide, &prefix, &keys) {
            Ok((item, written)) => VolumeOutcome {
                items: vec![item],
                written,
                ..VolumeOutcome::default()
            },
            Err(reason) => {
                // What was written before the failure goes: nothing of a failed slide stays.
                let keys = keys.into_inner().unwrap_or_else(|e| e.into_inner());
                let reason = match self.sink.remove(&keys) {
                    Ok(()) => reason,
                    Err(e) => format!(
                        "{reason} ({} outputs written before could not be removed: {e})",
                        keys.len()
                    ),
                };
                self.failed_slide(slide, reason)
            }
        }
    }

    /// Every instance of `slide` failed with `reason`.
    fn failed_slide(&self, slide: &Slide, reason: String) -> VolumeOutcome {
        VolumeOutcome {
            failed: slide
                .members
                .iter()
                .map(|&i| FileIssue {
                    path: self.instances[i].path.clone(),
                    reason: format!("slide: {reason}"),
                })
                .collect(),
            ..VolumeOutcome::default()
        }
    }

    /// The item of an earlier run whose every output is still there with its size.
    fn kept_slide(&self, prefix: &str) -> Option<(Item, usize)> {
        let item = self.previous.slides.get(prefix)?;
        let named = item.named_keys();
        // `kept` records each key it finds, so the manifest may name it.
        named
            .iter()
            .all(|k| self.kept(k.key))
            .then(|| (item.clone(), named.len()))
    }

    /// Writes the outputs of `slide` under `prefix`, each key into `keys` once written.
    fn write_slide(
        &self,
        slide: &Slide,
        prefix: &str,
        keys: &Mutex<Vec<String>>,
    ) -> Result<(Item, usize), String> {
        let wrote = |key: &str| {
            keys.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(key.into())
        };
        let files = SlideFiles::new(self, slide);
        files.open_all(&slide.members)?;
        // One grey mapping for every tile of every level (colour passes through).
        let smallest = slide.levels.last().ok_or("a slide without levels")?;
        let grey = slide_mapping(smallest, &self.instances[smallest.instances[0]], &files)?;
        let readers: Vec<LevelReader<'_>> = slide
            .levels
            .iter()
            .map(|level| LevelReader::new(level, &files, &grey))
            .collect();
        let base = &slide.levels[0];
        let mut written = 0;
        let put = |key: &str, bytes: Vec<u8>| -> Result<u64, String> {
            let size = bytes.len() as u64;
            self.put(key, bytes)?;
            wrote(key);
            Ok(size)
        };

        // The pyramid first: it copies the levels' JPEG tiles as they are.
        let mpp = base.pixel_spacing.map(|s| s[1] * 1000.0);
        // Written into a staged file as it is made: never held in memory.
        let pyramid_key = keys::slide_file_key(prefix, "slide.tif");
        let staged = self
            .sink
            .stage(&pyramid_key)
            .map_err(|e| format!("cannot write {}: {e}", self.sink.describe(&pyramid_key)))?;
        let file = staged
            .as_file()
            .try_clone()
            .map_err(|e| format!("cannot write the pyramid: {e}"))?;
        let mut tiff = TiffPyramid::new(BufWriter::with_capacity(1 << 20, file), mpp)
            .map_err(|e| format!("cannot write the pyramid: {e}"))?;
        let mut levels = Vec::with_capacity(slide.levels.len());
        for (level, reader) in slide.levels.iter().zip(&readers) {
            levels.push(pyramid::add_level(
                &mut tiff, level, reader, &files, base.width,
            )?);
        }
        tiff.finish()?
            .into_inner()
            .map_err(|e| format!("cannot write the pyramid: {}", e.error()))?;
        let pyramid_bytes = self.put_staged(&pyramid_key, staged)?;
        wrote(&pyramid_key);

        // Deep Zoom (every tile, then the descriptor that names them) beside the picture of
        // the whole slide, which reads its level with a reader of its own.
        let zoom = DeepZoom::new(base.width, base.height);
        let size = pictures::picture_size(base.width, base.height, self.options.slide_max_size);
        let picture_level = nearest(&readers, size.0).level;
        let (dzi_tiles, pictures) = rayon::join(
            || -> Result<u64, String> {
                if !self.options.slide_deep_zoom {
                    return Ok(0);
                }
                let mut tiles = 0;
                for level in (0..=zoom.max_level()).rev() {
                    let source = nearest(&readers, zoom.level_size(level).0);
                    let store = |column: u32, row: u32, jpeg: Vec<u8>| {
                        put(&keys::deep_zoom_tile_key(prefix, level, column, row), jpeg).map(|_| ())
                    };
                    tiles += deep_zoom::write_level(&zoom, level, source, &store)?;
                }
                Ok(tiles)
            },
            || -> Result<[u64; 3], String> {
                // PNG and JPEG written as the bands come: the picture is never held whole.
                let reader = LevelReader::new(picture_level, &files, &grey);
                let mut png = PngRows::new(size, Channels::Rgb).map_err(|e| e.to_string())?;
                let lq_quality = self.options.lq_quality;
                let mut jpeg = JpegRows::new(size, Channels::Rgb, lq_quality, Huffman::Standard)
                    .map_err(|e| e.to_string())?;
                pictures::picture_bands(&reader, size, &mut |band| {
                    png.push(band).map_err(|e| e.to_string())?;
                    jpeg.push(band).map_err(|e| e.to_string())
                })?;
                let hq = png.finish().map_err(|e| e.to_string())?;
                let lq = jpeg.finish().map_err(|e| e.to_string())?;
                // The thumbnail's size and JPEG follow the other items' rules; its pixels
                // come from the nearest level at least as large.
                let small = thumbnail_size(size.0, size.1);
                let reader = LevelReader::new(nearest(&readers, small.0).level, &files, &grey);
                let preview = pictures::whole_picture(&reader, small)?;
                let thumbnail = encode_thumbnail(&preview).map_err(|e| e.to_string())?;
                Ok([
                    put(&keys::slide_file_key(prefix, "slide.png"), hq)?,
                    put(&keys::slide_file_key(prefix, "slide.jpg"), lq)?,
                    put(&keys::slide_file_key(prefix, "thumbnail.jpg"), thumbnail)?,
                ])
            },
        );
        let (dzi_tiles, [hq_bytes, lq_bytes, thumbnail_bytes]) = (dzi_tiles?, pictures?);
        let (dzi_key, dzi_bytes) = if self.options.slide_deep_zoom {
            let key = keys::slide_file_key(prefix, "slide.dzi");
            let bytes = put(&key, zoom.xml().into_bytes())?;
            (Some(key), Some(bytes))
        } else {
            (None, None)
        };
        let (hq_key, lq_key, thumbnail_key) = (
            keys::slide_file_key(prefix, "slide.png"),
            keys::slide_file_key(prefix, "slide.jpg"),
            keys::slide_file_key(prefix, "thumbnail.jpg"),
        );
        written += dzi_tiles as usize + usize::from(dzi_key.is_some()) + 4;

        let mut associated = Vec::new();
        for &image in &slide.associated {
            let (kind, instance) = match image {
                Associated::Label(i) => ("label", i),
                Associated::Overview(i) => ("overview", i),
                Associated::Thumbnail(i) => ("thumbnail", i),
            };
            let header = &self.instances[instance];
            let size = (
                u32::from(header.columns.unwrap_or(0)),
                u32::from(header.rows.unwrap_or(0)),
            );
            let file = files.whole(instance)?;
            let own = image_mapping(&file, header).map_err(|e| format!("{}: {e}", header.path))?;
            let picture =
                decode_tile(&file, 0, size, &own).map_err(|e| format!("{}: {e}", header.path))?;
            let key = keys::associated_key(prefix, kind);
            let bytes = put(&key, encode_png(&picture).map_err(|e| e.to_string())?)?;
            written += 1;
            associated.push(AssociatedEntry {
                kind: kind.into(),
                key,
                bytes,
                width: size.0,
                height: size.1,
                path: header.path.clone(),
            });
        }

        let first = &self.instances[base.instances[0]];
        let entry = SlideEntry {
            pyramid_key,
            pyramid_bytes,
            dzi_key,
            dzi_bytes,
            dzi_tiles,
            hq_key: hq_key.clone(),
            lq_key: lq_key.clone(),
            thumbnail_key: thumbnail_key.clone(),
            width: base.width,
            height: base.height,
            levels,
            mpp,
            objective_power: slide.objective_power,
            optical_path: slide.optical_path.clone(),
            focal_plane: slide.plane.focal_plane,
            z_offset: slide.plane.z_offset,
            missing_tiles: slide.levels.iter().map(|l| l.missing()).sum(),
            associated,
            instances: slide
                .members
                .iter()
                .map(|&i| self.instances[i].path.clone())
                .collect(),
        };
        let fields = NameFields {
            modality: first.modality.as_deref(),
            series_number: first.series_number,
            series_description: first.series_description.as_deref(),
            volume: &slide.id,
            study_uid: &slide.study_instance_uid,
            series_uid: &slide.series_instance_uid,
            study_description: first.study_description.as_deref(),
            protocol: first.protocol_name.as_deref(),
            body_part: first.body_part_examined.as_deref(),
        };
        let template = &self.options.name;
        let item = Item {
            name: template.render(&fields, Target::Video, super::items::IMAGE_EXTENSION),
            series_name: Some(template.render(&fields, Target::Series, "")),
            kind: ItemKind::Slide,
            study_instance_uid: slide.study_instance_uid.clone(),
            series_instance_uid: slide.series_instance_uid.clone(),
            volume: slide.id.clone(),
            series_number: first.series_number,
            series_description: first.series_description.clone(),
            modality: first.modality.clone(),
            width: base.width,
            height: base.height,
            storage_key: hq_key.clone(),
            thumbnail_key,
            thumbnail_bytes: Some(thumbnail_bytes),
            frames: vec![FrameEntry {
                path: first.path.clone(),
                frame: 0,
                hq_key,
                lq_key: Some(lq_key),
                width: size.0,
                height: size.1,
                hq_bytes,
                lq_bytes: Some(lq_bytes),
                sop_instance_uid: first.sop_instance_uid.clone(),
            }],
            video: None,
            window: None,
            hls: None,
            contact_sheet: None,
            nifti: None,
            labels: Vec::new(),
            label_sheet: None,
            crop: None,
            burned_in: None,
            slide: Some(entry),
        };
        Ok((item, written))
    }
}

/// The reader of the smallest level at least `width` wide (the largest when none is).
fn nearest<'r, 'a>(readers: &'r [LevelReader<'a>], width: u32) -> &'r LevelReader<'a> {
    readers
        .iter()
        .rev()
        .find(|r| r.level.width >= width)
        .unwrap_or(&readers[0])
}
