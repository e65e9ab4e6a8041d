//! The bounded pre-walk of a file before dicom-object parses it.

use super::*;

/// Walks `bytes` with the bounded header reader and checks Pixel Data against the data, so that
/// dicom-object, which allocates whatever length is declared, only sees lengths that fit.
/// Returns how much to parse: up to the end of Pixel Data (trailing elements are not needed and
/// not trusted), or all of a Deflated file once its trailing elements check out.
pub(super) fn check_bounds(bytes: &[u8]) -> Result<Bounds, String> {
    let whole = Input {
        bytes,
        file_size: bytes.len() as u64,
    };
    let mut inflated = Vec::new();
    let (encoding, pixel, transfer_syntax, explicit_vr) = {
        let header = read_header(whole, &mut inflated).map_err(|e| e.to_string())?;
        let syntax = header.transfer_syntax.clone().unwrap_or_default();
        let pixel = header.pixel_data.ok_or("no Pixel Data element")?;
        // A dataset in the other VR mode than declared is parsed in the mode of its bytes.
        let explicit_vr = header
            .vr_mode_corrected
            .then_some(header.encoding.explicit_vr);
        (header.encoding, pixel, syntax, explicit_vr)
    };
    if transfer_syntax != "1.2.840.10008.1.2.1.99" {
        let end = check_pixel_data(whole, encoding, pixel).map_err(|e| e.to_string())?;
        let native_value = match pixel.length {
            Some(length)
                if pixel.tag == tags::PIXEL_DATA
                    && LITTLE_ENDIAN_NATIVE.contains(&transfer_syntax.as_str()) =>
            {
                Some(end - length as usize..end)
            }
            _ => None,
        };
        return Ok(Bounds {
            end,
            native_value,
            explicit_vr,
            transfer_syntax,
        });
    }
    // Deflated files locate Pixel Data in the inflated stream, which dicom-object inflates
    // whole: everything in it is checked.
    let input = Input {
        bytes: &inflated,
        file_size: inflated.len() as u64,
    };
    let end = check_pixel_data(input, encoding, pixel).map_err(|e| e.to_string())?;
    check_elements(input, encoding, end).map_err(|e| e.to_string())?;
    Ok(Bounds {
        end: bytes.len(),
        native_value: None,
        explicit_vr: None,
        transfer_syntax,
    })
}

/// What [`check_bounds`] found.
pub(super) struct Bounds {
    /// Where dicom-object may stop reading: after Pixel Data (the whole file when deflated).
    pub(super) end: usize,
    /// The Pixel Data value of native little-endian files.
    pub(super) native_value: Option<Range<usize>>,
    /// The VR mode the dataset is written in, when it is not the one its transfer syntax declares.
    pub(super) explicit_vr: Option<bool>,
    /// The transfer syntax UID the file meta declares.
    pub(super) transfer_syntax: String,
}
