//! FFmpeg objects owned by Rust values: each is freed when its value drops, on every path.

use std::ffi::{CString, c_int};
use std::path::Path;
use std::ptr;

use ffmpeg_sys_next::{
    AVCodec, AVCodecContext, AVDictionary, AVFormatContext, AVFrame, AVIO_FLAG_WRITE, AVPacket,
    AVPixelFormat, SWS_BILINEAR, SwsContext,
};

use super::Ffmpeg;
use crate::encode::png::EncodeError;

/// `code` when FFmpeg reports success, else the error in `context`.
pub fn check(ff: &Ffmpeg, code: c_int, context: &str) -> Result<c_int, EncodeError> {
    if code < 0 {
        Err(EncodeError(format!("{context}: {}", ff.describe(code))))
    } else {
        Ok(code)
    }
}

pub fn c_string(text: &str) -> Result<CString, EncodeError> {
    CString::new(text).map_err(|_| EncodeError(format!("{text:?} holds a NUL byte")))
}

pub fn c_path(path: &Path) -> Result<CString, EncodeError> {
    c_string(&path.to_string_lossy())
}

/// An output file's muxing context, with its file open.
pub struct Output {
    ff: &'static Ffmpeg,
    pub ctx: *mut AVFormatContext,
}

impl Output {
    pub fn create(
        ff: &'static Ffmpeg,
        path: &Path,
        format: &str,
        context: &str,
    ) -> Result<Output, EncodeError> {
        let (c_path, c_format) = (c_path(path)?, c_string(format)?);
        let mut ctx = ptr::null_mut();
        // SAFETY: NUL-terminated strings; on success `ctx` is ours, freed by `Drop`.
        unsafe {
            check(
                ff,
                (ff.avformat_alloc_output_context2)(
                    &mut ctx,
                    ptr::null(),
                    c_format.as_ptr(),
                    c_path.as_ptr(),
                ),
                context,
            )?;
            let output = Output { ff, ctx };
            check(
                ff,
                (ff.avio_open)(&mut (*ctx).pb, c_path.as_ptr(), AVIO_FLAG_WRITE),
                context,
            )?;
            Ok(output)
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // SAFETY: the context and its file are ours; avio_close accepts null.
        unsafe {
            (self.ff.avio_close)((*self.ctx).pb);
            (self.ff.avformat_free_context)(self.ctx);
        }
    }
}

/// An encoder context.
pub struct Encoder {
    ff: &'static Ffmpeg,
    pub ctx: *mut AVCodecContext,
}

impl Encoder {
    pub fn new(ff: &'static Ffmpeg, codec: *const AVCodec) -> Result<Encoder, EncodeError> {
        // SAFETY: `codec` is an encoder found by FFmpeg.
        let ctx = unsafe { (ff.avcodec_alloc_context3)(codec) };
        if ctx.is_null() {
            return Err(EncodeError("cannot make the H.264 encoder".into()));
        }
        Ok(Encoder { ff, ctx })
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: the context is ours.
        unsafe { (self.ff.avcodec_free_context)(&mut self.ctx) };
    }
}

/// A frame with its own buffers.
pub struct Frame {
    ff: &'static Ffmpeg,
    pub ptr: *mut AVFrame,
}

impl Frame {
    pub fn new(
        ff: &'static Ffmpeg,
        format: AVPixelFormat,
        width: u32,
        height: u32,
    ) -> Result<Frame, EncodeError> {
        // SAFETY: a new frame, owned by the value returned (freed by `Drop` on every path).
        unsafe {
            let frame = Frame {
                ff,
                ptr: (ff.av_frame_alloc)(),
            };
            if frame.ptr.is_null() {
                return Err(EncodeError("cannot allocate a frame".into()));
            }
            (*frame.ptr).format = format as c_int;
            (*frame.ptr).width = width as c_int;
            (*frame.ptr).height = height as c_int;
            check(
                ff,
                (ff.av_frame_get_buffer)(frame.ptr, 32),
                "cannot allocate a frame",
            )?;
            Ok(frame)
        }
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        // SAFETY: the frame is ours (av_frame_free accepts null).
        unsafe { (self.ff.av_frame_free)(&mut self.ptr) };
    }
}

/// A packet, reused for every packet the encoder gives.
pub struct Packet {
    ff: &'static Ffmpeg,
    pub ptr: *mut AVPacket,
}

impl Packet {
    pub fn new(ff: &'static Ffmpeg) -> Result<Packet, EncodeError> {
        // SAFETY: a new packet, owned by the value returned.
        let ptr = unsafe { (ff.av_packet_alloc)() };
        if ptr.is_null() {
            return Err(EncodeError("cannot allocate a packet".into()));
        }
        Ok(Packet { ff, ptr })
    }
}

impl Drop for Packet {
    fn drop(&mut self) {
        // SAFETY: the packet is ours.
        unsafe { (self.ff.av_packet_free)(&mut self.ptr) };
    }
}

/// A conversion from `format` to YUV 4:2:0 (and, for a reduced rendition, a smaller size).
pub struct Scaler {
    ff: &'static Ffmpeg,
    pub ctx: *mut SwsContext,
}

impl Scaler {
    pub fn new(
        ff: &'static Ffmpeg,
        format: AVPixelFormat,
        from: (u32, u32),
        to: (u32, u32),
    ) -> Result<Scaler, EncodeError> {
        // SAFETY: sizes and formats by value; no filters or parameters.
        let ctx = unsafe {
            (ff.sws_getContext)(
                from.0 as c_int,
                from.1 as c_int,
                format,
                to.0 as c_int,
                to.1 as c_int,
                AVPixelFormat::AV_PIX_FMT_YUV420P,
                SWS_BILINEAR,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null(),
            )
        };
        if ctx.is_null() {
            return Err(EncodeError("cannot convert to YUV".into()));
        }
        Ok(Scaler { ff, ctx })
    }
}

impl Drop for Scaler {
    fn drop(&mut self) {
        // SAFETY: the context is ours.
        unsafe { (self.ff.sws_freeContext)(self.ctx) };
    }
}

/// Options handed to FFmpeg (an owned AVDictionary; FFmpeg removes those it uses).
pub struct Dictionary {
    ff: &'static Ffmpeg,
    pub ptr: *mut AVDictionary,
}

impl Dictionary {
    pub fn new(ff: &'static Ffmpeg) -> Dictionary {
        Dictionary {
            ff,
            ptr: ptr::null_mut(),
        }
    }

    pub fn set(&mut self, key: &str, value: &str) -> Result<(), EncodeError> {
        let (key, value) = (c_string(key)?, c_string(value)?);
        // SAFETY: NUL-terminated strings, copied by FFmpeg into the dictionary.
        let set = unsafe { (self.ff.av_dict_set)(&mut self.ptr, key.as_ptr(), value.as_ptr(), 0) };
        check(self.ff, set, "cannot set an option").map(|_| ())
    }
}

impl Drop for Dictionary {
    fn drop(&mut self) {
        // SAFETY: the dictionary is ours (av_dict_free accepts null).
        unsafe { (self.ff.av_dict_free)(&mut self.ptr) };
    }
}
