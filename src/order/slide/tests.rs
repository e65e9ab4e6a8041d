use super::*;
use crate::scan::FrameHeader;
use crate::scan::slide::Concatenation;

/// A VOLUME instance of a `width` x `height` matrix in `tile`-pixel tiles.
fn volume(path: &str, width: u32, height: u32, tile: u16, frames: u32) -> InstanceHeader {
    InstanceHeader {
        path: path.into(),
        sop_class_uid: Some(WHOLE_SLIDE_CLASS.into()),
        study_instance_uid: Some("1.2".into()),
        series_instance_uid: Some("1.2.3".into()),
        frame_of_reference_uid: Some("1.2.4".into()),
        image_type: ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
            .map(String::from)
            .to_vec(),
        rows: Some(tile),
        columns: Some(tile),
        number_of_frames: frames,
        slide: Some(SlideHeader {
            total_columns: width,
            total_rows: height,
            organization: Some("TILED_FULL".into()),
            focal_planes: 1,
            optical_paths: vec!["1".into()],
            objective_power: Some(20.0),
            concatenation: None,
        }),
        ..InstanceHeader::default()
    }
}

fn sparse(mut h: InstanceHeader, positions: &[[i32; 2]]) -> InstanceHeader {
    h.slide.as_mut().unwrap().organization = Some("TILED_SPARSE".into());
    h.number_of_frames = positions.len() as u32;
    h.frames = positions
        .iter()
        .map(|&p| FrameHeader {
            slide_position: Some(p),
            optical_path: Some("1".into()),
            z_offset: Some(0.0),
            ..FrameHeader::default()
        })
        .collect();
    h
}

#[test]
fn levels_are_ordered_largest_first_and_tiled_full_fills_row_by_row() {
    // highdicom's sm_image.dcm: 50 x 50 in 25 tiles of 10 x 10; a level of it at half
    // size that does not halve exactly (25 -> 3 x 3 tiles of 10, the last ones cut).
    let mut label = volume("label.dcm", 40, 20, 20, 1);
    label.image_type[2] = "LABEL".into();
    let instances = vec![
        volume("half.dcm", 25, 25, 10, 9),
        volume("full.dcm", 50, 50, 10, 25),
        label,
    ];
    let plan = plan_slides(&instances, false);
    assert!(plan.failed.is_empty(), "{:?}", plan.failed);
    let slide = &plan.slides[0];
    let sizes: Vec<(u32, u32)> = slide.levels.iter().map(|l| (l.width, l.height)).collect();
    assert_eq!(sizes, [(50, 50), (25, 25)]);
    let level = &slide.levels[0];
    assert_eq!(level.grid(), (5, 5));
    assert_eq!(
        level.tile(3, 1),
        Some(TileRef {
            instance: 1,
            frame: 8
        })
    );
    assert_eq!(level.missing(), 0);
    assert_eq!(slide.levels[1].grid(), (3, 3));
    assert_eq!(slide.associated, [Associated::Label(2)]);
    assert_eq!(slide.objective_power, Some(20.0));
}

#[test]
fn sparse_tiles_go_where_their_positions_say_and_gaps_are_missing() {
    let h = sparse(volume("s.dcm", 30, 20, 10, 0), &[[21, 11], [1, 1], [11, 1]]);
    let plan = plan_slides(&[h], false);
    let level = &plan.slides[0].levels[0];
    assert_eq!(
        level.tile(2, 1),
        Some(TileRef {
            instance: 0,
            frame: 0
        })
    );
    assert_eq!(
        level.tile(0, 0),
        Some(TileRef {
            instance: 0,
            frame: 1
        })
    );
    assert_eq!(level.tile(0, 1), None);
    assert_eq!(level.missing(), 3);
}

