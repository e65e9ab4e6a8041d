//! Thumbnail JPEGs: the image [`make_thumbnail`] shrinks, encoded as `mogrify -format jpg
//! -quality 50` would (see [`crate::render::thumbnail`] for the resampling).

use crate::encode::jpeg::{Huffman, encode_jpeg};
use crate::encode::png::EncodeError;
use crate::render::image::Image8;
use crate::render::thumbnail::make_thumbnail;

/// JPEG quality of thumbnails.
pub const QUALITY: u8 = 50;

/// The thumbnail JPEG of `image`: [`make_thumbnail`] encoded at quality [`QUALITY`].
pub fn encode_thumbnail(image: &Image8) -> Result<Vec<u8>, EncodeError> {
    encode_jpeg(&make_thumbnail(image), QUALITY, Huffman::Optimized)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::image::Channels;

    #[test]
    fn thumbnail_jpeg_has_the_thumbnail_size() {
        let jpeg = encode_thumbnail(&Image8::filled(640, 480, Channels::Rgb, 200)).unwrap();
        let d = mozjpeg::Decompress::new_mem(&jpeg).unwrap();
        assert_eq!(d.size(), (267, 200));
        assert_eq!(d.components().len(), 3);
    }
}
