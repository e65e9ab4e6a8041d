use dicomprep::synth::{Layout, SynthOptions, generate};

use crate::util::{data, order};

/// A generated study (random names, two series, IDC layout) orders exactly as its ground truth.
#[test]
fn generated_study_orders_as_its_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let options = SynthOptions {
        template: data("pydicom/CT_small.dcm"),
        out: out.clone(),
        slices: 40,
        series: 2,
        layout: Layout::SeriesFolders,
        seed: 7,
    };
    let truth = generate(&options).unwrap();
    assert_eq!(truth.series.len(), 2);
    assert!(dicomprep::synth::truth_path(&out).exists());

    let (report, _) = order(&out, &[]);
    assert!(report.failed.is_empty() && report.skipped.is_empty());
    for expected in &truth.series {
        let series = report
            .series
            .iter()
            .find(|s| s.series_instance_uid == expected.series_instance_uid)
            .unwrap();
        assert_eq!(series.volumes.len(), 1);
        let paths: Vec<&str> = series.volumes[0]
            .slices
            .iter()
            .map(|s| s.path.as_str())
            .collect();
        assert_eq!(
            paths,
            expected
                .paths
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        assert!(
            paths.iter().all(|p| p.len() == 36 + 1 + 36 + 4),
            "<series_uuid>/<uuid>.dcm: {paths:?}"
        );
    }

    // Same seed, same study.
    let again = generate(&SynthOptions {
        out: dir.path().join("again"),
        ..options
    })
    .unwrap();
    assert_eq!(again.series[0].paths, truth.series[0].paths);
}
