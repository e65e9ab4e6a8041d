//! MP4 of video items, checked with the real FFmpeg tools (ffprobe, ffmpeg).

use std::path::Path;
use std::process::Command;

use dicomprep::contract::manifest::{Item, ItemKind, Manifest};
use dicomprep::encode::png::decode_png;

use crate::util::{data, run};

fn convert(src: &str, dest: &Path, extra: &[&str]) -> Manifest {
    let mut args = vec!["convert", src, "--dest", dest.to_str().unwrap(), "-q"];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(dest.join("manifest.json")).unwrap()).unwrap()
}

/// ffprobe's view of the video stream and container.
fn ffprobe(path: &Path) -> serde_json::Value {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-of",
            "json",
        ])
        .args([
            "-show_entries",
            "stream=codec_name,pix_fmt,width,height,nb_read_frames,r_frame_rate:format=duration",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs (scripts/setup.sh installs ffmpeg)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The frames of a video decoded to grey PNGs by the ffmpeg CLI, in order.
fn decoded_frames(video: &Path, out: &Path) -> Vec<Vec<u8>> {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .args(["-pix_fmt", "gray"])
        .arg(out.join("f%05d.png"))
        .status()
        .unwrap();
    assert!(status.success());
    let mut names: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| decode_png(&std::fs::read(p).unwrap()).unwrap().data)
        .collect()
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

fn videos(manifest: &Manifest) -> Vec<&Item> {
    manifest
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Video)
        .collect()
}

#[test]
fn video_metadata_is_what_ffprobe_measures() {
    let dest = tempfile::tempdir().unwrap();
    let manifest = convert(
        data("dicom2nifti/siemens").to_str().unwrap(),
        dest.path(),
        &["--fps", "5"],
    );
    let items = videos(&manifest);
    assert!(!items.is_empty());
    for item in items {
        let video = item.video.as_ref().unwrap();
        let probe = ffprobe(&dest.path().join(&item.storage_key));
        let stream = &probe["streams"][0];
        assert_eq!(stream["codec_name"], "h264");
        assert_eq!(stream["pix_fmt"], "yuv420p");
        assert_eq!(stream["width"], video.width);
        assert_eq!(stream["height"], video.height);
        assert_eq!(stream["r_frame_rate"], "5/1");
        let frames: u64 = stream["nb_read_frames"].as_str().unwrap().parse().unwrap();
        assert_eq!(frames, item.frames.len() as u64);
        assert_eq!(video.frame_count, frames);
        assert_eq!(
            (video.fps, video.mime_type.as_str(), video.codec.as_str()),
            (5, "video/mp4", "h264")
        );
        let duration: f64 = probe["format"]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((duration - frames as f64 / 5.0).abs() < 0.01, "{duration}");
        assert!((video.duration - frames as f64 / 5.0).abs() < 1e-6);
    }
}

#[test]
fn every_video_frame_matches_its_hq_frame() {
    let dest = tempfile::tempdir().unwrap();
    let manifest = convert(
        data("dicom2nifti/hitachi").to_str().unwrap(),
        dest.path(),
        &["--as", "video"],
    );
    for item in videos(&manifest) {
        let frames_dir = tempfile::tempdir().unwrap();
        let decoded = decoded_frames(&dest.path().join(&item.storage_key), frames_dir.path());
        assert_eq!(decoded.len(), item.frames.len());
        for (i, (frame, entry)) in decoded.iter().zip(&item.frames).enumerate() {
            let hq = decode_png(&std::fs::read(dest.path().join(&entry.hq_key)).unwrap()).unwrap();
            let value = psnr(frame, &hq.data);
            assert!(
                value >= 30.0,
                "{} frame {i}: {value:.1} dB",
                item.storage_key
            );
        }
    }
}

#[test]
fn odd_sizes_are_padded_and_single_slices_are_images_in_auto_mode() {
    let dest = tempfile::tempdir().unwrap();
    let file = data("pydicom/SC_rgb_small_odd.dcm");
    let manifest = convert(file.to_str().unwrap(), dest.path(), &["--as", "video"]);
    let item = videos(&manifest)[0];
    let video = item.video.as_ref().unwrap();
    assert_eq!((item.frames[0].width, item.frames[0].height), (3, 3));
    assert_eq!(
        (video.width, video.height),
        (4, 4),
        "padded to even, as written in the file"
    );
    let probe = ffprobe(&dest.path().join(&item.storage_key));
    assert_eq!(
        (
            probe["streams"][0]["width"].as_u64(),
            probe["streams"][0]["height"].as_u64()
        ),
        (Some(4), Some(4))
    );

    let auto = tempfile::tempdir().unwrap();
    let manifest = convert(file.to_str().unwrap(), auto.path(), &[]);
    assert!(
        videos(&manifest).is_empty(),
        "a one-slice volume is an image in auto mode"
    );
}

#[test]
fn the_same_input_gives_byte_identical_videos() {
    // Ten 64x64 EPI volumes (the size where x264's macroblock tree varied) and a 512x512 CT.
    for case in [
        "dcm_qa_nih/In/20180918GE",
        "dicom2nifti/failing/gantrytilting",
    ] {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let src = data(case);
        let src = src.to_str().unwrap();
        let first = convert(src, a.path(), &["--as", "video"]);
        convert(src, b.path(), &["--as", "video", "-j", "1"]);
        let items = videos(&first);
        assert!(!items.is_empty());
        for item in items {
            let bytes = |dir: &Path| std::fs::read(dir.join(&item.storage_key)).unwrap();
            assert!(
                bytes(a.path()) == bytes(b.path()),
                "{} differs between runs",
                item.storage_key
            );
        }
    }
}

#[test]
fn hls_renditions_play_and_cover_every_frame() {
    // A 30-frame colour cine at 5 fps: 6 s, so several 2-second segments.
    let dest = tempfile::tempdir().unwrap();
    let src = data("pydicom/examples_ybr_color.dcm");
    let manifest = convert(src.to_str().unwrap(), dest.path(), &["--hls", "--fps", "5"]);
    let item = videos(&manifest)[0];
    let hls = item.hls.as_ref().expect("--hls describes the renditions");
    assert_eq!((hls.total_frames, hls.visible_frames), (30, 30));
    assert!(hls.high_quality.segments.len() >= 2, "{hls:?}");
    for rendition in [&hls.high_quality, &hls.low_quality] {
        let playlist = dest.path().join(&rendition.index_key);
        let stream = &ffprobe(&playlist)["streams"][0];
        assert_eq!(stream["nb_read_frames"], "30", "{}", rendition.index_key);
        assert_eq!(stream["codec_name"], "h264");
        assert!(rendition.bitrate > 0);
        let total: f64 = rendition.segments.iter().map(|s| s.duration).sum();
        assert!((total - 6.0).abs() < 1e-6, "{total}");
    }
    // The frames manifest: one line per frame, numbered within the segment each frame is in.
    let text = std::fs::read_to_string(dest.path().join(&hls.frames_manifest_key)).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(':').collect()).collect();
    assert_eq!(lines.len(), 30);
    for (segment, entry) in hls.high_quality.segments.iter().enumerate() {
        let in_segment: Vec<_> = lines
            .iter()
            .filter(|l| l[1] == segment.to_string())
            .collect();
        let probed = &ffprobe(&dest.path().join(&entry.key))["streams"][0]["nb_read_frames"];
        assert_eq!(probed, &in_segment.len().to_string(), "segment {segment}");
        for (i, line) in in_segment.iter().enumerate() {
            assert_eq!((line[0], line[2]), (i.to_string().as_str(), "1"));
        }
    }
    assert_eq!(lines[29][3], "5.8");
    // Frames are named as darwin-py names them, from 0.
    assert!(
        item.frames[0]
            .hq_key
            .ends_with("/sections/high/000000000.png")
    );
    assert!(
        item.frames[29]
            .lq_key
            .as_deref()
            .unwrap()
            .ends_with("/sections/low/000000029.jpg")
    );
    assert_eq!(
        hls.sections_key_prefix,
        format!(
            "{}/sections/high",
            item.storage_key.trim_end_matches("/video.mp4")
        )
    );
}

