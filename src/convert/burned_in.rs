//! `--burned-in crop|skip|keep`: what a conversion does with pixels that may carry the
//! patient's name. Pure rules over the scanned headers: which instances are left out (with
//! the reason), which part of a frame the pictures show, and what an item says about it.

use std::borrow::Cow;

use crate::contract::FileIssue;
use crate::contract::manifest::{BurnedIn, Crop};
use crate::order::SliceRef;
use crate::order::slide::is_slide;
use crate::scan::burned_in::is_non_acquisition;
use crate::scan::{InstanceHeader, LabelClass, ScanReport};

/// The reason report.json gives for an instance left out by these rules.
pub const SKIP_REASON: &str = "burned-in annotation";
/// The reason for a slide's label image, left out unless `--slide-label keep`.
pub const SLIDE_LABEL_REASON: &str = "slide label: a photograph of the glass's label (the patient's name, a barcode); --slide-label keep writes it";

/// What to do with images that carry burned-in text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BurnedInChoice {
    /// Ultrasound with regions is cut to their union; other instances that declare
    /// BurnedInAnnotation YES are skipped.
    #[default]
    Crop,
    /// As `Crop`, and every instance that declares YES is skipped, regions or not.
    Skip,
    /// Everything is rendered whole.
    Keep,
}

impl BurnedInChoice {
    /// The name `--burned-in` and the manifest's settings use.
    pub fn name(self) -> &'static str {
        match self {
            BurnedInChoice::Crop => "crop",
            BurnedInChoice::Skip => "skip",
            BurnedInChoice::Keep => "keep",
        }
    }

    /// The choice of that name.
    pub fn from_name(name: &str) -> Option<BurnedInChoice> {
        [
            BurnedInChoice::Crop,
            BurnedInChoice::Skip,
            BurnedInChoice::Keep,
        ]
        .into_iter()
        .find(|c| c.name() == name)
    }
}

/// The part of `header`'s frames its pictures show: the union of its ultrasound regions within
/// the frame; `None` when nothing is cut (no regions, regions covering the frame, or `Keep`).
pub fn crop_of(header: &InstanceHeader, choice: BurnedInChoice) -> Option<Crop> {
    if choice == BurnedInChoice::Keep {
        return None;
    }
    let (rows, columns) = header.size()?;
    regions_in_frame(header)
        .filter(|c| (c.width, c.height) != (u32::from(columns), u32::from(rows)))
}

/// The union of `header`'s ultrasound regions within its frame; `None` without regions, or
/// when they lie outside the frame.
fn regions_in_frame(header: &InstanceHeader) -> Option<Crop> {
    let (rows, columns) = header.size()?;
    let (last_x, last_y) = (
        u32::from(columns).checked_sub(1)?,
        u32::from(rows).checked_sub(1)?,
    );
    let regions = &header.ultrasound_regions;
    let x0 = regions.iter().map(|r| r.min_x).min()?;
    let y0 = regions.iter().map(|r| r.min_y).min()?;
    let x1 = regions.iter().map(|r| r.max_x).max()?.min(last_x);
    let y1 = regions.iter().map(|r| r.max_y).max()?.min(last_y);
    (x0 <= x1 && y0 <= y1).then(|| Crop {
        x: x0,
        y: y0,
        width: x1 - x0 + 1,
        height: y1 - y0 + 1,
    })
}

/// Whether `header` declares burned-in text.
fn declares(header: &InstanceHeader) -> bool {
    header.burned_in_annotation == Some(true)
}

/// Whether the choice leaves `header` out: under `Crop` when it declares YES and has no
/// region to cut to, under `Skip` whenever it declares YES. Label objects are never left out.
pub fn leaves_out(header: &InstanceHeader, choice: BurnedInChoice) -> bool {
    if LabelClass::of(header.sop_class_uid.as_deref()).is_some() || !declares(header) {
        return false;
    }
    match choice {
        BurnedInChoice::Keep => false,
        BurnedInChoice::Skip => true,
        BurnedInChoice::Crop => regions_in_frame(header).is_none(),
    }
}

/// Why `header` is left out: burned-in text that `choice` does not cut away, or a slide's
/// label image unless `slide_labels` keeps them.
pub fn left_out_because(
    header: &InstanceHeader,
    choice: BurnedInChoice,
    slide_labels: bool,
) -> Option<&'static str> {
    if !slide_labels && is_slide(header) && header.image_type.get(2).is_some_and(|t| t == "LABEL") {
        Some(SLIDE_LABEL_REASON)
    } else if leaves_out(header, choice) {
        Some(SKIP_REASON)
    } else {
        None
    }
}

