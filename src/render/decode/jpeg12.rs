//! 12-bit JPEG (JPEG Extended, process 4) through the TurboJPEG 3 API of libjpeg-turbo 3.1.
//!
//! jpeg-decoder and mozjpeg stop at 8-bit precision. libjpeg-turbo decodes 12-bit data with the
//! same integer inverse DCT as the IJG library DCMTK builds for 12 bits, so the two agree. The
//! library is a private, symbol-renamed copy (see `build.rs`), called here through the renamed
//! names only.

use std::ffi::{CStr, c_char, c_int, c_short, c_void};
use std::ptr::NonNull;

// TurboJPEG 3 constants (turbojpeg.h of libjpeg-turbo 3.1).
/// TJINIT_DECOMPRESS.
const TJINIT_DECOMPRESS: c_int = 1;
/// TJPARAM_JPEGWIDTH, TJPARAM_JPEGHEIGHT, TJPARAM_PRECISION, TJPARAM_COLORSPACE.
const TJPARAM_JPEGWIDTH: c_int = 5;
const TJPARAM_JPEGHEIGHT: c_int = 6;
const TJPARAM_PRECISION: c_int = 7;
const TJPARAM_COLORSPACE: c_int = 8;
/// TJPF_RGB and TJPF_GRAY pixel formats.
const TJPF_RGB: c_int = 0;
const TJPF_GRAY: c_int = 6;
/// TJCS_GRAY, the colour space of single-component codestreams.
const TJCS_GRAY: c_int = 2;
/// TJERR_WARNING: the error was not fatal.
const TJERR_WARNING: c_int = 0;

unsafe extern "C" {
    #[link_name = "dicomprep_tj_tj3Init"]
    fn tj3_init(init_type: c_int) -> *mut c_void;
    #[link_name = "dicomprep_tj_tj3Destroy"]
    fn tj3_destroy(handle: *mut c_void);
    #[link_name = "dicomprep_tj_tj3GetErrorStr"]
    fn tj3_get_error_str(handle: *mut c_void) -> *mut c_char;
    #[link_name = "dicomprep_tj_tj3GetErrorCode"]
    fn tj3_get_error_code(handle: *mut c_void) -> c_int;
    #[link_name = "dicomprep_tj_tj3Get"]
    fn tj3_get(handle: *mut c_void, param: c_int) -> c_int;
    #[link_name = "dicomprep_tj_tj3DecompressHeader"]
    fn tj3_decompress_header(handle: *mut c_void, jpeg: *const u8, size: usize) -> c_int;
    #[link_name = "dicomprep_tj_tj3Decompress12"]
    fn tj3_decompress12(
        handle: *mut c_void,
        jpeg: *const u8,
        size: usize,
        destination: *mut c_short,
        pitch: c_int,
        pixel_format: c_int,
    ) -> c_int;
}

/// A decoded 12-bit frame: `components` interleaved samples per pixel (1 grey, 3 RGB).
#[derive(Debug)]
pub(super) struct Decoded12 {
    pub width: usize,
    pub height: usize,
    pub components: usize,
    /// Samples from 0 to 4095.
    pub samples: Vec<u16>,
}

/// A TurboJPEG decompressor, destroyed on drop.
struct Handle(NonNull<c_void>);

impl Handle {
    fn new() -> Result<Self, String> {
        // SAFETY: tj3Init has no preconditions; a null return means failure.
        let raw = unsafe { tj3_init(TJINIT_DECOMPRESS) };
        NonNull::new(raw)
            .map(Handle)
            .ok_or_else(|| "libjpeg-turbo could not start a decompressor".to_string())
    }

    fn get(&self, param: c_int) -> c_int {
        // SAFETY: the handle is live; an unknown parameter returns -1.
        unsafe { tj3_get(self.0.as_ptr(), param) }
    }

