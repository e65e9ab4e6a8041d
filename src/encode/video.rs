//! H.264 from 8-bit frames, through FFmpeg's libraries (ffmpeg-next): yuv420p, libx264, into an
//! MP4 (`+faststart`) or an HLS rendition. Frames are pushed one at a time, so memory does not
//! grow with the video.

use std::path::Path;

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg_next as ffmpeg;

use super::VideoSettings;
use super::hls::HlsSettings;
use crate::encode::png::EncodeError;
use crate::render::{Channels, Image8};

/// What the written file holds, measured from the file itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoInfo {
    pub fps: u32,
    pub frame_count: u64,
    /// Seconds.
    pub duration: f64,
    /// Frame size in the file (padded to even sides).
    pub width: u32,
    pub height: u32,
}

/// Frames with a side below this many pixels are encoded without x264's macroblock tree, which
/// is not deterministic on them.
const DETERMINISTIC_MBTREE_SIDE: u32 = 128;

/// Streams frames of one size into an MP4 file or an HLS rendition.
pub struct VideoWriter {
    output: ffmpeg::format::context::Output,
    encoder: ffmpeg::encoder::Video,
    scaler: Option<(Channels, scaling::Context)>,
    /// Size of the source frames, of the frames padded to even sides, and of the encoded
    /// frames (the padded size, or smaller for a reduced rendition).
    source: (u32, u32),
    padded: (u32, u32),
    encoded: (u32, u32),
    frames: i64,
    time_base: ffmpeg::Rational,
}

fn ffmpeg_error(context: &str) -> impl Fn(ffmpeg::Error) -> EncodeError + '_ {
    move |e| EncodeError(format!("{context}: {e}"))
}

