//! The NIfTI-1 header (348 bytes, then the 4-byte extension flag): field layout and encoding.
//! Pure code; see <https://nifti.nimh.nih.gov/pub/dist/src/niftilib/nifti1.h>.

use super::affine::Affine;

/// Bytes before the voxels in a single-file (`n+1`) NIfTI: the header and the extension flag.
pub const VOX_OFFSET: usize = 352;

/// NIfTI data type codes of the voxel types written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Uint8,
    Int8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Float32,
    /// Interleaved 8-bit RGB.
    Rgb24,
}

impl DataType {
    /// The `datatype` code.
    pub fn code(self) -> i16 {
        match self {
            DataType::Uint8 => 2,
            DataType::Int16 => 4,
            DataType::Int32 => 8,
            DataType::Float32 => 16,
            DataType::Rgb24 => 128,
            DataType::Int8 => 256,
            DataType::Uint16 => 512,
            DataType::Uint32 => 768,
        }
    }

    /// Bits per voxel.
    pub fn bitpix(self) -> i16 {
        match self {
            DataType::Uint8 | DataType::Int8 => 8,
            DataType::Int16 | DataType::Uint16 => 16,
            DataType::Rgb24 => 24,
            DataType::Int32 | DataType::Uint32 | DataType::Float32 => 32,
        }
    }

    /// Bytes per voxel.
    pub fn bytes(self) -> usize {
        self.bitpix() as usize / 8
    }
}

/// The fields of a header that vary between files (the rest are constants or derived).
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Voxels along x, y, z and t (t = 1 for a 3D file).
    pub dims: [usize; 4],
    pub datatype: DataType,
    /// Voxel size (mm) and, for 4D files, the repetition time (s).
    pub pixdim: [f64; 4],
    pub scl_slope: f64,
    pub scl_inter: f64,
    /// Voxel (i, j, k) to RAS+ millimetres; written as sform and, as a quaternion, qform.
    pub affine: Affine,
    /// Whether the affine is a scanner-based one (code 1) or unknown (0).
    pub scanner_anat: bool,
    /// `dim_info`: frequency, phase and slice dimensions (0 when unknown).
    pub dim_info: u8,
    /// NIFTI_SLICE_* code of the acquisition order (0 when unknown).
    pub slice_code: u8,
    /// Free text, at most 79 bytes are kept.
    pub descrip: String,
}

/// NIFTI_UNITS_MM | NIFTI_UNITS_SEC.
const MM_AND_SECONDS: u8 = 2 | 8;

impl Header {
    /// The 352 bytes that precede the voxels: header, then an empty extension flag.
    pub fn encode(&self) -> [u8; VOX_OFFSET] {
        let mut out = [0u8; VOX_OFFSET];
        let mut put = |at: usize, bytes: &[u8]| out[at..at + bytes.len()].copy_from_slice(bytes);
        put(0, &348i32.to_le_bytes());
        put(38, b"r");
        put(39, &[self.dim_info]);
        let is_4d = self.dims[3] > 1;
        let mut dim = [0i16; 8];
        dim[0] = if is_4d { 4 } else { 3 };
        for (d, &n) in dim[1..5].iter_mut().zip(&self.dims) {
            *d = n.min(i16::MAX as usize) as i16;
        }
        for d in &mut dim[5..] {
            *d = 1;
        }
        for (i, d) in dim.iter().enumerate() {
            put(40 + 2 * i, &d.to_le_bytes());
        }
        put(70, &self.datatype.code().to_le_bytes());
        put(72, &self.datatype.bitpix().to_le_bytes());
        let quaternion = self.affine.quaternion();
        let mut pixdim = [0f32; 8];
        pixdim[0] = quaternion.qfac as f32;
        for (p, &v) in pixdim[1..5].iter_mut().zip(&self.pixdim) {
            *p = v as f32;
        }
        for (i, p) in pixdim.iter().enumerate() {
            put(76 + 4 * i, &p.to_le_bytes());
        }
        put(108, &(VOX_OFFSET as f32).to_le_bytes());
        put(112, &(self.scl_slope as f32).to_le_bytes());
        put(116, &(self.scl_inter as f32).to_le_bytes());
        put(122, &[self.slice_code]);
        put(123, &[MM_AND_SECONDS]);
        let descrip = self.descrip.as_bytes();
        put(148, &descrip[..descrip.len().min(79)]);
        let code = i16::from(self.scanner_anat);
        put(252, &code.to_le_bytes());
        put(254, &code.to_le_bytes());
        let q = [
            quaternion.b,
            quaternion.c,
            quaternion.d,
            quaternion.offset[0],
            quaternion.offset[1],
            quaternion.offset[2],
        ];
        for (i, v) in q.iter().enumerate() {
            put(256 + 4 * i, &(*v as f32).to_le_bytes());
        }
        for (row, values) in self.affine.rows().iter().enumerate() {
            for (col, v) in values.iter().enumerate() {
                put(280 + 16 * row + 4 * col, &(*v as f32).to_le_bytes());
            }
        }
        put(344, b"n+1\0");
        out
    }
}

#[cfg(test)]
impl Header {
    /// A header of a 4D int16 volume, for tests.
    pub(crate) fn example() -> Header {
        Header {
            dims: [64, 64, 36, 3],
            datatype: DataType::Int16,
            pixdim: [3.0, 3.0, 3.6, 2.0],
            scl_slope: 1.0,
            scl_inter: -1024.0,
            affine: Affine::from_rows([
                [-3.0, 0.0, 0.0, 90.0],
                [0.0, 3.0, 0.0, -100.0],
                [0.0, 0.0, 3.6, -20.0],
            ]),
            scanner_anat: true,
            dim_info: 57,
            slice_code: 0,
            descrip: "TE=30;Time=1.000".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_at(bytes: &[u8], at: usize) -> f32 {
        f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn header_fields_sit_at_their_offsets() {
        let header = Header::example();
        let bytes = header.encode();
        assert_eq!(i32::from_le_bytes(bytes[0..4].try_into().unwrap()), 348);
        assert_eq!(&bytes[344..348], b"n+1\0");
        assert_eq!(i16::from_le_bytes([bytes[40], bytes[41]]), 4);
        assert_eq!(i16::from_le_bytes([bytes[46], bytes[47]]), 36);
        assert_eq!(i16::from_le_bytes([bytes[70], bytes[71]]), 4);
        assert_eq!(f32_at(&bytes, 108), 352.0);
        assert_eq!(f32_at(&bytes, 116), -1024.0);
        assert_eq!(f32_at(&bytes, 280), -3.0);
        assert_eq!(f32_at(&bytes, 292), 90.0);
        // qfac: the affine's determinant is negative.
        assert_eq!(f32_at(&bytes, 76), -1.0);
        assert_eq!(&bytes[148..164], b"TE=30;Time=1.000");
    }
}
