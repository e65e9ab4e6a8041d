//! Whole-slide images: which instances form one slide, its pyramid levels (largest first),
//! where each tile of a level lies, and its associated images (label, overview, thumbnail).
//! Pure code over the scanned headers; a slide is never ordered as slices.

use std::collections::BTreeMap;

use crate::scan::InstanceHeader;
use crate::scan::slide::{SlideHeader, WHOLE_SLIDE_CLASS};

/// Whether `header` is a slide-microscopy image (it is planned as a slide, not as slices).
pub fn is_slide(header: &InstanceHeader) -> bool {
    header.sop_class_uid.as_deref() == Some(WHOLE_SLIDE_CLASS)
}

/// Tile places a level may have: a 2,000,000 x 2,000,000 pixel slide in 256 x 256 tiles has
/// 61 million; a header asking for more is not believed (the grid is allocated).
const MAX_TILE_PLACES: u64 = 100_000_000;

/// One frame of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileRef {
    pub instance: usize,
    pub frame: u32,
}

/// One level of a slide's pyramid: a pixel matrix tiled by frames of one size.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub width: u32,
    pub height: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    /// The instances whose frames tile it (the parts of a concatenation, in order).
    pub instances: Vec<usize>,
    /// The tile at each grid place, row by row ([`Level::grid`] columns); `None`: missing
    /// (TILED_SPARSE), filled with the background.
    pub tiles: Vec<Option<TileRef>>,
    /// PixelSpacing (row, column), mm.
    pub pixel_spacing: Option<[f64; 2]>,
}

impl Level {
    /// Tiles across and down.
    pub fn grid(&self) -> (u32, u32) {
        (
            self.width.div_ceil(self.tile_width),
            self.height.div_ceil(self.tile_height),
        )
    }

    /// The tile at grid column `x`, row `y`.
    pub fn tile(&self, x: u32, y: u32) -> Option<TileRef> {
        let (columns, _) = self.grid();
        self.tiles
            .get(y as usize * columns as usize + x as usize)
            .copied()
            .flatten()
    }

    /// Grid places without a tile.
    pub fn missing(&self) -> usize {
        self.tiles.iter().filter(|t| t.is_none()).count()
    }
}

/// An image of the slide that is not part of its pyramid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Associated {
    /// A photograph of the glass's label: the patient's name, a barcode.
    Label(usize),
    /// A photograph of the whole glass (macro).
    Overview(usize),
    /// A small picture of the whole slide the scanner made.
    Thumbnail(usize),
}

/// One optical path at one focal plane: what one pyramid shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    /// OpticalPathIdentifier (none when the slide names none).
    pub optical_path: Option<String>,
    /// Which focal plane, from 0.
    pub focal_plane: u32,
    /// Its ZOffsetInSlideCoordinateSystem (µm), where frames give it (TILED_SPARSE).
    pub z_offset: Option<f64>,
}

/// A slide: the instances of one series and Frame of Reference, at one optical path and
/// focal plane (the first unless every plane is asked for).
#[derive(Debug, Clone, PartialEq)]
pub struct Slide {
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    /// `slide` for the first optical path at the first focal plane; `slide-pathP-planeZ`
    /// (1-based) for the others: the folder of its outputs within the series.
    pub id: String,
    /// The optical path shown.
    pub optical_path: Option<String>,
    pub plane: Plane,
    /// Largest first.
    pub levels: Vec<Level>,
    pub associated: Vec<Associated>,
    /// ObjectiveLensPower, where a level gives it.
    pub objective_power: Option<f64>,
    /// Every instance of the slide (levels and associated images), in source order.
    pub members: Vec<usize>,
}

/// The slides of a scan, and the slide instances that cannot be one (with the reason, by
/// instance).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlidePlan {
    /// By study and series UID.
    pub slides: Vec<Slide>,
    pub failed: Vec<(usize, String)>,
}