/// Where a writer's frames go.
#[derive(Debug, Clone, Copy)]
pub enum Container<'a> {
    /// One MP4 file, its index first (`+faststart`).
    Mp4(&'a Path),
    /// An HLS rendition in this folder.
    Hls(&'a Path, HlsSettings),
}

impl VideoWriter {
    /// Creates the MP4 `path` for frames of `width` x `height` (odd sides are padded with black).
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        settings: VideoSettings,
    ) -> Result<Self, EncodeError> {
        VideoWriter::open(Container::Mp4(path), width, height, settings)
    }

    /// Creates a writer of frames of `width` x `height` into `container`.
    pub fn open(
        container: Container,
        width: u32,
        height: u32,
        settings: VideoSettings,
    ) -> Result<Self, EncodeError> {
        ffmpeg::init().map_err(ffmpeg_error("cannot initialise FFmpeg"))?;
        ffmpeg::log::set_level(ffmpeg::log::Level::Error);
        let padded = (width + width % 2, height + height % 2);
        let (mut output, encoded, gop, muxer) = match container {
            Container::Mp4(path) => {
                let output = ffmpeg::format::output_as(path, "mp4")
                    .map_err(ffmpeg_error("cannot create the MP4"))?;
                let mut muxer = ffmpeg::Dictionary::new();
                muxer.set("movflags", "+faststart");
                (output, padded, None, muxer)
            }
            Container::Hls(dir, hls) => {
                let output = ffmpeg::format::output_as(&dir.join("index.m3u8"), "hls")
                    .map_err(ffmpeg_error("cannot create the HLS playlist"))?;
                let mut muxer = ffmpeg::Dictionary::new();
                muxer.set("hls_time", &hls.segment_seconds.to_string());
                muxer.set("hls_list_size", "0");
                muxer.set("hls_playlist_type", "vod");
                muxer.set("start_number", "0");
                let segments = dir.join("%09d.ts");
                muxer.set("hls_segment_filename", &segments.to_string_lossy());
                let encoded = rendition_size(padded, hls.max_height);
                (output, encoded, Some(hls.gop), muxer)
            }
        };
        let codec = ffmpeg::encoder::find_by_name("libx264").ok_or_else(|| {
            EncodeError("FFmpeg has no libx264 encoder (install libavcodec with x264)".into())
        })?;
        // HLS segments must each start with the stream headers (SPS/PPS), which x264 repeats
        // before every keyframe only when they are not global.
        let global_header = matches!(container, Container::Mp4(_))
            && output
                .format()
                .flags()
                .contains(ffmpeg::format::Flags::GLOBAL_HEADER);
        let mut stream = output
            .add_stream(codec)
            .map_err(ffmpeg_error("cannot add the video stream"))?;
        let mut encoder = ffmpeg::codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(ffmpeg_error("cannot make the H.264 encoder"))?;
        let time_base = ffmpeg::Rational::new(1, settings.fps.max(1) as i32);
        encoder.set_width(encoded.0);
        encoder.set_height(encoded.1);
        if let Some(gop) = gop {
            encoder.set_gop(gop);
        }
        encoder.set_format(Pixel::YUV420P);
        encoder.set_time_base(time_base);
        encoder.set_frame_rate(Some(ffmpeg::Rational::new(settings.fps.max(1) as i32, 1)));
        if global_header {
            encoder.set_flags(ffmpeg::codec::Flags::GLOBAL_HEADER);
        }
        let mut options = ffmpeg::Dictionary::new();
        // veryfast: the throughput preset for batch work; one thread per encoder, because
        // volumes are encoded in parallel by rayon instead.
        options.set("preset", "veryfast");
        options.set("crf", &settings.crf.to_string());
        options.set("threads", "1");
        if encoded.0.min(encoded.1) < DETERMINISTIC_MBTREE_SIDE {
            // x264's macroblock-tree lookahead gives different bytes from run to run for
            // frames this small (seen with 64x64 EPI volumes: the same frames encoded eight
            // times in one process gave three different files; 128x128 and up never did).
            // Videos must be reproducible, and on a few macroblocks the tree gains nothing.
            options.set("x264-params", "mbtree=0");
        }
        let encoder = encoder
            .open_with(options)
            .map_err(ffmpeg_error("cannot open libx264"))?;
        stream.set_parameters(&encoder);
        stream.set_time_base(time_base);
        output
            .write_header_with(muxer)
            .map_err(ffmpeg_error("cannot write the MP4 header"))?;
        Ok(VideoWriter {
            output,
            encoder,
            scaler: None,
            source: (width, height),
            padded,
            encoded,
            frames: 0,
            time_base,
        })
    }

    /// Appends one frame (same size as the first).
    pub fn push(&mut self, image: &Image8) -> Result<(), EncodeError> {
        if (image.width, image.height) != self.source {
            return Err(EncodeError(format!(
                "frame {} is {}x{}, the video is {}x{}",
                self.frames, image.width, image.height, self.source.0, self.source.1
            )));
        }
        let mut frame = self.convert_to_yuv(image)?;
        frame.set_pts(Some(self.frames));
        self.frames += 1;
        self.encoder
            .send_frame(&frame)
            .map_err(ffmpeg_error("cannot encode a frame"))?;
        self.drain()
    }

    /// Flushes the encoder and finishes the file.
    pub fn finish(mut self) -> Result<(), EncodeError> {
        self.encoder
            .send_eof()
            .map_err(ffmpeg_error("cannot flush the encoder"))?;
        self.drain()?;
        self.output
            .write_trailer()
            .map_err(ffmpeg_error("cannot finish the MP4"))
    }

    fn drain(&mut self) -> Result<(), EncodeError> {
        let stream_time_base = self
            .output
            .stream(0)
            .map(|s| s.time_base())
            .unwrap_or(self.time_base);
        let mut packet = ffmpeg::Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            // Every frame lasts 1/fps, the last one too: N frames make N/fps seconds.
            packet.set_duration(1);
            packet.rescale_ts(self.time_base, stream_time_base);
            packet
                .write_interleaved(&mut self.output)
                .map_err(ffmpeg_error("cannot write a packet"))?;
        }
        Ok(())
    }

    /// The frame in YUV 4:2:0, padded to even sides with black.
    fn convert_to_yuv(&mut self, image: &Image8) -> Result<ffmpeg::frame::Video, EncodeError> {
        let (pw, ph) = self.padded;
        let mut padded = Image8::filled(pw, ph, image.channels, 0);
        let (w, samples) = (image.width as usize, image.channels.count());
        for row in 0..image.height as usize {
            let from = &image.data[row * w * samples..(row + 1) * w * samples];
            let at = row * pw as usize * samples;
            padded.data[at..at + from.len()].copy_from_slice(from);
        }
        let format = match image.channels {
            Channels::Gray => Pixel::GRAY8,
            Channels::Rgb => Pixel::RGB24,
        };
        let mut source = ffmpeg::frame::Video::new(format, pw, ph);
        let stride = source.stride(0);
        let line = pw as usize * samples;
        for (row, chunk) in padded.data.chunks_exact(line).enumerate() {
            source.data_mut(0)[row * stride..row * stride + line].copy_from_slice(chunk);
        }
        if self
            .scaler
            .as_ref()
            .is_none_or(|(c, _)| *c != image.channels)
        {
            let (ew, eh) = self.encoded;
            let context = scaling::Context::get(
                format,
                pw,
                ph,
                Pixel::YUV420P,
                ew,
                eh,
                scaling::Flags::BILINEAR,
            )
            .map_err(ffmpeg_error("cannot convert to YUV"))?;
            self.scaler = Some((image.channels, context));
        }
        let mut yuv = ffmpeg::frame::Video::new(Pixel::YUV420P, self.encoded.0, self.encoded.1);
        if let Some((_, scaler)) = self.scaler.as_mut() {
            scaler
                .run(&source, &mut yuv)
                .map_err(ffmpeg_error("cannot convert to YUV"))?;
        }
        Ok(yuv)
    }
}

