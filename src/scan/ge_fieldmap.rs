//! GE's B0 fieldmap series (pulse sequence `B0map` / `b0map`): its first volume (images
//! numbered up to the locations in acquisition) is the field map in Hz, its second the
//! magnitude. dcm2niix writes them apart, the Hz map as the real image (`_fieldmaphz`, its
//! ImageType ending in FIELDMAPHZ).

/// Whether a GE B0 fieldmap image is the Hz map (`Some(true)`) or the magnitude
/// (`Some(false)`); `None` when the image is not of such a series.
pub fn is_hz_map(
    internal_sequence: Option<&str>,
    pulse_sequence: Option<&str>,
    locations: Option<i64>,
    images_in_acquisition: Option<i64>,
    instance: Option<i64>,
) -> Option<bool> {
    let fieldmap = internal_sequence.is_some_and(|t| t == "B0map")
        || pulse_sequence.is_some_and(|t| t.contains("b0map"));
    let (locations, images, instance) = (locations?, images_in_acquisition?, instance?);
    if !fieldmap || locations <= 0 || images == locations {
        return None;
    }
    Some(instance <= locations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_volume_of_a_b0map_series_is_the_hz_map() {
        let part = |instance| is_hz_map(Some("B0map"), None, Some(40), Some(80), Some(instance));
        assert_eq!(
            (part(1), part(40), part(41)),
            (Some(true), Some(true), Some(false))
        );
        let by_name = is_hz_map(None, Some("fgre_b0map"), Some(40), Some(80), Some(3));
        assert_eq!(by_name, Some(true));
        assert_eq!(
            is_hz_map(None, Some("epi"), Some(40), Some(80), Some(3)),
            None
        );
        assert_eq!(
            is_hz_map(Some("B0map"), None, Some(40), Some(40), Some(3)),
            None
        );
    }
}