    /// The library's message for the last error, and whether it was only a warning.
    fn error(&self) -> (String, bool) {
        // SAFETY: the handle is live and tj3GetErrorStr returns a NUL-terminated string it owns.
        let (message, code) = unsafe {
            let text = tj3_get_error_str(self.0.as_ptr());
            let message = if text.is_null() {
                "unknown error".to_string()
            } else {
                CStr::from_ptr(text).to_string_lossy().into_owned()
            };
            (message, tj3_get_error_code(self.0.as_ptr()))
        };
        (message, code == TJERR_WARNING)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed once.
        unsafe { tj3_destroy(self.0.as_ptr()) }
    }
}

/// Decodes `jpeg` when it is a 12-bit codestream of `expected` (width, height) pixels and 1 or 3
/// components; `Ok(None)` for other precisions, left to the other decoders. The size is
/// checked before anything is allocated. Warnings (e.g. a truncated last scan) are accepted, as
/// DCMTK accepts them; errors are not.
pub(super) fn decode_12bit(
    jpeg: &[u8],
    expected: (usize, usize),
) -> Result<Option<Decoded12>, String> {
    let handle = Handle::new()?;
    // SAFETY: the pointer and length describe `jpeg`, which outlives the call.
    if unsafe { tj3_decompress_header(handle.0.as_ptr(), jpeg.as_ptr(), jpeg.len()) } != 0 {
        return Err(format!("JPEG header does not parse: {}", handle.error().0));
    }
    if handle.get(TJPARAM_PRECISION) != 12 {
        return Ok(None);
    }
    let width = usize::try_from(handle.get(TJPARAM_JPEGWIDTH)).unwrap_or(0);
    let height = usize::try_from(handle.get(TJPARAM_JPEGHEIGHT)).unwrap_or(0);
    if (width, height) != expected {
        return Err(format!(
            "the JPEG codestream is {width}x{height}, the header says {}x{}",
            expected.0, expected.1
        ));
    }
    // Grey codestreams decode to grey; anything else is converted to RGB by the library.
    let (components, format) = match handle.get(TJPARAM_COLORSPACE) {
        TJCS_GRAY => (1, TJPF_GRAY),
        _ => (3, TJPF_RGB),
    };
    let mut samples: Vec<c_short> = vec![0; width * height * components];
    // SAFETY: `samples` holds width x height pixels of `components` samples with the pitch
    // given (0 means width x components), which is what tj3Decompress12 writes.
    let status = unsafe {
        tj3_decompress12(
            handle.0.as_ptr(),
            jpeg.as_ptr(),
            jpeg.len(),
            samples.as_mut_ptr(),
            0,
            format,
        )
    };
    if status != 0 {
        let (message, warning) = handle.error();
        if !warning {
            return Err(format!("12-bit JPEG does not decode: {message}"));
        }
    }
    Ok(Some(Decoded12 {
        width,
        height,
        components,
        // 12-bit samples are 0..=4095: the cast keeps them.
        samples: samples
            .into_iter()
            .map(|s| s.clamp(0, 4095) as u16)
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    /// Code that names `turbojpeg_sys` (even a constant) makes rustc link that crate's own
    /// archive, whose un-renamed `jpeg_*` symbols then capture mozjpeg's calls: heap corruption
    /// on the first JPEG encoded (see `build.rs`). Comments may name it; code may not.
    #[test]
    fn no_code_names_the_renamed_libraries_crate() {
        fn check(dir: &std::path::Path, offenders: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    check(&path, offenders);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (n, line) in text.lines().enumerate() {
                        let code = line.split("//").next().unwrap_or_default();
                        if code.contains(&["turbojpeg", "_sys"].concat()) {
                            offenders.push(format!("{}:{}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut offenders = Vec::new();
        for dir in ["src", "tests", "benches", "examples"] {
            check(&root.join(dir), &mut offenders);
        }
        assert!(
            offenders.is_empty(),
            "the crate is named in code: {offenders:?}"
        );
    }
}
