//! The header reader on arbitrary bytes: whole files and prefixes of them (as object-store range
//! reads give), then the scan's classification of what it read, and the whole header read as a
//! tree (the NIfTI writer's), every value read as text and numbers.
#![no_main]

use dicomprep::scan::reader::{Dataset, HeaderTree, Input, MAX_INFLATED, ReadError, read_header};
use dicomprep::scan::{ScanOutcome, classify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut inflate = Vec::new();
    let whole = Input {
        bytes: data,
        file_size: data.len() as u64,
    };
    if let Ok(raw) = read_header(whole, &mut inflate)
        && let ScanOutcome::Instance(header) = classify(&raw, "fuzz", data.len() as u64)
    {
        // Later stages allocate per frame: an instance's frames must exist in its bytes.
        let limit = (data.len() as u64).max(MAX_INFLATED);
        assert!(u64::from(header.number_of_frames) <= limit);
    }
    if let Ok(tree) = HeaderTree::parse(bytes::Bytes::copy_from_slice(data)) {
        read_all(tree.root());
        let _ = tree.pixel_value();
    }
    // A prefix of the file: the reader must ask for more within the file or fail, never panic.
    let cut = data.len() / 2;
    let prefix = Input {
        bytes: &data[..cut],
        file_size: data.len() as u64,
    };
    if let Err(ReadError::NeedMore(n)) = read_header(prefix, &mut inflate) {
        assert!(
            n > cut as u64 && n <= data.len() as u64,
            "NeedMore({n}) for {cut} of {}",
            data.len()
        );
    }
});

/// Every value of `ds` and of its items, as text and as numbers.
fn read_all(ds: Dataset<'_>) {
    for attribute in ds.attributes() {
        let _ = attribute.text();
        let _ = attribute.numbers();
        for item in attribute.items() {
            read_all(item);
        }
    }
}
