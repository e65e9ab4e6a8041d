//! FFmpeg's libraries, loaded when the first video is made rather than when the program starts.
//!
//! Linking libavcodec and libavformat makes the dynamic loader map and relocate them and their
//! ~130 codec libraries before `main`: about 40 ms on every run, longer than a whole NIfTI
//! conversion of a small series, for runs that never encode a video. So the binary does not
//! link them: the first video opens them by soname (the versions whose headers the build
//! used, through ffmpeg-sys-next's types) and resolves the functions below. A machine without
//! them runs everything else and says what to install when a video is asked for.

pub mod handles;

use std::ffi::{CStr, c_char, c_int};
use std::sync::OnceLock;

use ffmpeg_sys_next as sys;
use libloading::Library;
use sys::{
    AVCodec, AVCodecContext, AVCodecParameters, AVDictionary, AVFormatContext, AVFrame,
    AVIOContext, AVInputFormat, AVMediaType, AVOutputFormat, AVPacket, AVPixelFormat, AVRational,
    AVStream, SwsContext, SwsFilter,
};

/// Declares the table of FFmpeg functions, each with the library it comes from.
macro_rules! functions {
    ($($library:ident { $($name:ident: fn($($arg:ty),*) $(-> $ret:ty)?;)* })*) => {
        /// FFmpeg's functions, resolved from its libraries (kept open for the process).
        #[allow(non_snake_case)]
        pub struct Ffmpeg {
            $($(pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*)*
            _libraries: Vec<Library>,
        }

        impl Ffmpeg {
            fn load() -> Result<Ffmpeg, String> {
                $(let $library = open(stringify!($library))?;)*
                // SAFETY: each symbol is FFmpeg's function of that name, declared with the
                // signature of the headers the build used, in the library of that version.
                unsafe {
                    Ok(Ffmpeg {
                        $($($name: *$library
                            .get::<unsafe extern "C" fn($($arg),*) $(-> $ret)?>(
                                concat!(stringify!($name), "\0").as_bytes(),
                            )
                            .map_err(|e| format!("{}: {e}", stringify!($name)))?,)*)*
                        _libraries: vec![$($library),*],
                    })
                }
            }
        }
    };
}

functions! {
    avutil {
        av_log_set_level: fn(c_int);
        av_strerror: fn(c_int, *mut c_char, usize) -> c_int;
        av_dict_set: fn(*mut *mut AVDictionary, *const c_char, *const c_char, c_int) -> c_int;
        av_dict_free: fn(*mut *mut AVDictionary);
        av_frame_alloc: fn() -> *mut AVFrame;
        av_frame_get_buffer: fn(*mut AVFrame, c_int) -> c_int;
        av_frame_free: fn(*mut *mut AVFrame);
    }
    swscale {
        sws_getContext: fn(
            c_int, c_int, AVPixelFormat, c_int, c_int, AVPixelFormat, c_int,
            *mut SwsFilter, *mut SwsFilter, *const f64
        ) -> *mut SwsContext;
        sws_scale: fn(
            *mut SwsContext, *const *const u8, *const c_int, c_int, c_int, *const *mut u8,
            *const c_int
        ) -> c_int;
        sws_freeContext: fn(*mut SwsContext);
    }
    avcodec {
        avcodec_find_encoder_by_name: fn(*const c_char) -> *const AVCodec;
        avcodec_alloc_context3: fn(*const AVCodec) -> *mut AVCodecContext;
        avcodec_free_context: fn(*mut *mut AVCodecContext);
        avcodec_open2: fn(*mut AVCodecContext, *const AVCodec, *mut *mut AVDictionary) -> c_int;
        avcodec_parameters_from_context: fn(*mut AVCodecParameters, *const AVCodecContext) -> c_int;
        avcodec_send_frame: fn(*mut AVCodecContext, *const AVFrame) -> c_int;
        avcodec_receive_packet: fn(*mut AVCodecContext, *mut AVPacket) -> c_int;
        av_packet_alloc: fn() -> *mut AVPacket;
        av_packet_free: fn(*mut *mut AVPacket);
        av_packet_rescale_ts: fn(*mut AVPacket, AVRational, AVRational);
    }
    avformat {
        avformat_alloc_output_context2: fn(
            *mut *mut AVFormatContext, *const AVOutputFormat, *const c_char, *const c_char
        ) -> c_int;
        avformat_free_context: fn(*mut AVFormatContext);
        avformat_new_stream: fn(*mut AVFormatContext, *const AVCodec) -> *mut AVStream;
        avio_open: fn(*mut *mut AVIOContext, *const c_char, c_int) -> c_int;
        avio_close: fn(*mut AVIOContext) -> c_int;
        avformat_write_header: fn(*mut AVFormatContext, *mut *mut AVDictionary) -> c_int;
        av_interleaved_write_frame: fn(*mut AVFormatContext, *mut AVPacket) -> c_int;
        av_write_trailer: fn(*mut AVFormatContext) -> c_int;
        avformat_open_input: fn(
            *mut *mut AVFormatContext, *const c_char, *const AVInputFormat,
            *mut *mut AVDictionary
        ) -> c_int;
        avformat_find_stream_info: fn(*mut AVFormatContext, *mut *mut AVDictionary) -> c_int;
        av_find_best_stream: fn(
            *mut AVFormatContext, AVMediaType, c_int, c_int, *mut *const AVCodec, c_int
        ) -> c_int;
        avformat_close_input: fn(*mut *mut AVFormatContext);
    }
}

/// The soname of `library` in the version whose headers the build used.
fn soname(library: &str) -> String {
    let major = match library {
        "avutil" => sys::LIBAVUTIL_VERSION_MAJOR,
        "swscale" => sys::LIBSWSCALE_VERSION_MAJOR,
        "avcodec" => sys::LIBAVCODEC_VERSION_MAJOR,
        _ => sys::LIBAVFORMAT_VERSION_MAJOR,
    };
    format!("lib{library}.so.{major}")
}

fn open(library: &str) -> Result<Library, String> {
    let name = soname(library);
    // SAFETY: FFmpeg's libraries run no code at load that depends on how they are loaded.
    unsafe { Library::new(&name) }.map_err(|e| e.to_string())
}

/// FFmpeg, loaded on first use; the error says what to install.
pub fn ffmpeg() -> Result<&'static Ffmpeg, String> {
    static FFMPEG: OnceLock<Result<Ffmpeg, String>> = OnceLock::new();
    FFMPEG
        .get_or_init(|| {
            let ffmpeg = Ffmpeg::load().map_err(|e| {
                format!(
                    "cannot load FFmpeg's libraries ({e}): install them (Debian: apt-get \
                     install {}) or pass --no-mp4",
                    debian_packages()
                )
            })?;
            // SAFETY: a plain setter of FFmpeg's log level.
            unsafe { (ffmpeg.av_log_set_level)(sys::AV_LOG_ERROR) };
            Ok(ffmpeg)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The Debian packages that hold the libraries loaded.
fn debian_packages() -> String {
    ["avutil", "swscale", "avcodec", "avformat"]
        .map(|library| soname(library).replace(".so.", ""))
        .join(" ")
}

impl Ffmpeg {
    /// FFmpeg's description of error code `code`.
    pub fn describe(&self, code: c_int) -> String {
        let mut text = [0 as c_char; 128];
        // SAFETY: av_strerror writes at most the buffer's size, NUL-terminated.
        unsafe {
            (self.av_strerror)(code, text.as_mut_ptr(), text.len());
            CStr::from_ptr(text.as_ptr()).to_string_lossy().into_owned()
        }
    }
}