/// Groups the slide-microscopy instances of `instances` into slides (by study, series and
/// Frame of Reference) and lays out each level's tiles: the first optical path at the first
/// focal plane, or, with `every_plane`, one slide for each path at each plane.
pub fn plan_slides(instances: &[InstanceHeader], every_plane: bool) -> SlidePlan {
    let mut groups: BTreeMap<(&str, &str, &str), Vec<usize>> = BTreeMap::new();
    for (i, h) in instances.iter().enumerate() {
        if is_slide(h) {
            let key = (
                h.study_instance_uid.as_deref().unwrap_or(""),
                h.series_instance_uid.as_deref().unwrap_or(""),
                h.frame_of_reference_uid.as_deref().unwrap_or(""),
            );
            groups.entry(key).or_default().push(i);
        }
    }
    let mut plan = SlidePlan::default();
    for ((study, series, _), members) in groups {
        match slides(instances, study, series, &members, every_plane) {
            Ok(slides) => plan.slides.extend(slides),
            Err(reason) => plan
                .failed
                .extend(members.iter().map(|&i| (i, reason.clone()))),
        }
    }
    plan
}

/// The third value of ImageType: VOLUME, LABEL, OVERVIEW or THUMBNAIL.
fn flavour(h: &InstanceHeader) -> &str {
    h.image_type.get(2).map_or("VOLUME", String::as_str)
}

fn slides(
    instances: &[InstanceHeader],
    study: &str,
    series: &str,
    members: &[usize],
    every_plane: bool,
) -> Result<Vec<Slide>, String> {
    let header = |i: usize| -> Result<&SlideHeader, String> {
        instances[i]
            .slide
            .as_ref()
            .ok_or_else(|| format!("{}: no TotalPixelMatrixColumns/Rows", instances[i].path))
    };
    let volumes: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&i| flavour(&instances[i]) == "VOLUME")
        .collect();
    if volumes.is_empty() {
        return Err("a slide without VOLUME images: nothing to show".into());
    }
    for &i in &volumes {
        header(i)?;
    }
    let planes = planes(instances, &volumes);
    // Planes go path by path, each path at every focal plane.
    let per_path = planes
        .iter()
        .filter(|p| p.optical_path == planes[0].optical_path)
        .count()
        .max(1);
    let shown = if every_plane { planes.len() } else { 1 };
    let mut slides = Vec::with_capacity(shown);
    for (index, plane) in planes.into_iter().take(shown).enumerate() {
        // Levels by size, largest first; instances of other optical paths are left out.
        let mut by_size: BTreeMap<(std::cmp::Reverse<u32>, std::cmp::Reverse<u32>), Vec<usize>> =
            BTreeMap::new();
        for &i in &volumes {
            let h = header(i)?;
            let shows_path = h.optical_paths.is_empty()
                || plane
                    .optical_path
                    .as_ref()
                    .is_none_or(|p| h.optical_paths.contains(p));
            if shows_path {
                let key = (
                    std::cmp::Reverse(h.total_columns),
                    std::cmp::Reverse(h.total_rows),
                );
                by_size.entry(key).or_default().push(i);
            }
        }
        let mut levels = Vec::with_capacity(by_size.len());
        for parts in by_size.into_values() {
            levels.push(level(instances, parts, &plane)?);
        }
        check_sizes(&levels)?;
        let first = index == 0;
        // The associated images go with the first pyramid.
        let associated = members
            .iter()
            .filter(|_| first)
            .filter_map(|&i| match flavour(&instances[i]) {
                "LABEL" => Some(Associated::Label(i)),
                "OVERVIEW" => Some(Associated::Overview(i)),
                "THUMBNAIL" => Some(Associated::Thumbnail(i)),
                _ => None,
            })
            .collect();
        slides.push(Slide {
            study_instance_uid: study.to_string(),
            series_instance_uid: series.to_string(),
            id: if first {
                "slide".to_string()
            } else {
                format!(
                    "slide-path{}-plane{}",
                    index / per_path + 1,
                    plane.focal_plane + 1
                )
            },
            optical_path: plane.optical_path.clone(),
            plane,
            objective_power: volumes
                .iter()
                .find_map(|&i| instances[i].slide.as_ref()?.objective_power),
            levels,
            associated,
            members: if first {
                members.to_vec()
            } else {
                volumes.clone()
            },
        });
    }
    Ok(slides)
}