/// `scan` with the instances left out ([`left_out_because`]) moved to its skipped inputs
/// (sorted by path, with the reason); borrowed as it is when none is.
pub fn screen(
    scan: &ScanReport,
    choice: BurnedInChoice,
    slide_labels: bool,
) -> Cow<'_, ScanReport> {
    let reason = |h: &InstanceHeader| left_out_because(h, choice, slide_labels);
    if !scan.instances.iter().any(|h| reason(h).is_some()) {
        return Cow::Borrowed(scan);
    }
    let mut skipped = scan.skipped.clone();
    let mut instances = Vec::with_capacity(scan.instances.len());
    for h in &scan.instances {
        match reason(h) {
            Some(reason) => skipped.push(FileIssue {
                path: h.path.clone(),
                reason: reason.into(),
            }),
            None => instances.push(h.clone()),
        }
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Cow::Owned(ScanReport {
        instances,
        skipped,
        failed: scan.failed.clone(),
    })
}

/// How many images declare burned-in text and are rendered whole (`Keep`'s summary).
pub fn kept_declared(scan: &ScanReport, choice: BurnedInChoice) -> usize {
    if choice != BurnedInChoice::Keep {
        return 0;
    }
    scan.instances
        .iter()
        .filter(|h| declares(h) && LabelClass::of(h.sop_class_uid.as_deref()).is_none())
        .count()
}

/// The crop of a volume's pictures: the union of its instances' crops (one size for every
/// frame of a video).
pub fn volume_crop(
    instances: &[InstanceHeader],
    slices: &[SliceRef],
    choice: BurnedInChoice,
) -> Option<Crop> {
    slices
        .iter()
        .filter_map(|s| crop_of(&instances[s.instance], choice))
        .reduce(|a, b| {
            let (x, y) = (a.x.min(b.x), a.y.min(b.y));
            Crop {
                x,
                y,
                width: (a.x + a.width).max(b.x + b.width) - x,
                height: (a.y + a.height).max(b.y + b.height) - y,
            }
        })
}

/// `instances` with the headers of `slices` cut to `crop`: their size, and their positions
/// (and their frames') moved to the crop's first pixel, so that volumes built from the
/// cropped frames keep their place in the patient.
pub fn cropped_headers(
    instances: &[InstanceHeader],
    slices: &[SliceRef],
    crop: Crop,
) -> Vec<InstanceHeader> {
    let mut out = instances.to_vec();
    let mut done = vec![false; instances.len()];
    for s in slices {
        if std::mem::replace(&mut done[s.instance], true) {
            continue;
        }
        let h = &mut out[s.instance];
        let spacing = h.pixel_spacing.unwrap_or([1.0, 1.0]);
        let shift = |orientation: Option<[f64; 6]>, position: &mut Option<[f64; 3]>| {
            if let (Some(o), Some(p)) = (orientation, position.as_mut()) {
                for k in 0..3 {
                    p[k] += o[k] * spacing[1] * f64::from(crop.x)
                        + o[k + 3] * spacing[0] * f64::from(crop.y);
                }
            }
        };
        let orientation = h.image_orientation_patient;
        shift(orientation, &mut h.image_position_patient);
        for frame in &mut h.frames {
            shift(
                frame.image_orientation_patient.or(orientation),
                &mut frame.image_position_patient,
            );
        }
        h.columns = u16::try_from(crop.width).ok();
        h.rows = u16::try_from(crop.height).ok();
    }
    out
}