/// The size of a rendition of `padded` frames at most `max_height` high: the width follows the
/// aspect ratio, both sides even.
fn rendition_size(padded: (u32, u32), max_height: Option<u32>) -> (u32, u32) {
    match max_height {
        Some(height) if height < padded.1 => {
            let width = (f64::from(padded.0) * f64::from(height) / f64::from(padded.1) / 2.0)
                .round() as u32
                * 2;
            (width.max(2), height - height % 2)
        }
        _ => padded,
    }
}

/// Measures a written MP4: frame rate, frame count, duration and size of its video stream.
pub fn probe(path: &Path) -> Result<VideoInfo, EncodeError> {
    ffmpeg::init().map_err(ffmpeg_error("cannot initialise FFmpeg"))?;
    let input = ffmpeg::format::input(path).map_err(ffmpeg_error("cannot read the MP4"))?;
    let stream = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| EncodeError("the MP4 has no video stream".into()))?;
    let rate = stream.rate();
    let fps = if rate.denominator() != 0 {
        f64::from(rate).round() as u32
    } else {
        0
    };
    let parameters = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(ffmpeg_error("cannot read the stream parameters"))?;
    let frame_count = stream.frames().max(0) as u64;
    let duration = stream.duration() as f64 * f64::from(stream.time_base());
    Ok(VideoInfo {
        fps,
        frame_count,
        duration,
        width: parameters.width(),
        height: parameters.height(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_probeable_mp4_with_odd_sides_padded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.mp4");
        let mut writer = VideoWriter::create(&path, 33, 17, VideoSettings::default()).unwrap();
        for i in 0..12u32 {
            writer
                .push(&Image8::filled(33, 17, Channels::Gray, (i * 20) as u8))
                .unwrap();
        }
        assert!(
            writer
                .push(&Image8::filled(32, 17, Channels::Gray, 0))
                .is_err(),
            "size checked"
        );
        writer.finish().unwrap();
        let info = probe(&path).unwrap();
        assert_eq!(
            (info.width, info.height, info.frame_count, info.fps),
            (34, 18, 12, 10)
        );
        assert!((info.duration - 1.2).abs() < 1e-9, "{info:?}");
    }
}
