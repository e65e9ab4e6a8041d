//! How long-running stages say how far they are. The core only counts; the command line draws
//! bars (`cli::progress`), library users may pass [`NoProgress`].

/// Receives the progress of one stage (files scanned, frames rendered). Called from many
/// threads at once.
pub trait Progress: Sync {
    /// `n` more items are done.
    fn advance(&self, n: u64);

    /// `bytes` of output have been written so far.
    fn written(&self, bytes: u64) {
        let _ = bytes;
    }
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _n: u64) {}
}