/// What an item made of `slices` says about burned-in text, cut to `crop`.
pub fn item_note(
    instances: &[InstanceHeader],
    slices: &[SliceRef],
    crop: Option<Crop>,
    choice: BurnedInChoice,
) -> Option<BurnedIn> {
    let headers = || slices.iter().map(|s| &instances[s.instance]);
    if crop.is_some() {
        Some(BurnedIn::Cropped)
    } else if choice == BurnedInChoice::Keep && headers().any(declares) {
        Some(BurnedIn::Kept)
    } else if headers().any(|h| {
        h.burned_in_annotation.is_none()
            && is_non_acquisition(h.sop_class_uid.as_deref(), h.modality.as_deref())
    }) {
        Some(BurnedIn::Undeclared)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::burned_in::Region;

    fn header(path: &str, declared: Option<bool>, regions: &[[u32; 4]]) -> InstanceHeader {
        InstanceHeader {
            path: path.into(),
            rows: Some(350),
            columns: Some(800),
            modality: Some("US".into()),
            burned_in_annotation: declared,
            ultrasound_regions: regions
                .iter()
                .map(|&[min_x, min_y, max_x, max_y]| Region {
                    min_x,
                    min_y,
                    max_x,
                    max_y,
                })
                .collect(),
            ..InstanceHeader::default()
        }
    }

    #[test]
    fn the_crop_is_the_union_of_the_regions_within_the_frame() {
        // examples_palette.dcm: two regions, both running past its 350 rows.
        let h = header("a", None, &[[120, 60, 800, 518], [176, 522, 743, 576]]);
        let crop = Crop {
            x: 120,
            y: 60,
            width: 680,
            height: 290,
        };
        assert_eq!(crop_of(&h, BurnedInChoice::Crop), Some(crop));
        assert_eq!(crop_of(&h, BurnedInChoice::Skip), Some(crop));
        assert_eq!(crop_of(&h, BurnedInChoice::Keep), None);
        // Regions covering the frame, or lying wholly outside it, cut nothing.
        assert_eq!(
            crop_of(
                &header("b", None, &[[0, 0, 799, 349]]),
                BurnedInChoice::Crop
            ),
            None
        );
        assert_eq!(
            crop_of(
                &header("c", None, &[[900, 0, 999, 9]]),
                BurnedInChoice::Crop
            ),
            None
        );
        assert_eq!(crop_of(&header("d", None, &[]), BurnedInChoice::Crop), None);
    }

    #[test]
    fn declared_text_without_regions_is_left_out_unless_kept() {
        let scan = ScanReport {
            instances: vec![
                header("a-yes-regions", Some(true), &[[10, 20, 100, 200]]),
                header("b-yes", Some(true), &[]),
                header("c-no", Some(false), &[]),
                header("d-undeclared", None, &[]),
                header("e-yes-outside", Some(true), &[[900, 0, 999, 9]]),
            ],
            skipped: vec![FileIssue {
                path: "0-readme".into(),
                reason: "not DICOM".into(),
            }],
            failed: Vec::new(),
        };
        let paths = |s: &ScanReport| -> (Vec<String>, Vec<String>) {
            (
                s.instances.iter().map(|h| h.path.clone()).collect(),
                s.skipped.iter().map(|i| i.path.clone()).collect(),
            )
        };
        let crop = screen(&scan, BurnedInChoice::Crop, false);
        assert_eq!(
            paths(&crop),
            (
                vec!["a-yes-regions".into(), "c-no".into(), "d-undeclared".into()],
                vec!["0-readme".into(), "b-yes".into(), "e-yes-outside".into()]
            )
        );
        assert_eq!(crop.skipped[1].reason, SKIP_REASON);
        let skip = screen(&scan, BurnedInChoice::Skip, false);
        assert_eq!(paths(&skip).0, ["c-no", "d-undeclared"]);
        assert!(matches!(
            screen(&scan, BurnedInChoice::Keep, false),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            screen(&crop, BurnedInChoice::Crop, false),
            Cow::Borrowed(_)
        ));
        assert_eq!(kept_declared(&scan, BurnedInChoice::Keep), 3);
        assert_eq!(kept_declared(&scan, BurnedInChoice::Crop), 0);
    }

    #[test]
    fn a_volume_is_cut_to_the_union_of_its_crops_and_says_so() {
        let instances = vec![
            header("a", None, &[[100, 50, 199, 149]]),
            header("b", None, &[[150, 20, 299, 99]]),
            InstanceHeader {
                sop_class_uid: Some("1.2.840.10008.5.1.4.1.1.7".into()),
                ..header("sc", None, &[])
            },
        ];
        let slices = [0, 1].map(|instance| SliceRef { instance, frame: 0 });
        let crop = volume_crop(&instances, &slices, BurnedInChoice::Crop);
        assert_eq!(
            crop,
            Some(Crop {
                x: 100,
                y: 20,
                width: 200,
                height: 130
            })
        );
        let choice = BurnedInChoice::Crop;
        assert_eq!(
            item_note(&instances, &slices, crop, choice),
            Some(BurnedIn::Cropped)
        );
        let sc = [SliceRef {
            instance: 2,
            frame: 0,
        }];
        assert_eq!(
            item_note(&instances, &sc, None, choice),
            Some(BurnedIn::Undeclared)
        );
        assert_eq!(item_note(&instances, &slices, None, choice), None);
        let declared = vec![header("y", Some(true), &[])];
        let one = [SliceRef {
            instance: 0,
            frame: 0,
        }];
        let keep = BurnedInChoice::Keep;
        assert_eq!(item_note(&declared, &one, None, keep), Some(BurnedIn::Kept));
    }

    #[test]
    fn cropped_headers_start_at_the_crops_first_pixel() {
        let mut h = header("a", None, &[]);
        h.image_position_patient = Some([10.0, 20.0, 30.0]);
        // Rows run along -z, columns along +y; rows 0.5 mm apart, columns 0.25 mm.
        h.image_orientation_patient = Some([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
        h.pixel_spacing = Some([0.5, 0.25]);
        let other = header("b", None, &[]);
        let crop = Crop {
            x: 8,
            y: 4,
            width: 100,
            height: 50,
        };
        let slices = [SliceRef {
            instance: 0,
            frame: 0,
        }];
        let out = cropped_headers(&[h, other.clone()], &slices, crop);
        assert_eq!(out[0].image_position_patient, Some([10.0, 22.0, 28.0]));
        assert_eq!(out[0].size(), Some((50, 100)));
        assert_eq!(out[1], other);
    }
}