/// FFmpeg's libraries are opened only when a video is made: with libavcodec unreadable (a
/// private mount namespace binds /dev/null over it: the way a machine without FFmpeg looks to
/// the loader), `convert` says what to install, exits 0 and writes every item but its MP4.
#[test]
fn without_ffmpegs_libraries_convert_warns_what_to_install_and_writes_no_mp4() {
    let ldconfig = Command::new("ldconfig").arg("-p").output().unwrap();
    let listing = String::from_utf8_lossy(&ldconfig.stdout).into_owned();
    let libavcodec = listing
        .lines()
        .find(|l| l.trim_start().starts_with("libavcodec.so.") && l.contains("x86-64"))
        .and_then(|l| l.split("=> ").nth(1))
        .expect("libavcodec is installed (scripts/setup.sh)")
        .trim()
        .to_string();
    let dest = tempfile::tempdir().unwrap();
    let output = Command::new("unshare")
        .args([
            "--mount",
            "sh",
            "-c",
            r#"mount --bind /dev/null "$0" && exec "$@""#,
        ])
        .arg(&libavcodec)
        .arg(env!("CARGO_BIN_EXE_dicomprep"))
        .args(["convert"])
        .arg(data("dicom2nifti/siemens"))
        .arg("--dest")
        .arg(dest.path())
        .args(["-q", "--no-html"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: no MP4 videos: cannot load FFmpeg's libraries")
            && stderr.contains("apt-get install")
            && stderr.contains("libavcodec")
            && stderr.contains("--no-mp4"),
        "{stderr}"
    );
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dest.path().join("manifest.json")).unwrap()).unwrap();
    let videos: Vec<&Item> = manifest
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Video)
        .collect();
    assert!(!videos.is_empty(), "the series are video items");
    for item in videos {
        assert!(item.video.is_none(), "{}", item.name);
        assert!(!item.frames.is_empty() && !item.thumbnail_key.is_empty());
    }
    let mp4s = walkdir::WalkDir::new(dest.path())
        .into_iter()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "mp4")
        })
        .count();
    assert_eq!(mp4s, 0);
}
