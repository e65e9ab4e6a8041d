//! H.264 from 8-bit frames, through FFmpeg's libraries (loaded on first use: `encode::ffmpeg`):
//! yuv420p, libx264, into an MP4 (`+faststart`) or an HLS rendition. Frames are pushed one at a
//! time, so memory does not grow with the video.

use std::ffi::c_int;
use std::path::Path;
use std::ptr;

use ffmpeg_sys_next::{
    AV_CODEC_FLAG_GLOBAL_HEADER, AVFMT_GLOBALHEADER, AVFormatContext, AVMediaType, AVPixelFormat,
    AVRational,
};

use super::VideoSettings;
use super::ffmpeg::handles::{
    Dictionary, Encoder, Frame, Output, Packet, Scaler, c_path, c_string, check,
};
use super::ffmpeg::{Ffmpeg, ffmpeg};
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

/// Frames with a side below this many pixels, or a side that is no multiple of 16 (a whole
/// macroblock), are encoded without x264's macroblock tree, which is not deterministic on them.
const DETERMINISTIC_MBTREE_SIDE: u32 = 128;

/// Whether x264's macroblock tree gives the same bytes on every run for frames of `size`.
fn mbtree_is_deterministic((width, height): (u32, u32)) -> bool {
    width.min(height) >= DETERMINISTIC_MBTREE_SIDE && width % 16 == 0 && height % 16 == 0
}