/// Every optical path at every focal plane of the slide, the first first: paths in the order
/// the headers name them, planes by their z offset (TILED_SPARSE) or their number.
fn planes(instances: &[InstanceHeader], volumes: &[usize]) -> Vec<Plane> {
    let mut paths: Vec<Option<String>> = Vec::new();
    let mut z_offsets: Vec<f64> = Vec::new();
    let mut counted = 1;
    for &i in volumes {
        let h = &instances[i];
        let Some(s) = &h.slide else { continue };
        let named = s.optical_paths.iter().cloned().map(Some);
        let framed = h.frames.iter().map(|f| f.optical_path.clone());
        for path in named.chain(framed) {
            if path.is_some() && !paths.contains(&path) {
                paths.push(path);
            }
        }
        for z in h.frames.iter().filter_map(|f| f.z_offset) {
            if !z_offsets.contains(&z) {
                z_offsets.push(z);
            }
        }
        counted = counted.max(s.focal_planes);
    }
    if paths.is_empty() {
        paths.push(None);
    }
    z_offsets.sort_by(f64::total_cmp);
    let focal: Vec<(u32, Option<f64>)> = if z_offsets.is_empty() {
        (0..counted).map(|p| (p, None)).collect()
    } else {
        (0u32..).zip(z_offsets.into_iter().map(Some)).collect()
    };
    paths
        .into_iter()
        .flat_map(|path| {
            focal.iter().map(move |&(focal_plane, z_offset)| Plane {
                optical_path: path.clone(),
                focal_plane,
                z_offset,
            })
        })
        .collect()
}

