//! CSA headers of real Siemens files (curated in test-data/), checked against what dcm2niix
//! wrote for the same series (the Ref JSON sidecars) and against the files' own ASCCONV text.

use super::*;
use crate::scan::reader::HeaderTree;
use proptest::prelude::*;

const NIH_AP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/test-data/dcm_qa_nih/In/20180918Si/mr_0003/epi_pe_ap-00001.dcm"
);
const NIH_RL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/test-data/dcm_qa_nih/In/20180918Si/mr_0005/epi_pe_rl-00001.dcm"
);
const TRIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/test-data/dcm_qa_ts/In/1.dcm");

/// The header of a test file (kept for the test's lifetime).
fn open(path: &str) -> Dataset<'static> {
    let bytes = std::fs::read(path).expect("test file opens");
    let tree = HeaderTree::parse(bytes.into()).expect("test file parses");
    Box::leak(Box::new(tree)).root()
}

#[test]
fn mosaic_image_header_gives_what_dcm2niix_reports() {
    let obj = open(NIH_AP);
    let csa = from_dataset(&obj, Which::Image).expect("SV10 image header");
    // Ref/EPI_PE=AP_3.json: 5 slices, "SliceTiming": [0, 1.45, 0.4825, 1.9325, 0.9675].
    assert_eq!(csa.number_of_images_in_mosaic(), Some(5));
    let times = csa.mosaic_ref_acq_times();
    let expected = [0.0, 1450.0, 482.5, 1932.5, 967.5];
    assert_eq!(times.len(), expected.len());
    assert!(
        times
            .iter()
            .zip(expected)
            .all(|(a, b)| (a - b).abs() < 1e-6),
        "{times:?}"
    );
    // "PhaseEncodingDirection": "j-" (positive in DICOM rows, which the NIfTI stores flipped)
    // and "BandwidthPerPixelPhaseEncode": 27.778.
    assert_eq!(csa.phase_encoding_direction_positive(), Some(true));
    assert_eq!(csa.bandwidth_per_pixel_phase_encode(), Some(27.778));
    let normal = csa.slice_normal_vector().expect("slice normal");
    assert!((normal[2] - 1.0).abs() < 1e-6, "{normal:?}");
    assert_eq!(csa.b_value(), None);
    assert_eq!(csa.diffusion_gradient_direction(), None);
    assert!(csa.get("ImageType").is_none() || csa.names().count() > 50);
}

#[test]
fn phase_direction_sign_follows_the_series() {
    // Ref/EPI_PE=RL_5.json: "PhaseEncodingDirection": "i" (positive).
    let csa = from_dataset(&open(NIH_RL), Which::Image).unwrap();
    assert_eq!(csa.phase_encoding_direction_positive(), Some(true));
}

#[test]
fn series_header_holds_the_ascconv_protocol() {
    let obj = open(NIH_AP);
    let series = from_dataset(&obj, Which::Series).expect("SV10 series header");
    let phoenix = series.get("MrPhoenixProtocol").expect("MrPhoenixProtocol")[0].clone();
    let asc = ascconv(phoenix);
    assert_eq!(asc.get("tProtocolName"), Some("\"\"EPI PE=AP\"\""));
    assert_eq!(asc.get("sSliceArray.ucMode"), Some("4"));
    assert_eq!(asc.get("sKSpace.lBaseResolution"), Some("72"));
    assert_eq!(asc.get("sKSpace.ucPhasePartialFourier"), Some("16"));
    assert_eq!(asc.get("sPat.lAccelFactPE"), Some("1"));
    assert!(!asc.keys().any(|k| k.contains("ASCCONV")));
}

#[test]
fn trio_mosaic_headers_parse() {
    let obj = open(TRIO);
    let image = from_dataset(&obj, Which::Image).expect("image header");
    // ImageType ORIGINAL\\PRIMARY\\M\\ND\\MOSAIC: 35 tiles.
    assert_eq!(image.number_of_images_in_mosaic(), Some(35));
    assert!(image.slice_normal_vector().is_some());
    let series = from_dataset(&obj, Which::Series).expect("series header");
    let phoenix = series.get("MrPhoenixProtocol").unwrap()[0].clone();
    assert!(ascconv(phoenix).get("sKSpace.lBaseResolution").is_some());
}