#[test]
fn concatenated_parts_continue_each_others_frames() {
    let part = |path: &str, number: u32, offset: u32, frames: u32| {
        let mut h = volume(path, 40, 10, 10, frames);
        h.slide.as_mut().unwrap().concatenation = Some(Concatenation {
            uid: "9.9".into(),
            number,
            frame_offset: offset,
        });
        h
    };
    let plan = plan_slides(&[part("b.dcm", 2, 3, 1), part("a.dcm", 1, 0, 3)], false);
    let level = &plan.slides[0].levels[0];
    assert_eq!(level.instances, [1, 0]);
    assert_eq!(
        level.tile(3, 0),
        Some(TileRef {
            instance: 0,
            frame: 0
        })
    );
    assert_eq!(
        level.tile(2, 0),
        Some(TileRef {
            instance: 1,
            frame: 2
        })
    );
}

#[test]
fn every_optical_path_at_every_focal_plane_when_asked() {
    // TILED_FULL: 2 places, 2 focal planes, 2 optical paths: frames by place, then plane,
    // then path.
    let mut h = volume("f.dcm", 20, 10, 10, 8);
    let slide = h.slide.as_mut().unwrap();
    slide.focal_planes = 2;
    slide.optical_paths = vec!["a".into(), "b".into()];
    let first = plan_slides(std::slice::from_ref(&h), false);
    assert_eq!(first.slides.len(), 1);
    let all = plan_slides(&[h], true);
    let ids: Vec<&str> = all.slides.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "slide",
            "slide-path1-plane2",
            "slide-path2-plane1",
            "slide-path2-plane2"
        ]
    );
    let frames =
        |s: &Slide| -> Vec<u32> { s.levels[0].tiles.iter().map(|t| t.unwrap().frame).collect() };
    assert_eq!(frames(&all.slides[0]), [0, 1]);
    assert_eq!(frames(&all.slides[1]), [2, 3]);
    assert_eq!(frames(&all.slides[3]), [6, 7]);
    assert_eq!(all.slides[3].optical_path.as_deref(), Some("b"));

    // TILED_SPARSE: planes by z offset.
    let mut h = sparse(
        volume("s.dcm", 20, 10, 10, 0),
        &[[1, 1], [11, 1], [1, 1], [11, 1]],
    );
    for (f, z) in h.frames.iter_mut().zip([0.0, 0.0, 1.5, 1.5]) {
        f.z_offset = Some(z);
    }
    let all = plan_slides(&[h], true);
    assert_eq!(all.slides.len(), 2);
    assert_eq!(all.slides[1].plane.z_offset, Some(1.5));
    assert_eq!(frames(&all.slides[1]), [2, 3]);
    assert_eq!(
        all.slides[1].members,
        [0],
        "the second pyramid has no associated images"
    );
}

#[test]
fn tiles_outside_the_matrix_and_levels_of_another_picture_fail_the_slide() {
    let outside = sparse(volume("o.dcm", 30, 20, 10, 0), &[[31, 1]]);
    let plan = plan_slides(&[outside], false);
    assert!(plan.slides.is_empty());
    assert!(
        plan.failed[0].1.contains("not a tile of the 30x20 matrix"),
        "{:?}",
        plan.failed
    );
    let unaligned = sparse(volume("u.dcm", 30, 20, 10, 0), &[[5, 1]]);
    assert!(!plan_slides(&[unaligned], false).failed.is_empty());

    let huge = volume("h.dcm", u32::MAX, u32::MAX, 1, 1);
    assert!(
        plan_slides(&[huge], false).failed[0]
            .1
            .contains("tile places")
    );

    let plan = plan_slides(
        &[
            volume("a.dcm", 1000, 1000, 100, 100),
            volume("b.dcm", 500, 100, 100, 5),
        ],
        false,
    );
    assert!(
        plan.failed[0].1.starts_with("levels disagree on size"),
        "{:?}",
        plan.failed
    );
    assert_eq!(plan.failed.len(), 2, "every instance of the slide fails");
}