/// The level tiled by the frames of `parts` (one size): each frame of `plane` at its place.
fn level(
    instances: &[InstanceHeader],
    mut parts: Vec<usize>,
    plane: &Plane,
) -> Result<Level, String> {
    let optical_path = plane.optical_path.as_deref();
    let order = |i: &usize| {
        let h = &instances[*i];
        let c = h.slide.as_ref().and_then(|s| s.concatenation.as_ref());
        (c.map_or(0, |c| c.number), h.path.clone())
    };
    parts.sort_by_key(order);
    let first = &instances[parts[0]];
    let slide = first.slide.as_ref().ok_or("no total pixel matrix")?;
    let (width, height) = (slide.total_columns, slide.total_rows);
    let (tile_width, tile_height) = match first.size() {
        Some((rows, columns)) if rows > 0 && columns > 0 => (u32::from(columns), u32::from(rows)),
        _ => return Err(format!("{}: no tile size (Rows, Columns)", first.path)),
    };
    if width == 0 || height == 0 {
        return Err(format!("{}: an empty total pixel matrix", first.path));
    }
    let mut level = Level {
        width,
        height,
        tile_width,
        tile_height,
        instances: parts.clone(),
        tiles: Vec::new(),
        pixel_spacing: first.pixel_spacing,
    };
    let (columns, rows) = level.grid();
    let places = u64::from(columns) * u64::from(rows);
    if places > MAX_TILE_PLACES {
        return Err(format!(
            "{}: a {width}x{height} matrix in {tile_width}x{tile_height} tiles has {places} tile places, more than any slide ({MAX_TILE_PLACES})",
            first.path
        ));
    }
    level.tiles = vec![None; places as usize];
    for &i in &parts {
        let h = &instances[i];
        if h.size() != first.size() {
            return Err(format!(
                "{}: tiles of another size than {}'s in one level",
                h.path, first.path
            ));
        }
        let s = h.slide.as_ref().ok_or("no total pixel matrix")?;
        if (s.total_columns, s.total_rows) != (width, height) {
            return Err(format!("{}: another total pixel matrix", h.path));
        }
        let sparse = s.organization.as_deref() == Some("TILED_SPARSE")
            || (s.organization.is_none() && h.frames.iter().any(|f| f.slide_position.is_some()));
        let offset = s.concatenation.as_ref().map_or(0, |c| c.frame_offset);
        // TILED_FULL frames go row by row, then focal plane, then optical path: this plane's
        // are those of its number and of its path's place in the instance's paths. (A sparse
        // frame without a position fails the level at the first one.)
        let focal_planes = u64::from(s.focal_planes.max(1));
        let path_index = optical_path
            .and_then(|p| s.optical_paths.iter().position(|q| q == p))
            .unwrap_or(0) as u64;
        let frames = if sparse {
            h.number_of_frames
        } else {
            let paths = s.optical_paths.len().max(1) as u64;
            let room = (places * focal_planes * paths).saturating_sub(u64::from(offset));
            h.number_of_frames
                .min(u32::try_from(room).unwrap_or(u32::MAX))
        };
        for frame in 0..frames {
            let place = if sparse {
                let Some(f) = h.frames.get(frame as usize) else {
                    return Err(format!(
                        "{}: TILED_SPARSE without a position for frame {frame}",
                        h.path
                    ));
                };
                if f.optical_path
                    .as_deref()
                    .is_some_and(|p| Some(p) != optical_path)
                    || f.z_offset.is_some_and(|z| Some(z) != plane.z_offset)
                {
                    continue;
                }
                let [x, y] = f.slide_position.ok_or_else(|| {
                    format!(
                        "{}: frame {frame} has no position in the pixel matrix",
                        h.path
                    )
                })?;
                sparse_place(&level, x, y).ok_or_else(|| {
                    format!(
                        "{}: frame {frame} at ({x}, {y}) is not a tile of the {width}x{height} matrix",
                        h.path
                    )
                })?
            } else {
                let index = u64::from(offset) + u64::from(frame);
                let (place, stack) = (index % places, index / places);
                if stack % focal_planes != u64::from(plane.focal_plane)
                    || stack / focal_planes != path_index
                {
                    continue;
                }
                place as usize
            };
            let slot = &mut level.tiles[place];
            if slot.is_none() {
                *slot = Some(TileRef { instance: i, frame });
            }
        }
    }
    Ok(level)
}

/// The grid place of a sparse tile whose first pixel is at column `x`, row `y` (1-based).
fn sparse_place(level: &Level, x: i32, y: i32) -> Option<usize> {
    let (x, y) = (u32::try_from(x - 1).ok()?, u32::try_from(y - 1).ok()?);
    if !x.is_multiple_of(level.tile_width) || !y.is_multiple_of(level.tile_height) {
        return None;
    }
    let (columns, rows) = level.grid();
    let (gx, gy) = (x / level.tile_width, y / level.tile_height);
    (gx < columns && gy < rows).then(|| gy as usize * columns as usize + gx as usize)
}

/// Levels must be one picture at several scales: each as wide, relative to its height, as
/// the largest (within a tile's rounding).
fn check_sizes(levels: &[Level]) -> Result<(), String> {
    let Some(base) = levels.first() else {
        return Err("a slide without levels".into());
    };
    for level in &levels[1..] {
        let scale = f64::from(base.width) / f64::from(level.width);
        let expected = f64::from(base.height) / scale;
        if (expected - f64::from(level.height)).abs() > 1.0 + f64::from(level.tile_height) / 4.0 {
            return Err(format!(
                "levels disagree on size: {}x{} is not the {}x{} slide at 1/{scale:.2}",
                level.width, level.height, base.width, base.height
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