#[test]
fn old_layout_without_magic_reads_like_sv10() {
    // The old layout is the SV10 layout without its first 8 bytes: build one from a real
    // header (no such file is in dcm2niix's suites).
    let ds = open(NIH_AP);
    let raw = raw_from_dataset(&ds, Which::Image).unwrap();
    let new = parse(raw).unwrap();
    let old = parse(&raw[8..]).unwrap();
    assert_eq!(new, old);
}

#[test]
fn ascconv_strips_comments_and_keeps_first_of_repeats() {
    let text = "junk\n### ASCCONV BEGIN @Checksum=x ###\na.b\t = \t3 # note\nc = \"\"x#y\"\"\n\
                ### ASCCONV END ###\n### ASCCONV BEGIN ###\na.b = 9\nd = 1\n### ASCCONV END ###";
    let asc = ascconv(text.to_string());
    assert_eq!(asc.get("a.b"), Some("3"));
    assert_eq!(asc.get("c"), Some("\"\"x#y\"\""));
    assert_eq!(asc.get("d"), Some("1"));
    assert_eq!(asc.keys().collect::<Vec<_>>(), ["a.b", "c", "a.b", "d"]);
    assert!(ascconv("no block here".to_string()).is_empty());
}

#[test]
fn truncated_real_headers_never_panic() {
    let ds = open(NIH_AP);
    let raw = raw_from_dataset(&ds, Which::Image).unwrap();
    for cut in (0..raw.len()).step_by(7) {
        let _ = parse(&raw[..cut]);
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn random_bytes_behind_the_magic_never_panic(
        n in 0u32..2000, body in proptest::collection::vec(any::<u8>(), 0..4096)
    ) {
        let mut bytes = b"SV10\x04\x03\x02\x01".to_vec();
        bytes.extend_from_slice(&n.to_le_bytes());
        bytes.extend_from_slice(&77u32.to_le_bytes());
        bytes.extend_from_slice(&body);
        if let Some(csa) = parse(&bytes) {
            // Every value came from the input: their total size cannot exceed it.
            let total: usize = csa.names().map(|k| csa.get(k).map_or(0, |v| v.iter().map(String::len).sum())).sum();
            prop_assert!(total <= bytes.len());
        }
    }

    #[test]
    fn ascconv_never_panics(text in "(### ASCCONV (BEGIN|END) ###|[a-z.=#\" \n]){0,40}") {
        let _ = ascconv(text);
    }
}

#[test]
fn a_parse_of_wanted_elements_reads_them_as_the_whole_parse_does_and_nothing_else() {
    let obj = open(NIH_AP);
    let bytes = raw_from_dataset(&obj, Which::Image).expect("image header bytes");
    let whole = parse(bytes).unwrap();
    let wanted = crate::scan::mosaic::CSA_ELEMENTS;
    let some = parse_wanted(bytes, wanted).unwrap();
    assert_eq!(some.names().collect::<Vec<_>>(), {
        let mut names = wanted.to_vec();
        names.sort_unstable();
        names
    });
    for name in wanted {
        assert_eq!(some.get(name), whole.get(name), "{name}");
    }
    assert!(whole.names().count() > 50);
}

#[test]
fn the_protocol_read_in_place_reads_as_its_parsed_copy() {
    for path in [NIH_AP, TRIO] {
        let obj = open(path);
        let raw = raw_from_dataset(&obj, Which::Series).expect("series header");
        let copied = parse(raw)
            .unwrap()
            .get("MrPhoenixProtocol")
            .unwrap()
            .join("");
        let copied = ascconv(copied);
        let in_place = protocol_ascconv(raw).expect("ASCCONV lines");
        assert!(matches!(in_place.text, Cow::Borrowed(_)), "{path}");
        let keys: Vec<&str> = copied.keys().collect();
        assert!(keys.len() > 500, "{path}: {}", keys.len());
        assert_eq!(in_place.keys().collect::<Vec<_>>(), keys);
        for key in keys {
            assert_eq!(in_place.get(key), copied.get(key), "{path}: {key}");
        }
    }
}

#[test]
fn a_key_is_found_only_where_it_is_a_whole_key() {
    let text = "### ASCCONV BEGIN ###\nx = a.b\na.b.c = 1\n  a.b\t= 2\nwith space = 3\n\
                ### ASCCONV END ###";
    let asc = ascconv(text);
    assert_eq!(asc.get("a.b"), Some("2"));
    assert_eq!(asc.get("a.b.c"), Some("1"));
    assert_eq!(asc.get("space"), None);
    assert_eq!(asc.get("with space"), None);
    assert_eq!(asc.get(""), None);
    assert_eq!(asc.get("BEGIN"), None);
}