/// Streams frames of one size into an MP4 file or an HLS rendition.
pub struct VideoWriter {
    ff: &'static Ffmpeg,
    // Dropped in this order: the encoder, then the file.
    encoder: Encoder,
    output: Output,
    scaler: Option<(Channels, Scaler)>,
    packet: Packet,
    /// Size of the source frames, of the frames padded to even sides, and of the encoded
    /// frames (the padded size, or smaller for a reduced rendition).
    source: (u32, u32),
    padded: (u32, u32),
    encoded: (u32, u32),
    frames: i64,
    time_base: AVRational,
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
        let ff = ffmpeg().map_err(EncodeError)?;
        let padded = (width + width % 2, height + height % 2);
        let mut muxer = Dictionary::new(ff);
        let (output, encoded, gop) = match container {
            Container::Mp4(path) => {
                let output = Output::create(ff, path, "mp4", "cannot create the MP4")?;
                muxer.set("movflags", "+faststart")?;
                (output, padded, None)
            }
            Container::Hls(dir, hls) => {
                let playlist = dir.join("index.m3u8");
                let output =
                    Output::create(ff, &playlist, "hls", "cannot create the HLS playlist")?;
                muxer.set("hls_time", &hls.segment_seconds.to_string())?;
                muxer.set("hls_list_size", "0")?;
                muxer.set("hls_playlist_type", "vod")?;
                muxer.set("start_number", "0")?;
                let segments = dir.join("%09d.ts");
                muxer.set("hls_segment_filename", &segments.to_string_lossy())?;
                (
                    output,
                    rendition_size(padded, hls.max_height),
                    Some(hls.gop),
                )
            }
        };
        let name = c_string("libx264")?;
        // SAFETY: a lookup by a NUL-terminated name.
        let codec = unsafe { (ff.avcodec_find_encoder_by_name)(name.as_ptr()) };
        if codec.is_null() {
            return Err(EncodeError(
                "FFmpeg has no libx264 encoder (install libavcodec with x264)".into(),
            ));
        }
        // HLS segments must each start with the stream headers (SPS/PPS), which x264 repeats
        // before every keyframe only when they are not global.
        // SAFETY: `output` holds a context with its output format.
        let global_header = matches!(container, Container::Mp4(_))
            && unsafe { (*(*output.ctx).oformat).flags } & AVFMT_GLOBALHEADER != 0;
        // SAFETY: `output.ctx` is a live output context and `codec` an encoder.
        let stream = unsafe { (ff.avformat_new_stream)(output.ctx, codec) };
        if stream.is_null() {
            return Err(EncodeError("cannot add the video stream".into()));
        }
        let time_base = AVRational {
            num: 1,
            den: settings.fps.max(1) as i32,
        };
        let encoder = Encoder::new(ff, codec)?;
        // SAFETY: a freshly allocated context of that codec, set before it is opened.
        unsafe {
            let ctx = &mut *encoder.ctx;
            ctx.width = encoded.0 as c_int;
            ctx.height = encoded.1 as c_int;
            if let Some(gop) = gop {
                ctx.gop_size = gop as c_int;
            }
            ctx.pix_fmt = AVPixelFormat::AV_PIX_FMT_YUV420P;
            ctx.time_base = time_base;
            ctx.framerate = AVRational {
                num: settings.fps.max(1) as i32,
                den: 1,
            };
            if global_header {
                ctx.flags = AV_CODEC_FLAG_GLOBAL_HEADER as c_int;
            }
        }
        let mut options = Dictionary::new(ff);
        // veryfast: the throughput preset for batch work; one thread per encoder, because
        // volumes are encoded in parallel by rayon instead.
        options.set("preset", "veryfast")?;
        options.set("crf", &settings.crf.to_string())?;
        options.set("threads", "1")?;
        if !mbtree_is_deterministic(encoded) {
            // x264's macroblock-tree lookahead gives different bytes from run to run for
            // small frames (seen with 64x64 EPI volumes: the same frames encoded eight times
            // in one process gave three different files; 128x128 and up never did) and for
            // sides that end in part of a macroblock (a 236x210 ultrasound crop differed
            // between a run over all of test-data and a run of its own). Videos must be
            // reproducible, and on a few macroblocks the tree gains little.
            options.set("x264-params", "mbtree=0")?;
        }
        // SAFETY: the context, its codec and an owned options dictionary; then the stream
        // takes the opened encoder's parameters.
        unsafe {
            check(
                ff,
                (ff.avcodec_open2)(encoder.ctx, ptr::null(), &mut options.ptr),
                "cannot open libx264",
            )?;
            check(
                ff,
                (ff.avcodec_parameters_from_context)((*stream).codecpar, encoder.ctx),
                "cannot set the stream parameters",
            )?;
            (*stream).time_base = time_base;
            check(
                ff,
                (ff.avformat_write_header)(output.ctx, &mut muxer.ptr),
                "cannot write the MP4 header",
            )?;
        }
        Ok(VideoWriter {
            ff,
            encoder,
            output,
            scaler: None,
            packet: Packet::new(ff)?,
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
        let frame = self.convert_to_yuv(image)?;
        // SAFETY: an allocated frame, sent to the open encoder (which references its data).
        unsafe {
            (*frame.ptr).pts = self.frames;
            self.frames += 1;
            check(
                self.ff,
                (self.ff.avcodec_send_frame)(self.encoder.ctx, frame.ptr),
                "cannot encode a frame",
            )?;
        }
        self.drain()
    }

    /// Flushes the encoder and finishes the file.
    pub fn finish(mut self) -> Result<(), EncodeError> {
        // SAFETY: a null frame asks the open encoder to flush.
        let flushed = unsafe { (self.ff.avcodec_send_frame)(self.encoder.ctx, ptr::null()) };
        check(self.ff, flushed, "cannot flush the encoder")?;
        self.drain()?;
        // SAFETY: the header was written in `open`.
        let finished = unsafe { (self.ff.av_write_trailer)(self.output.ctx) };
        check(self.ff, finished, "cannot finish the MP4").map(|_| ())
    }

    fn drain(&mut self) -> Result<(), EncodeError> {
        let ff = self.ff;
        // SAFETY: stream 0 exists (added in `open`); the packet is ours, and the muxer takes
        // its data on each write.
        unsafe {
            let stream_time_base = (**(*self.output.ctx).streams).time_base;
            while (ff.avcodec_receive_packet)(self.encoder.ctx, self.packet.ptr) >= 0 {
                let packet = &mut *self.packet.ptr;
                packet.stream_index = 0;
                // Every frame lasts 1/fps, the last one too: N frames make N/fps seconds.
                packet.duration = 1;
                (ff.av_packet_rescale_ts)(packet, self.time_base, stream_time_base);
                check(
                    ff,
                    (ff.av_interleaved_write_frame)(self.output.ctx, packet),
                    "cannot write a packet",
                )?;
            }
        }
        Ok(())
    }

    /// The frame in YUV 4:2:0, padded to even sides with black.
    fn convert_to_yuv(&mut self, image: &Image8) -> Result<Frame, EncodeError> {
        let (pw, ph) = self.padded;
        let format = match image.channels {
            Channels::Gray => AVPixelFormat::AV_PIX_FMT_GRAY8,
            Channels::Rgb => AVPixelFormat::AV_PIX_FMT_RGB24,
        };
        let source = Frame::new(self.ff, format, pw, ph)?;
        let (w, samples) = (image.width as usize, image.channels.count());
        let line = w * samples;
        // SAFETY: the frame's plane 0 holds `ph` rows of `linesize[0]` bytes, each at least
        // `pw * samples` long; rows and columns past the image are zeroed (black).
        unsafe {
            let stride = (*source.ptr).linesize[0] as usize;
            let plane = std::slice::from_raw_parts_mut((*source.ptr).data[0], stride * ph as usize);
            plane.fill(0);
            for (row, from) in image.data.chunks_exact(line).enumerate() {
                plane[row * stride..row * stride + line].copy_from_slice(from);
            }
        }
        if self
            .scaler
            .as_ref()
            .is_none_or(|(c, _)| *c != image.channels)
        {
            let scaler = Scaler::new(self.ff, format, self.padded, self.encoded)?;
            self.scaler = Some((image.channels, scaler));
        }
        let yuv = Frame::new(
            self.ff,
            AVPixelFormat::AV_PIX_FMT_YUV420P,
            self.encoded.0,
            self.encoded.1,
        )?;
        if let Some((_, scaler)) = &self.scaler {
            // SAFETY: both frames have the sizes and formats the scaler was made for.
            unsafe {
                (self.ff.sws_scale)(
                    scaler.ctx,
                    (*source.ptr).data.as_ptr() as *const *const u8,
                    (*source.ptr).linesize.as_ptr(),
                    0,
                    ph as c_int,
                    (*yuv.ptr).data.as_ptr(),
                    (*yuv.ptr).linesize.as_ptr(),
                );
            }
        }
        Ok(yuv)
    }
}

/// Whether videos can be made here: FFmpeg's libraries load (the error says what to install).
pub fn available() -> Result<(), String> {
    ffmpeg().map(|_| ())
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
    let ff = ffmpeg().map_err(EncodeError)?;
    let c_path = c_path(path)?;
    let mut ctx: *mut AVFormatContext = ptr::null_mut();
    // SAFETY: on success `ctx` is an open input, closed below on every path.
    unsafe {
        check(
            ff,
            (ff.avformat_open_input)(&mut ctx, c_path.as_ptr(), ptr::null(), ptr::null_mut()),
            "cannot read the MP4",
        )?;
        let measured = measure(ff, ctx);
        (ff.avformat_close_input)(&mut ctx);
        measured
    }
}

/// The video stream of the open input `ctx`, measured.
///
/// # Safety
/// `ctx` is an input opened by `avformat_open_input`.
unsafe fn measure(ff: &Ffmpeg, ctx: *mut AVFormatContext) -> Result<VideoInfo, EncodeError> {
    unsafe {
        check(
            ff,
            (ff.avformat_find_stream_info)(ctx, ptr::null_mut()),
            "cannot read the MP4",
        )?;
        let index = (ff.av_find_best_stream)(
            ctx,
            AVMediaType::AVMEDIA_TYPE_VIDEO,
            -1,
            -1,
            ptr::null_mut(),
            0,
        );
        if index < 0 {
            return Err(EncodeError("the MP4 has no video stream".into()));
        }
        let stream = &**(*ctx).streams.add(index as usize);
        let rate = stream.r_frame_rate;
        let fps = if rate.den != 0 {
            (f64::from(rate.num) / f64::from(rate.den)).round() as u32
        } else {
            0
        };
        let parameters = &*stream.codecpar;
        let time_base = f64::from(stream.time_base.num) / f64::from(stream.time_base.den);
        Ok(VideoInfo {
            fps,
            frame_count: stream.nb_frames.max(0) as u64,
            duration: stream.duration as f64 * time_base,
            width: parameters.width.max(0) as u32,
            height: parameters.height.max(0) as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_macroblock_tree_is_left_out_where_it_is_not_reproducible() {
        assert!(mbtree_is_deterministic((512, 512)));
        assert!(mbtree_is_deterministic((256, 1024)));
        assert!(!mbtree_is_deterministic((64, 64)));
        assert!(!mbtree_is_deterministic((236, 210)));
        assert!(!mbtree_is_deterministic((400, 300)));
    }

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
